"""The dedup write's balance check (issue 9, item 17): a write in which a record loses its
crosswalk row (or a cluster its golden row) raises, says so, and leaves every table as it was.

The imbalance is forced by deleting one record's cluster membership just before the write, the
way a bug in clustering or id assignment would drop it; without the check the run would commit
golden and crosswalk tables that silently miss that record."""

from __future__ import annotations

import pytest

from mappings.dedup import DedupError
from mappings.dedup import engine as dedup_engine
from tests.unit.test_dedup_engine import Contacts, contacts  # noqa: F401 - fixture

TABLES = ("crm.contacts_golden", "crm.contacts_crosswalk", "crm.contacts_golden_merges")


def snapshot(store: Contacts) -> dict[str, list[tuple]]:
    return {t: sorted(store.query(f"SELECT * FROM {t}"), key=repr) for t in TABLES}


def test_an_unbalanced_write_raises_and_writes_nothing(contacts, monkeypatch):  # noqa: F811
    contacts.add("hubspot", "h1", email="ada@example.com", first_name="Ada")
    contacts.add("salesforce", "s1", email="ADA@example.com ", first_name="Ada")
    contacts.add("hubspot", "h2", email="bob@example.com", first_name="Bob")
    contacts.run()
    before = snapshot(contacts)
    assert len(before["crm.contacts_crosswalk"]) == 3

    contacts.add("hubspot", "h3", email="cy@example.com", first_name="Cy")
    original = dedup_engine._Run._write

    def drop_one_member(self, fields, records, clusters):
        self.s.execute("DELETE FROM er_members WHERE rid = (SELECT MIN(rid) FROM er_members)")
        return original(self, fields, records, clusters)

    monkeypatch.setattr(dedup_engine._Run, "_write", drop_one_member)
    with pytest.raises(DedupError) as caught:
        contacts.run()

    message = str(caught.value)
    assert "4 records gave 3 crosswalk rows" in message
    assert "nothing was written" in message
    assert snapshot(contacts) == before  # golden, crosswalk and id events untouched
