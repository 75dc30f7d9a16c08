"""The full sync's list walk: the next page's cursor is read from each body's tail so the next
request leaves before the page is parsed; a tail that cannot be trusted falls back to parsing
the page first; a page that is not JSON behind a good tail is refetched; the bookmark keeps
what `CursorState.advance` would keep from every record read."""

from __future__ import annotations

import httpx
import orjson
import pyarrow as pa
import pytest

from core.errors import MalformedResponseError
from sources.common.cursors import CursorState
from sources.hubspot.arrow import ListPageDecoder, peek_after, recent_lastmod_ms
from sources.hubspot.client import DeferredPage, HubSpotClient, lastmod_ms
from sources.hubspot.entities import ENTITIES

CONTACTS = ENTITIES["contacts"]
NAMES = ["email", "lastmodifieddate"]


class Tokens:
    def access_token(self) -> str:
        return "token"

    def force_refresh(self) -> str:
        return "token"


def record(i: int, **props) -> dict:
    return {
        "id": str(i),
        "properties": {
            "email": f"p{i}@example.com",
            "lastmodifieddate": f"2024-09-11T13:27:{i % 60:02d}.{i % 1000:03d}Z",
            **props,
        },
        "createdAt": "2024-01-02T03:04:05.678Z",
        "updatedAt": "2024-09-11T13:27:39.000Z",
        "archived": False,
        "associations": {"companies": {"results": [{"id": str(9000 + i), "type": "primary"}]}},
    }


def body(records: list[dict], after: str | None) -> bytes:
    out: dict = {"results": records}
    if after:
        out["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
    return orjson.dumps(out)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (body([record(1)], "200"), (True, "200")),
        (body([record(1)], None), (False, None)),  # the last page: parse it to know
        # paging first: the tail is the whole rest of the object, still one top-level member
        (orjson.dumps({"paging": {"next": {"after": "7"}}, "results": [record(1)]}), (False, None)),
        (b'{"results": [], "paging" : {"next" : {"after" : 12}}}', (True, "12")),
        # a record's own "paging" key (last page) must not read as the top-level one
        (body([{**record(1), "paging": {"next": {"after": "x"}}}], None), (False, None)),
        (body([record(1, paging="paging")], None), (False, None)),
        (body([record(1)], "200")[:-5], (False, None)),  # truncated
    ],
)
def test_the_cursor_is_read_from_the_tail_only_when_it_is_the_top_level_member(raw, expected):
    assert peek_after(raw) == expected


def test_a_record_key_named_paging_before_the_real_cursor_does_not_fool_the_tail():
    raw = body([{**record(1), "paging": {"next": {"after": "x"}}}], "200")
    assert peek_after(raw) == (True, "200")


def walk(pages: dict[str | None, list[bytes]]) -> tuple[list, HubSpotClient, list[str | None]]:
    """Walk the contacts list through a transport serving `pages[after]` in turn."""
    asked: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("after")
        asked.append(after)
        answers = pages[after]
        return httpx.Response(200, content=answers.pop(0) if len(answers) > 1 else answers[0])

    client = HubSpotClient(
        "https://api.hubapi.com",
        Tokens(),
        transport=httpx.MockTransport(handler),
        sleep=lambda _s: None,
    )
    decoder = ListPageDecoder(NAMES, ["companies"])
    items = list(client.iter_list_pages(CONTACTS, NAMES, decoder=decoder, deferred=True))
    return [item.page() for item in items], client, asked


def test_deferred_pages_give_the_same_records_and_cursors_as_parsing_each_page_first():
    first = body([record(i) for i in range(1, 4)], "4")
    last = body([record(i) for i in range(4, 6)], None)
    pages, client, asked = walk({None: [first], "4": [last]})
    decoder = ListPageDecoder(NAMES, ["companies"])
    assert [p.records for p in pages] == [decoder(first).records, decoder(last).records]
    assert [p.after for p in pages] == ["4", None]
    assert asked == [None, "4"] and client.stats.requests == 2


def test_a_page_corrupt_before_a_good_tail_is_refetched_when_parsed():
    good = body([record(1), record(2)], "3")
    corrupt = good.replace(b'"email"', b'"email', 1)  # broken JSON, intact paging tail
    assert peek_after(corrupt) == (True, "3")
    last = body([record(3)], None)
    pages, client, asked = walk({None: [corrupt, good], "3": [last]})
    assert [len(p) for p in pages] == [2, 1]
    assert client.stats.requests == 3 and client.stats.by_kind == {"list": 3}
    assert asked == [None, "3", None]


def test_a_page_whose_parsed_cursor_differs_from_the_one_the_walk_used_is_refused():
    decoder = ListPageDecoder(NAMES, ["companies"])
    item = DeferredPage(
        body([record(1)], "2"),
        "99",  # the cursor the walk went on with
        None,
        decoder,
        refetch=lambda: None,
        invalid=lambda: AssertionError("not expected"),
    )
    with pytest.raises(MalformedResponseError, match="cursor"):
        item.page()


def test_a_deferred_body_without_results_is_the_malformed_page_error():
    pages = {
        None: [b'{"status":"error","paging":{"next":{"after":"2"}}}'],
        "2": [body([record(2)], None)],
    }
    with pytest.raises(MalformedResponseError, match="no results list"):
        walk(pages)


def test_recent_times_keep_what_the_bookmark_keeps_of_every_record():
    decoder = ListPageDecoder(NAMES, ["companies"])
    records = [record(i) for i in range(1, 300)]
    records.append({**record(400), "properties": {"lastmodifieddate": ""}})  # falls back
    array = pa.concat_arrays(
        [decoder(body(records[:150], "x")).records, decoder(body(records[150:], None)).records]
    )
    every = {r["id"]: lastmod_ms(r, "lastmodifieddate") for r in records}
    started = max(every.values()) + 1_000
    for lookback in (0, 5_000, 30_000, 10**12):
        floor = started - lookback
        kept = recent_lastmod_ms(array, "lastmodifieddate", floor)
        assert set(kept) >= {i for i, ms in every.items() if ms >= floor}
        assert CursorState().advance(kept, started, lookback) == CursorState().advance(
            every, started, lookback
        )


def fetched_items(pages: dict[str | None, list[bytes]]) -> tuple[list, HubSpotClient]:
    def handler(request: httpx.Request) -> httpx.Response:
        answers = pages[request.url.params.get("after")]
        return httpx.Response(200, content=answers.pop(0) if len(answers) > 1 else answers[0])

    client = HubSpotClient(
        "https://api.hubapi.com", Tokens(), transport=httpx.MockTransport(handler)
    )
    decoder = ListPageDecoder(NAMES, ["companies"])
    return list(client.iter_list_pages(CONTACTS, NAMES, decoder=decoder, deferred=True)), client


def chain(n: int, corrupt_at: int | None = None) -> tuple[dict, list[bytes]]:
    """n pages of 3 records each; `corrupt_at` is broken before its tail the first time."""
    bodies = [
        body([record(3 * i + k) for k in range(1, 4)], str(i + 1) if i + 1 < n else None)
        for i in range(n)
    ]
    pages: dict = {(str(i) if i else None): [b] for i, b in enumerate(bodies)}
    if corrupt_at is not None:
        good = bodies[corrupt_at]
        pages[str(corrupt_at) if corrupt_at else None] = [
            good.replace(b'"email"', b'"email', 1),
            good,
        ]
    return pages, bodies


def test_pages_parsed_in_groups_equal_pages_parsed_one_by_one():
    pages, bodies = chain(23)
    items, _client = fetched_items(pages)
    decoder = ListPageDecoder(NAMES, ["companies"])
    parsed = list(DeferredPage.parsed(items, group=10))
    assert [p.records for p in parsed] == [decoder(b).records for b in bodies]
    assert [p.after for p in parsed] == [decoder(b).after for b in bodies]


def test_a_group_with_a_corrupt_page_falls_back_to_one_by_one_and_refetches_it():
    pages, bodies = chain(12, corrupt_at=4)
    items, client = fetched_items(pages)
    parsed = list(DeferredPage.parsed(items, group=10))
    decoder = ListPageDecoder(NAMES, ["companies"])
    assert [p.records for p in parsed] == [decoder(b).records for b in bodies]
    assert client.stats.requests == 13
