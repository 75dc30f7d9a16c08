"""A small hand-built CRM warehouse for relation tests: canonical contacts, companies and deals
from HubSpot (portal `portal-a`) and Salesforce, HubSpot's raw association tables, match rules
and relation files in a mappings directory. Works on DuckDB and Postgres alike.

The cases it holds (source ids):
- companies C1 (HubSpot) and 001A (Salesforce) share a domain: one golden company "Acme";
  C2 "Globex" stands alone.
- contact H1 (HubSpot) -> C1 (primary); S1 (Salesforce, same e-mail: one golden contact with H1)
  has AccountId 001A: the golden contact has one company, Acme, named by two links.
- contact H2 has no association at all.
- contact H3 -> C404, a company no source has (unresolved on the company side).
- contact H4 -> C1 (unlabeled) and C2 (primary): two companies, Globex primary.
- association rows of H999, a contact that is not in crm.contacts (unresolved on the contact
  side), and a `_removed` row that must be ignored.
- deal D1 "Big deal" -> C2 (primary) and contacts H1, H4; deal D2 "Small deal" has no links.
"""

from __future__ import annotations

from pathlib import Path

from destinations.warehouse import Warehouse

SHIPPED_RELATIONS = Path(__file__).resolve().parents[1] / "mappings" / "relations"

CONTACTS_RULES = """\
model: contacts
rules:
  - {name: email_exact, type: exact, fields: [email], normalize: lower_trim}
exclude_fields: [account_id]
"""
COMPANIES_RULES = """\
model: companies
rules:
  - {name: domain_exact, type: exact, fields: [domain], normalize: domain}
"""
DEALS_RULES = """\
model: deals
rules:
  - {name: name_exact, type: exact, fields: [name], normalize: lower_trim}
exclude_fields: [account_id]
"""

PORTAL = "portal-a"
RAW = "raw_hubspot_portal_a"

CONTACTS = [  # source, source id, email, first, last, account_id
    ("hubspot", "H1", "ann@acme.com", "Ann", "Lee", None),
    ("salesforce", "S1", "ANN@acme.com", "Ann", "Lee", "001A"),
    ("hubspot", "H2", "bob@nowhere.org", "Bob", "Stone", None),
    ("hubspot", "H3", "cy@lost.io", "Cy", "Young", None),
    ("hubspot", "H4", "dee@globex.com", "Dee", "Dee", None),
]
COMPANIES = [  # source, source id, name, domain
    ("hubspot", "C1", "Acme", "acme.com"),
    ("salesforce", "001A", "Acme Inc", "www.acme.com"),
    ("hubspot", "C2", "Globex", "globex.com"),
]
DEALS = [  # source, source id, name, account_id
    ("hubspot", "D1", "Big deal", None),
    ("hubspot", "D2", "Small deal", None),
]
CONTACT_COMPANIES = [  # contact_id, company_id, association_type, _removed
    ("H1", "C1", "contact_to_company;contact_to_company_unlabeled", None),
    ("H3", "C404", "contact_to_company;contact_to_company_unlabeled", None),
    ("H4", "C1", "contact_to_company_unlabeled", None),
    ("H4", "C2", "Primary;HUBSPOT_DEFINED:279", None),
    ("H999", "C2", "contact_to_company", None),
    ("H2", "C2", "contact_to_company", True),  # a tombstone dlt never keeps: ignored
]
DEAL_COMPANIES = [("D1", "C2", "deal_to_company;deal_to_company_unlabeled", None)]
DEAL_CONTACTS = [("D1", "H1", "deal_to_contact", None), ("D1", "H4", "deal_to_contact", None)]


def mappings_dir(root: Path, relations: Path = SHIPPED_RELATIONS) -> Path:
    """A mappings directory holding the three match-rule files and the shipped relations."""
    path = root / "mappings"
    (path / "match_rules").mkdir(parents=True)
    (path / "relations").mkdir()
    (path / "match_rules" / "contacts.yaml").write_text(CONTACTS_RULES)
    (path / "match_rules" / "companies.yaml").write_text(COMPANIES_RULES)
    (path / "match_rules" / "deals.yaml").write_text(DEALS_RULES)
    for file in sorted(relations.glob("*.yaml")):
        (path / "relations" / file.name).write_text(file.read_text())
    return path


def _text(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return "'" + str(value).replace("'", "''") + "'"


def _lineage(source: str, source_id: str, day: int) -> str:
    integration = PORTAL if source == "hubspot" else "sf-org"
    return (
        f"{_text(source)}, {_text(integration)}, {_text(source_id)}, "
        f"TIMESTAMPTZ '2024-01-{day:02d} 00:00:00+00', 'test', TIMESTAMPTZ '2024-02-01 00:00:00+00'"
    )


LINEAGE_DDL = (
    "_source TEXT, _source_integration TEXT, _source_id TEXT, _source_updated_at TIMESTAMPTZ, "
    "_mapping TEXT, _loaded_at TIMESTAMPTZ"
)


def seed(warehouse: Warehouse, *, contact_companies=CONTACT_COMPANIES) -> None:
    """Canonical tables and raw association tables, replacing any earlier ones."""
    stmts = [
        "CREATE SCHEMA IF NOT EXISTS crm",
        f"CREATE SCHEMA IF NOT EXISTS {RAW}",
    ]
    tables = {
        "crm.contacts": (
            "email TEXT, first_name TEXT, last_name TEXT, full_name TEXT, account_id TEXT",
            [
                f"{_text(e)}, {_text(f)}, {_text(last)}, {_text(f + ' ' + last)}, {_text(a)}, "
                + _lineage(s, i, n + 1)
                for n, (s, i, e, f, last, a) in enumerate(CONTACTS)
            ],
        ),
        "crm.companies": (
            "name TEXT, domain TEXT",
            [
                f"{_text(name)}, {_text(d)}, " + _lineage(s, i, n + 1)
                for n, (s, i, name, d) in enumerate(COMPANIES)
            ],
        ),
        "crm.deals": (
            "name TEXT, account_id TEXT",
            [
                f"{_text(name)}, {_text(a)}, " + _lineage(s, i, n + 1)
                for n, (s, i, name, a) in enumerate(DEALS)
            ],
        ),
    }
    links = {
        f"{RAW}.contact_companies": ("contact_id", "company_id", contact_companies),
        f"{RAW}.deal_companies": ("deal_id", "company_id", DEAL_COMPANIES),
        f"{RAW}.deal_contacts": ("deal_id", "contact_id", DEAL_CONTACTS),
    }
    for table, (columns, rows) in tables.items():
        stmts.append(f"DROP TABLE IF EXISTS {table}")
        stmts.append(f"CREATE TABLE {table} ({columns}, {LINEAGE_DDL})")
        stmts.extend(f"INSERT INTO {table} VALUES ({row})" for row in rows)
    for table, (left, right, rows) in links.items():
        stmts.append(f"DROP TABLE IF EXISTS {table}")
        stmts.append(
            f"CREATE TABLE {table} ({left} TEXT NOT NULL, {right} TEXT NOT NULL, "
            "association_type TEXT, _removed BOOLEAN)"
        )
        stmts.extend(
            f"INSERT INTO {table} VALUES ({', '.join(_text(v) for v in row)})" for row in rows
        )
    warehouse.execute([(sql, None) for sql in stmts])


def golden_of(warehouse: Warehouse, model: str, source_id: str) -> str:
    rows = warehouse.query(
        f"SELECT golden_id FROM crm.{model}_crosswalk WHERE _source_id = '{source_id}'"
    )
    assert len(rows) == 1, (model, source_id, rows)
    return str(rows[0][0])
