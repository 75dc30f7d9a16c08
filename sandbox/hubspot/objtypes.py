"""The CRM object types the sandbox serves and the names/ids HubSpot uses for them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ObjectType:
    name: str  # plural API name, e.g. "contacts"
    type_id: str  # objectTypeId, e.g. "0-1"
    singular: str  # e.g. "contact"
    id_base: int  # id of base record 0
    code: int  # mixes into the seed
    lastmod_prop: str
    default_properties: tuple[str, ...]
    searchable: tuple[str, ...]  # properties the free-text `query` looks at


CONTACTS = ObjectType(
    "contacts",
    "0-1",
    "contact",
    1,
    1,
    "lastmodifieddate",
    ("firstname", "lastname", "email", "createdate", "lastmodifieddate", "hs_object_id"),
    ("firstname", "lastname", "email", "phone", "company", "website"),
)
COMPANIES = ObjectType(
    "companies",
    "0-2",
    "company",
    1_000_000_001,
    2,
    "hs_lastmodifieddate",
    ("name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"),
    ("name", "domain", "phone", "city"),
)
DEALS = ObjectType(
    "deals",
    "0-3",
    "deal",
    2_000_000_001,
    3,
    "hs_lastmodifieddate",
    (
        "dealname",
        "amount",
        "dealstage",
        "pipeline",
        "closedate",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
    ),
    ("dealname",),
)

ALL_TYPES: tuple[ObjectType, ...] = (CONTACTS, COMPANIES, DEALS)
_BY_KEY: dict[str, ObjectType] = {}
for _t in ALL_TYPES:
    for _k in (_t.name, _t.type_id, _t.singular):
        _BY_KEY[_k] = _t


def resolve(key: str) -> ObjectType | None:
    """`contacts`, `contact`, `0-1` (any case) → the object type, else None."""
    return _BY_KEY.get(key.lower())
