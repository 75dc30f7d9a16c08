"""Boundary-safe bookmarks: never past the sync start, equal timestamps never lost or reloaded."""

from sources.common.cursors import CursorState, filters_key


def test_cursor_never_moves_past_the_sync_start():
    state = CursorState().advance({"1": 5_000, "2": 9_000}, started_ms=7_000, lookback_ms=0)
    assert state.cursor_ms == 7_000


def test_records_newer_than_start_are_remembered_so_a_rerun_skips_them():
    state = CursorState().advance({"1": 5_000, "2": 9_000}, started_ms=7_000, lookback_ms=0)
    assert state.is_seen("2", 9_000)
    assert not state.is_seen("2", 9_001)


def test_ids_at_the_boundary_millisecond_are_kept_for_deduplication():
    state = CursorState().advance({"1": 10, "2": 10, "3": 8}, started_ms=100, lookback_ms=0)
    assert state.cursor_ms == 10
    assert state.is_seen("1", 10) and state.is_seen("2", 10)
    assert not state.is_seen("3", 8)  # below the cursor: GTE will not re-read it


def test_lookback_keeps_every_version_inside_the_window():
    state = CursorState().advance({"1": 10, "2": 95, "3": 100}, started_ms=1_000, lookback_ms=10)
    assert state.cursor_ms == 100
    assert set(state.boundary) == {"2", "3"}


def test_nothing_seen_keeps_the_bookmark_identical():
    before = CursorState(500, {"7": 500})
    after = before.advance({}, started_ms=10_000, lookback_ms=60_000)
    assert after.dump() == before.dump()


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
