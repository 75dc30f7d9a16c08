"""Records to Arrow: typed ids and timestamps, string properties, one row per association pair."""

from sources.hubspot.arrow import inline_association_rows, records_to_table
from sources.hubspot.entities import CONTACT_COMPANY


def test_a_primary_link_listed_twice_becomes_one_row_with_both_type_names():
    record = {
        "id": "7",
        "associations": {
            "companies": {
                "results": [
                    {"id": "42", "type": "contact_to_company"},
                    {"id": "42", "type": "contact_to_company_unlabeled"},
                    {"id": "43", "type": "contact_to_company_unlabeled"},
                ]
            }
        },
    }

    rows = inline_association_rows([record], CONTACT_COMPANY)

    assert rows == [
        {
            "contact_id": "7",
            "company_id": "42",
            "association_type": "contact_to_company;contact_to_company_unlabeled",
        },
        {"contact_id": "7", "company_id": "43", "association_type": "contact_to_company_unlabeled"},
    ]


def test_properties_become_string_columns_and_missing_ones_are_null():
    table = records_to_table(
        [
            {
                "id": "1",
                "createdAt": "2024-09-11T13:27:39.356Z",
                "updatedAt": "2024-09-12T00:00:00Z",
                "archived": False,
                "properties": {"email": "a@example.com", "unrequested": "x"},
            },
            {"id": "2", "archived": True, "archivedAt": "2024-10-01T00:00:00.000Z"},
        ],
        ["email", "phone"],
        extracted_at_ms=0,
    )

    rows = table.to_pylist()
    assert table.column_names[:5] == ["id", "created_at", "updated_at", "archived", "archived_at"]
    assert rows[0]["properties__email"] == "a@example.com"
    assert rows[0]["properties__phone"] is None
    assert "properties__unrequested" not in table.column_names
    assert rows[0]["created_at"].microsecond == 356000
    assert rows[1]["archived"] is True and rows[1]["archived_at"].month == 10


def test_a_non_string_property_value_is_kept_as_its_string_form():
    table = records_to_table(
        [{"id": "1", "properties": {"amount": 12.5, "flag": True}}],
        ["amount", "flag"],
        extracted_at_ms=0,
    )
    assert table.to_pylist()[0]["properties__amount"] == "12.5"
