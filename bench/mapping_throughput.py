"""Mapping engine vs. a straightforward row-by-row Python implementation of the same mapping.

Data: N HubSpot-shaped contacts generated into a raw DuckDB table (see `generate`), messy the way
CRM data is: mixed-case and padded e-mails, some invalid or missing; phone numbers in five North
American formats, a few international, with extensions, or junk; padded and missing names;
inconsistent lifecycle stages; ISO and epoch-millisecond dates; 2% archived.
Mapping: the shipped `mappings/hubspot_contacts.yaml` (email_normalize twice, phone_normalize, a
full-name template, a when/then/else condition, trims, a datetime, rules, a row filter).

Engine: MappingEngine.run end to end (schema read, compile, Python nodes, the SQL query, the
writes to crm.contacts and its quarantine) over all N rows.
Row by row: the reference interpreter (mappings/reference.py), which applies the same mapping
one record at a time in plain Python, on the same N rows: reading them from DuckDB,
transforming, writing the result with Arrow. Its output (every row, every quarantined id and
rule) is compared with the engine's. Both run in their own child process, one after the other.

Target (issue 4): engine >= 20x the row-by-row rows/s, both on the same rows, with the invariant
holding and equal output; the verdict line says `met` only when all of these hold, and the run
exits 1 when the output differs or the invariant fails. Usage:
    python -m bench.mapping_throughput [--rows 200000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.common import fresh_settings, measure_in_child, print_table, temp_root
from sandbox.hubspot.schema import LIFECYCLE_STAGES

INTEGRATION = "bench"
SHIPPED = Path(__file__).resolve().parent.parent / "mappings" / "hubspot_contacts.yaml"

FIRST = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Lisa",
    "Daniel",
    "Nancy",
    "Matthew",
    "Betty",
    "Anthony",
    "Sandra",
    "Mark",
    "Margaret",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Andrew",
    "Emily",
    "Paul",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Carol",
    "Kevin",
    "Amanda",
    "Brian",
    "Melissa",
    "George",
    "Deborah",
    "Timothy",
    "Stephanie",
    "Ada",
    "Grace",
    "José",
    "Zoë",
    "Søren",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Lovelace",
    "Hopper",
    "O'Brien",
]
DOMAINS = [
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "aol.com",
    "acme.com",
    "initech.com",
    "globex.com",
    "umbrella-corp.com",
    "hooli.io",
    "piedpiper.com",
    "wayne-enterprises.com",
    "stark.industries",
    "cyberdyne.net",
    "example.org",
    "company.co.uk",
]
# real, assigned North American area codes
AREA_CODES = [
    201,
    202,
    203,
    205,
    206,
    207,
    208,
    209,
    210,
    212,
    213,
    214,
    215,
    216,
    217,
    218,
    219,
    224,
    225,
    228,
    229,
    231,
    234,
    239,
    240,
    248,
    251,
    252,
    253,
    254,
    256,
    260,
    262,
    267,
    269,
    270,
    276,
    281,
    301,
    302,
    303,
    304,
    305,
    307,
    308,
    309,
    310,
    312,
    313,
    314,
    315,
    316,
    317,
    318,
    319,
    320,
    321,
    323,
    325,
    330,
    331,
    334,
    336,
    337,
    339,
    347,
    351,
    352,
    360,
    361,
    385,
    386,
    401,
    402,
    404,
    405,
    406,
    407,
    408,
    409,
    410,
    412,
    413,
    414,
    415,
    416,
    417,
    419,
    423,
    424,
    425,
    430,
    432,
    434,
    435,
    440,
    442,
    443,
    469,
    470,
    475,
    478,
    479,
    480,
    484,
    501,
    502,
    503,
    504,
    505,
    507,
    508,
    509,
    510,
    512,
    513,
    514,
    515,
    516,
    517,
    518,
    520,
    530,
    540,
    541,
    551,
    559,
    561,
    562,
    563,
    567,
    570,
    571,
    573,
    574,
    575,
    580,
    585,
    586,
    601,
    602,
    603,
    604,
    605,
    606,
    607,
    608,
    609,
    610,
    612,
    614,
    615,
    616,
    617,
    618,
    619,
    620,
    623,
    626,
    630,
    631,
    636,
    641,
    646,
    647,
    650,
    651,
    657,
    660,
    661,
    662,
    678,
    682,
    701,
    702,
    703,
    704,
    706,
    707,
    708,
    712,
    713,
    714,
    715,
    716,
    717,
    718,
    719,
    720,
    724,
    727,
    731,
    732,
    734,
    740,
    754,
    757,
    760,
    762,
    763,
    765,
    770,
    772,
    773,
    774,
    775,
    781,
    785,
    786,
    801,
    802,
    803,
    804,
    805,
    806,
    808,
    810,
    812,
    813,
    814,
    815,
    816,
    817,
    818,
    828,
    830,
    831,
    832,
    843,
    845,
    847,
    848,
    850,
    856,
    857,
    858,
    859,
    860,
    862,
    863,
    864,
    865,
    870,
    878,
    901,
    903,
    904,
    906,
    907,
    908,
    909,
    910,
    912,
    913,
    914,
    915,
    916,
    917,
    918,
    919,
    920,
    925,
    928,
    931,
    936,
    937,
    940,
    941,
    947,
    949,
    951,
    952,
    954,
    956,
    970,
    971,
    972,
    973,
    978,
    979,
    980,
    985,
    989,
]
STAGES = list(LIFECYCLE_STAGES)  # HubSpot's own lifecycle stages, as the sandbox has them
CITIES = [
    ("Boston", "MA"),
    ("Austin", "TX"),
    ("Denver", "CO"),
    ("Seattle", "WA"),
    ("Chicago", "IL"),
    ("Miami", "FL"),
    ("Toronto", "ON"),
    ("London", None),
]
JOBS = ["CEO", "CTO", "VP Sales", "Engineer", "Analyst", "Marketing Manager", None]


def _list(values: list) -> str:
    def literal(v):
        return "NULL" if v is None else "'" + str(v).replace("'", "''") + "'"

    return "[" + ", ".join(literal(v) for v in values) + "]"


def _pick(values: list, h: str) -> str:
    return f"list_element({_list(values)}, CAST({h} % {len(values)} AS INTEGER) + 1)"


def generate(duckdb_path: str, rows: int) -> float:
    """Create raw_hubspot_bench.contacts with `rows` messy contacts; returns seconds taken."""
    import duckdb

    started = time.perf_counter()
    conn = duckdb.connect(duckdb_path)
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("CREATE SCHEMA IF NOT EXISTS raw_hubspot_bench")
    first = _pick(FIRST, "h1")
    last = _pick(LAST, "h1 // 97")
    # addresses are ASCII even when names are not (José -> jose)
    clean_email = (
        f"lower(strip_accents({first})) || '.' || lower(replace({last}, '''', '')) || "
        f"CAST(i % 997 AS VARCHAR) || '@' || {_pick(DOMAINS, 'h2 // 7')}"
    )
    nanp = (
        f"CAST({_pick(AREA_CODES, 'h4 // 11')} AS VARCHAR)",
        "CAST(200 + h5 % 800 AS VARCHAR)",
        "lpad(CAST(h5 // 800 % 10000 AS VARCHAR), 4, '0')",
    )
    a, e, s = nanp
    phone_formats = [
        f"'(' || {a} || ') ' || {e} || '-' || {s}",
        f"{a} || '-' || {e} || '-' || {s}",
        f"{a} || '.' || {e} || '.' || {s}",
        f"'+1 ' || {a} || ' ' || {e} || ' ' || {s}",
        f"'1' || {a} || {e} || {s}",
    ]
    phone = (
        "CASE WHEN h4 % 100 < 13 THEN NULL "
        "WHEN h4 % 100 = 13 THEN '' "
        "WHEN h4 % 100 = 14 THEN 'n/a' "
        "WHEN h4 % 100 = 15 THEN '+44 20 7946 ' || lpad(CAST(h5 % 10000 AS VARCHAR), 4, '0') "
        "WHEN h4 % 100 = 16 THEN '+49 30 ' || CAST(20000000 + h5 % 9000000 AS VARCHAR) "
        f"WHEN h4 % 100 = 17 THEN {phone_formats[0]} || ' x' || CAST(h5 % 900 + 100 AS VARCHAR) "
        + " ".join(f"WHEN h5 % 5 = {k} THEN {fmt}" for k, fmt in enumerate(phone_formats))
        + " END"
    )
    email = (
        f"CASE WHEN h3 % 100 < 10 THEN upper({clean_email}) "
        f"WHEN h3 % 100 < 15 THEN '  ' || {clean_email} || ' ' "
        f"WHEN h3 % 100 = 15 THEN replace({clean_email}, '@', ' at ') "
        f"WHEN h3 % 100 = 16 THEN replace({clean_email}, '.', '..') "
        f"WHEN h3 % 100 = 17 THEN {clean_email} || '.' "
        "WHEN h3 % 100 < 23 THEN NULL WHEN h3 % 100 = 23 THEN '' "
        f"ELSE {clean_email} END"
    )
    firstname = (
        f"CASE WHEN h3 % 50 = 0 THEN NULL WHEN h3 % 50 < 3 THEN ' ' || {first} || ' ' "
        f"WHEN h3 % 50 < 5 THEN lower({first}) ELSE {first} END"
    )
    lastname = f"CASE WHEN h2 % 33 = 0 THEN NULL ELSE {last} END"
    stage = (
        f"CASE WHEN h2 % 40 = 0 THEN 'Customer ' WHEN h2 % 40 = 1 THEN NULL "
        f"ELSE {_pick(STAGES, 'h2 // 40')} END"
    )
    city = _pick([c for c, _ in CITIES], "h4 // 13")
    state = _pick([st for _, st in CITIES], "h4 // 13")
    created = (
        "TIMESTAMPTZ '2020-01-01 00:00:00+00' + to_milliseconds(CAST(h1 % 126144000000 AS BIGINT))"
    )
    updated = f"{created} + to_milliseconds(CAST(h2 % 31536000000 AS BIGINT))"
    createdate = (
        f"CASE WHEN h5 % 10 = 0 THEN CAST(epoch_ms({created}) AS VARCHAR) "
        f"ELSE strftime({created}, '%Y-%m-%dT%H:%M:%S.%gZ') END"
    )
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE raw_hubspot_bench.contacts AS
        WITH base AS (
            SELECT i, hash(i, 1) AS h1, hash(i, 2) AS h2, hash(i, 3) AS h3, hash(i, 4) AS h4,
                   hash(i, 5) AS h5
            FROM range({int(rows)}) AS t(i)
        )
        SELECT CAST(100000000 + i AS VARCHAR) AS id, {created} AS created_at,
               {updated} AS updated_at, (h5 % 50 = 7) AS archived,
               CAST(NULL AS TIMESTAMPTZ) AS archived_at,
               {firstname} AS properties__firstname, {lastname} AS properties__lastname,
               {email} AS properties__email, {phone} AS properties__phone,
               {_pick(["Acme", "Initech", "Globex", "Hooli", None], "h1 // 13")}
                   AS properties__company,
               {_pick(JOBS, "h3 // 17")} AS properties__jobtitle,
               'https://www.' || {_pick(DOMAINS, "h2 // 7")} AS properties__website,
               {city} AS properties__city, {state} AS properties__state,
               CASE WHEN {state} IS NULL THEN 'United Kingdom' ELSE 'United States' END
                   AS properties__country,
               {stage} AS properties__lifecyclestage,
               {_pick(["NEW", "OPEN", "IN_PROGRESS", None], "h4 // 17")}
                   AS properties__hs_lead_status,
               {createdate} AS properties__createdate,
               strftime({updated}, '%Y-%m-%dT%H:%M:%S.%gZ') AS properties__lastmodifieddate,
               CAST(100000000 + i AS VARCHAR) AS properties__hs_object_id,
               now() AS _extracted_at
        FROM base
        """
    )
    conn.close()
    return time.perf_counter() - started


def engine_run(root: str) -> dict:
    from destinations.warehouse import Warehouse
    from mappings import MappingEngine, load_mapping

    settings = fresh_settings(Path(root))
    spec = load_mapping(SHIPPED)
    engine = MappingEngine(Warehouse.from_settings(settings), settings)
    started = time.perf_counter()
    result = engine.run(spec, integration_id=INTEGRATION)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rows_in": result.rows_in,
        "rows_out": result.rows_out,
        "rows_quarantined": result.rows_quarantined,
        "rows_deduplicated": result.rows_deduplicated,
        "rows_filtered": result.rows_filtered,
        "invariant": result.invariant_holds,
        "udf_seconds": result.udf_seconds,
        "stages": result.stage_seconds,
        "nodes": [(n.label, n.distinct_inputs, n.seconds) for n in result.python_nodes],
    }


def row_by_row(root: str) -> dict:
    """The reference interpreter on every raw row: read, transform, write; then compare."""
    import duckdb
    import pyarrow as pa

    from destinations.warehouse import Warehouse
    from mappings import load_mapping
    from mappings.functions import FunctionContext
    from mappings.reference import run_reference
    from mappings.session import category_of_sql_type

    settings = fresh_settings(Path(root))
    warehouse = Warehouse.from_settings(settings)
    spec = load_mapping(SHIPPED)
    context = FunctionContext(
        phone_region=settings.PHONE_DEFAULT_REGION, salt=settings.SECRET_KEY.get_secret_value()
    )
    started = time.perf_counter()
    conn = duckdb.connect(str(warehouse.duckdb_path))
    conn.execute("SET TimeZone = 'UTC'")
    cursor = conn.execute("SELECT * FROM raw_hubspot_bench.contacts ORDER BY id")
    names = [c[0] for c in cursor.description]
    records = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    types = {
        name: category_of_sql_type(t)[0]
        for name, t in conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'raw_hubspot_bench' AND table_name = 'contacts'"
        ).fetchall()
    }
    result = run_reference(spec, records, types=types, context=context)
    table = pa.Table.from_pylist(result.rows)
    conn.register("reference_rows", table)
    conn.execute("CREATE OR REPLACE TABLE crm.contacts_row_by_row AS SELECT * FROM reference_rows")
    seconds = time.perf_counter() - started

    fields = list(spec.fields)
    engine_rows = {
        row[0]: row[1:]
        for row in conn.execute(
            f"SELECT _source_id, {', '.join(fields)} FROM crm.contacts "
            f"WHERE _source_integration = '{INTEGRATION}'"
        ).fetchall()
    }
    reference_rows = {r["_source_id"]: tuple(r[f] for f in fields) for r in result.rows}
    mismatches = sum(1 for k, v in reference_rows.items() if engine_rows.get(k) != v)
    mismatches += len(engine_rows.keys() - reference_rows.keys())  # rows only the engine wrote
    engine_quarantine = sorted(
        conn.execute(
            "SELECT _source_id, rule FROM crm.contacts_quarantine "
            f"WHERE _source_integration = '{INTEGRATION}'"
        ).fetchall(),
        key=repr,
    )
    reference_quarantine = sorted(
        ((q["_source_id"], q["rule"]) for q in result.quarantined), key=repr
    )
    conn.execute("DROP TABLE crm.contacts_row_by_row")
    conn.close()
    return {
        "seconds": seconds,
        "rows": len(records),
        "rows_out": len(result.rows),
        "mismatches": mismatches,
        "quarantined_same": engine_quarantine == reference_quarantine,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000, help="raw rows; both runs read all")
    args = parser.parse_args()
    root = temp_root("bench-mapping-")
    settings = fresh_settings(root)
    gen_seconds = generate(str(settings.duckdb_path), args.rows)
    print(f"generated {args.rows:,} raw contacts in {gen_seconds:.1f}s ({root})")

    engine = measure_in_child(engine_run, str(root))
    baseline = measure_in_child(row_by_row, str(root))

    engine_rps = engine["rows_in"] / engine["seconds"]
    base_rps = baseline["rows"] / baseline["seconds"]
    ratio = engine_rps / base_rps
    print_table(
        f"hubspot_contacts mapping: {args.rows:,} messy contacts, DuckDB",
        ["variant", "rows", "seconds", "rows/s", "vs row by row", "peak RSS MB"],
        [
            [
                "row by row (reference)",
                baseline["rows"],
                baseline["seconds"],
                base_rps,
                1.0,
                baseline["peak_rss_mb"],
            ],
            [
                "engine (SQL + Python nodes)",
                engine["rows_in"],
                engine["seconds"],
                engine_rps,
                ratio,
                engine["peak_rss_mb"],
            ],
        ],
    )
    share = engine["udf_seconds"] / engine["seconds"]
    print_table(
        "engine: where the time goes",
        ["stage", "seconds", "share"],
        [[k, v, v / engine["seconds"]] for k, v in engine["stages"].items()]
        + [["(of which Python UDF compute)", engine["udf_seconds"], share]],
    )
    print_table(
        "engine: Python nodes (distinct inputs the SQL fast paths could not decide)",
        ["node", "distinct inputs", "seconds"],
        [[label, n, s] for label, n, s in engine["nodes"]],
    )
    e = engine
    balance = e["rows_out"] + e["rows_quarantined"] + e["rows_deduplicated"] + e["rows_filtered"]
    print(
        f"\ninvariant: rows_in {e['rows_in']:,} = out {e['rows_out']:,} + quarantined "
        f"{e['rows_quarantined']:,} + deduplicated {e['rows_deduplicated']:,} + filtered "
        f"{e['rows_filtered']:,} = {balance:,}: {'holds' if e['invariant'] else 'VIOLATED'}"
    )
    same_rows = baseline["rows"] == e["rows_in"] == args.rows
    equal = baseline["mismatches"] == 0 and baseline["quarantined_same"]
    equal = equal and baseline["rows_out"] == e["rows_out"]
    print(
        f"both measured on the same {args.rows:,} rows (read, transform, write): "
        f"{'yes' if same_rows else 'NO'} (engine {e['rows_in']:,}, row by row "
        f"{baseline['rows']:,}); output equal: {'yes' if equal else 'NO'} "
        f"({baseline['mismatches']} row mismatches, quarantine "
        f"{'same' if baseline['quarantined_same'] else 'DIFFERENT'}, rows out engine "
        f"{e['rows_out']:,} / row by row {baseline['rows_out']:,})"
    )
    print(f"Python UDF share of engine time: {share:.1%}")
    print(verdict(ratio, same_rows=same_rows, equal=equal, invariant=e["invariant"]))
    if not (equal and e["invariant"] and same_rows):
        raise SystemExit(1)


def verdict(ratio: float, *, same_rows: bool, equal: bool, invariant: bool) -> str:
    """The target line: `met` needs the ratio AND the same rows, equal output, the invariant."""
    failed = [
        name
        for name, ok in (
            ("ratio below 20x", ratio >= 20),
            ("different row counts", same_rows),
            ("output differs", equal),
            ("invariant violated", invariant),
        )
        if not ok
    ]
    state = "met" if not failed else f"NOT met: {', '.join(failed)}"
    return f"target (engine >= 20x row by row, same rows, equal output): {state} ({ratio:.1f}x)"


if __name__ == "__main__":
    main()
