"""List pages decoded straight into Arrow give exactly the rows of the Python road
(`records_to_table`, `inline_association_rows`, `lastmod_ms`), whatever the page holds."""

from __future__ import annotations

import orjson
import pytest

from sources.hubspot.arrow import (
    ListPageDecoder,
    association_table,
    inline_association_rows,
    lastmod_ms_array,
    linkless_ids,
    list_association_table,
    list_pages_table,
    records_to_table,
)
from sources.hubspot.client import lastmod_ms
from sources.hubspot.entities import CONTACT_COMPANY

NAMES = ["email", "lastmodifieddate", "phone"]


def record(i: int, **extra) -> dict:
    return {
        "id": str(i),
        "properties": {
            "email": f"p{i}@example.com",
            "lastmodifieddate": f"2024-09-11T13:27:39.{i % 1000:03d}Z",
            "phone": None,
            "unrequested": "x",
        },
        "createdAt": "2024-01-02T03:04:05.678Z",
        "updatedAt": f"2024-09-11T13:27:39.{i % 1000:03d}Z",
        "archived": False,
        "associations": {
            "companies": {
                "results": [
                    {"id": str(1000 + i), "type": "contact_to_company"},
                    {"id": str(1000 + i), "type": "contact_to_company_unlabeled"},
                ]
            }
        },
        **extra,
    }


def page_bytes(records: list[dict], after: str | None = "NEXT") -> bytes:
    body: dict = {"results": records}
    if after:
        body["paging"] = {"next": {"after": after, "link": "?after=x"}}
    return orjson.dumps(body)


def sorted_rows(table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: tuple(str(v) for v in r.values()))


def assert_same_as_python_road(raw: bytes) -> None:
    decoder = ListPageDecoder(NAMES, ["companies"])
    page = decoder(raw)
    records = orjson.loads(raw)["results"]
    old = records_to_table(records, NAMES, extracted_at_ms=7)
    new = list_pages_table([page.records], NAMES, extracted_at_ms=7)
    assert new.schema == old.schema
    assert new.to_pylist() == old.to_pylist()
    old_links = association_table(
        inline_association_rows(records, CONTACT_COMPANY), CONTACT_COMPANY
    )
    new_links = list_association_table([page.records], CONTACT_COMPANY)
    assert new_links.schema == old_links.schema
    assert sorted_rows(new_links) == sorted_rows(old_links)
    assert lastmod_ms_array(page.records, "lastmodifieddate").to_pylist() == [
        lastmod_ms(r, "lastmodifieddate") for r in records
    ]


def test_a_typical_page_gives_the_same_rows_links_and_times_and_its_cursor():
    raw = page_bytes([record(i) for i in range(1, 120)])
    assert ListPageDecoder(NAMES, ["companies"])(raw).after == "NEXT"
    assert_same_as_python_road(raw)


def test_missing_fields_archived_records_empty_types_and_odd_times():
    records = [
        record(1, archived=True, archivedAt="2024-10-01T00:00:00Z"),
        {"id": "2"},  # nothing but an id
        record(3, associations={}),
        record(4, associations={"companies": {"results": [{"id": "9", "type": ""}]}}),
        {**record(5), "properties": {"lastmodifieddate": "", "email": "e"}},  # falls back
        {**record(6), "properties": {"lastmodifieddate": "1725000000123"}},  # epoch-ms string
        {**record(7), "updatedAt": "2024-09-11T13:27:39.001+00:00"},
    ]
    assert_same_as_python_road(page_bytes(records, after=None))


def test_a_value_the_reader_cannot_type_takes_the_python_road_with_the_same_coercion():
    raw = page_bytes([{**record(1), "properties": {"email": 12.5, "phone": True}}])
    page = ListPageDecoder(NAMES, ["companies"])(raw)
    row = list_pages_table([page.records], NAMES, extracted_at_ms=0).to_pylist()[0]
    assert row["properties__email"] == "12.5" and row["properties__phone"] == "True"
    assert list_association_table([page.records], CONTACT_COMPANY).num_rows == 1


def test_pretty_printed_and_last_pages_decode():
    raw = orjson.dumps({"results": [record(1)]}, option=orjson.OPT_INDENT_2)
    page = ListPageDecoder(NAMES, ["companies"])(raw)
    assert len(page) == 1 and page.after is None


def test_a_body_that_is_not_json_raises_for_a_refetch_and_one_without_results_is_none():
    decoder = ListPageDecoder(NAMES, ["companies"])
    with pytest.raises(orjson.JSONDecodeError):
        decoder(page_bytes([record(1)])[:-40])
    assert decoder(b'{"status": "error"}') is None
    assert decoder(b'{"results": null}') is None


def test_records_without_links_are_named_for_their_tombstones():
    records = [record(1), record(2, associations={}), record(3)]
    records[2]["associations"] = {"companies": {"results": []}}
    page = ListPageDecoder(NAMES, ["companies"])(page_bytes(records))
    assert linkless_ids(page.records, CONTACT_COMPANY) == ["2", "3"]
