"""Boundary-safe bookmarks: never past the sync start, equal timestamps never lost or reloaded,
the re-read window anchored at the previous sync's start."""

from sources.common.cursors import CursorState, filters_key


def test_cursor_never_moves_past_the_sync_start():
    state = CursorState().advance({"1": 5_000, "2": 9_000}, started_ms=7_000, lookback_ms=0)
    assert state.cursor_ms == 7_000


def test_records_newer_than_start_are_remembered_so_a_rerun_skips_them():
    state = CursorState().advance({"1": 5_000, "2": 9_000}, started_ms=7_000, lookback_ms=0)
    assert state.is_seen("2", 9_000)
    assert not state.is_seen("2", 9_001)


def test_ids_at_the_boundary_millisecond_are_kept_for_deduplication():
    state = CursorState().advance({"1": 10, "2": 10, "3": 8}, started_ms=10, lookback_ms=0)
    assert state.cursor_ms == 10 and state.since_ms(0) == 10
    assert state.is_seen("1", 10) and state.is_seen("2", 10)
    assert not state.is_seen("3", 8)  # below the next window: GTE will not re-read it


def test_lookback_keeps_every_version_inside_the_window():
    state = CursorState().advance({"1": 10, "2": 95, "3": 100}, started_ms=105, lookback_ms=10)
    assert state.cursor_ms == 100
    assert state.since_ms(10) == 95
    assert set(state.boundary) == {"2", "3"}


def test_the_window_is_anchored_at_the_sync_start_not_at_the_newest_change():
    # Changes long before the sync started cannot have been invisible to it: the next sync
    # neither re-reads them nor keeps their ids.
    state = CursorState().advance({"1": 10, "2": 95}, started_ms=100_000, lookback_ms=60_000)
    assert state.cursor_ms == 95
    assert state.since_ms(60_000) == 40_000
    assert state.boundary == {}


def test_a_state_without_anchor_falls_back_to_the_cursor():
    assert CursorState(500, {}).since_ms(100) == 400


def test_nothing_seen_keeps_the_bookmark_identical():
    before = CursorState(500, {"7": 500}, anchor_ms=600)
    after = before.advance({}, started_ms=10_000, lookback_ms=60_000)
    assert after.same_apart_from_anchor(before)  # the source then keeps `before` as it is
    assert after.anchor_ms == 10_000


def test_the_anchor_moves_with_the_state_once_the_window_drops_something():
    before = CursorState(500, {"7": 500}, anchor_ms=600)
    after = before.advance({}, started_ms=100_000, lookback_ms=60_000)
    assert not after.same_apart_from_anchor(before)
    assert after.boundary == {} and after.since_ms(60_000) == 40_000


def test_cursor_never_moves_backwards():
    state = CursorState(500, {}).advance({"1": 400}, started_ms=10_000, lookback_ms=0)
    assert state.cursor_ms == 500


def test_a_newer_version_of_a_boundary_record_is_not_skipped():
    state = CursorState(500, {"7": 500})
    assert not state.is_seen("7", 501)


def test_filtered_syncs_keep_their_own_bookmark():
    f = [{"propertyName": "lifecyclestage", "operator": "EQ", "value": "customer"}]
    assert filters_key(None) == "all"
    assert filters_key(f) != "all"
    assert filters_key(f) == filters_key(list(f))
