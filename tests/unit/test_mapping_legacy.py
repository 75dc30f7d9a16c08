"""The seed's in-memory API: FieldMapping + transform_data, one output row per record."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from core.errors import ValidationError
from mappings import FieldMapping, mapping_function, transform_data
from mappings.functions import unregister

RECORDS = [
    {
        "id": "101",
        "properties": {
            "email": " Ada@Example.COM ",
            "phone": "(212) 736-5000",
            "firstname": "ada",
            "lastname": "Lovelace",
            "amount": "1234.567",
            "createdate": "2024-01-15T10:00:00+02:00",
            "website": "https://www.analytical.engine/about",
            "tags": "math; poetry;",
        },
    },
    {"id": "102", "properties": {"email": "not-an-email", "phone": None, "amount": "n/a"}},
]


def test_built_in_transformations_and_types_apply_per_record():
    rows = transform_data(
        RECORDS,
        [
            FieldMapping("properties.email", "email", "email_normalize"),
            FieldMapping("properties.phone", "phone", "phone_normalize"),
            FieldMapping("properties.firstname", "first_name", "upper"),
            FieldMapping("properties.lastname", "last_name"),
            FieldMapping(
                None, "full_name", "template", {"template": "{{ first_name }} {{ last_name }}"}
            ),
            FieldMapping(
                "properties.amount", "amount", "direct", {"precision": 12, "scale": 2}, "decimal"
            ),
            FieldMapping("properties.createdate", "created_at", data_type="datetime"),
            FieldMapping("properties.createdate", "created_on", data_type="date"),
            FieldMapping("properties.website", "domain", "domain"),
            FieldMapping("properties.tags", "tags", "split", {"separator": ";"}, "list"),
            FieldMapping("id", "source_id", data_type="int"),
            FieldMapping(None, "source", "value", {"value": "hubspot"}),
        ],
    )
    assert rows[0] == {
        "email": "ada@example.com",
        "phone": "+12127365000",
        "first_name": "ADA",
        "last_name": "Lovelace",
        "full_name": "ADA Lovelace",
        "amount": Decimal("1234.57"),
        "created_at": datetime(2024, 1, 15, 8, tzinfo=UTC),
        "created_on": date(2024, 1, 15),
        "domain": "analytical.engine",
        "tags": ["math", "poetry"],
        "source_id": 101,
        "source": "hubspot",
    }
    assert rows[1]["email"] is None and rows[1]["amount"] is None and rows[1]["full_name"] is None
    assert len(rows) == len(RECORDS)


def test_conversion_failures_can_fall_back_to_a_default():
    rows = transform_data(
        RECORDS,
        [
            FieldMapping(
                "properties.amount",
                "amount",
                "direct",
                {"on_error": "default", "default": 0},
                "float",
            )
        ],
    )
    assert [r["amount"] for r in rows] == [1234.567, 0.0]


def test_custom_transformations_call_registered_functions():
    @mapping_function("test_shout", vectorized=False)
    def shout(value, suffix="!"):
        """Upper case with a suffix."""
        return value.upper() + suffix

    try:
        rows = transform_data(
            RECORDS,
            [
                FieldMapping(
                    "properties.email", "loud", "custom", {"function": "test_shout", "suffix": "?"}
                )
            ],
        )
    finally:
        unregister("test_shout")
    assert rows[0]["loud"] == " ADA@EXAMPLE.COM ?"


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (FieldMapping("properties.email", "email", "reverse"), "unknown function 'reverse'"),
        (FieldMapping("properties.email", "email", "direct", None, "money"), "Input should be"),
        (
            FieldMapping("properties.email", "email", "direct", {"on_error": "reject"}),
            "one row per record",
        ),
        (FieldMapping(None, "x", "template", {"template": "{{ nope }}"}), "unknown field 'nope'"),
    ],
)
def test_bad_field_mappings_are_clear_errors(mapping, message):
    with pytest.raises(ValidationError, match=message):
        transform_data(RECORDS, [mapping])
