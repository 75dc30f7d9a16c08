"""Probabilistic match rules (Splink Fellegi-Sunter) in the dedup engine: validation of the rule
and its model file, training through the CLI, precision on a labelled dataset, e-mail conflicts,
stable golden ids, the crosswalk's match weights, and the model charts."""

from __future__ import annotations

import json
import random
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from cli.main import main
from destinations.warehouse import Warehouse
from mappings.dedup import DedupEngine, DedupError, MatchRuleFileError, load_match_rules

SHIPPED = Path(__file__).resolve().parents[2] / "mappings" / "match_rules"
RULES = """\
model: contacts
rules:
  - name: person
    type: probabilistic
    model: contacts.model.json
    threshold: {match_probability: 0.99}
    compare:
      - {field: email, method: exact}
      - {field: phone, method: exact, normalize: digits, term_frequency: true}
      - {field: first_name, method: name, term_frequency: true}
      - {field: last_name, method: name, term_frequency: true}
      - {field: city, method: exact}
      - {field: job_title, method: exact}
    block_by:
      - [{field: email}]
      - [{field: phone, normalize: digits}]
      - - {field: email, normalize: email_domain}
        - {field: last_name}
        - {field: first_name, prefix: 3}
    max_block_size: 100
    training:
      em_blocks: [[email], [phone]]
      prior_agree_on: [email]
      prior_recall: 0.8
      u_max_pairs: 200000
"""
FIRST = [
    "james",
    "mary",
    "john",
    "patricia",
    "robert",
    "jennifer",
    "michael",
    "linda",
    "william",
    "elizabeth",
    "david",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "charles",
    "karen",
    "christopher",
    "nancy",
    "daniel",
    "lisa",
    "matthew",
    "betty",
    "anthony",
    "margaret",
    "mark",
    "sandra",
    "donald",
    "ashley",
    "steven",
    "kimberly",
    "paul",
    "emily",
]
LAST = [
    stem + suffix
    for stem in [
        "smith",
        "jones",
        "brown",
        "lee",
        "garcia",
        "miller",
        "davis",
        "wilson",
        "moore",
        "taylor",
    ]
    for suffix in ("", "son", "er", "ton", "ley", "man", "field", "wood")
]
COLUMNS = ("email", "phone", "first_name", "last_name", "city", "job_title")


def labelled_people(n: int, seed: int = 7) -> list[tuple]:
    """Rows (source, source_id, email, phone, first, last, city, job) of `n` people in a
    HubSpot-like source and 40% of them again in a Salesforce-like source with variants
    (e-mail case, no e-mail, a new address plus a first-name typo), plus as many new people.
    The person is the source id without its `s` prefix: the ground truth."""
    rng = random.Random(seed)
    people = []
    for p in range(2 * n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        domain = rng.choice(["gmail.com", "yahoo.com"]) if rng.random() < 0.4 else None
        domain = domain or f"company{rng.randrange(n // 10)}.com"
        phone = None if rng.random() < 0.15 else f"+1{rng.randrange(2_000_000_000, 9_999_999_999)}"
        people.append(
            (
                f"{first}.{last}{p}@{domain}",
                phone,
                first,
                last,
                rng.choice(["berlin", "boston", "london", "austin", "paris", "denver"]),
                rng.choice(["engineer", "manager", "director", "analyst", "founder"]),
                domain,
            )
        )
    rows = [("hubspot", str(p), *people[p][:6]) for p in range(n)]
    for p in [*rng.sample(range(n), int(n * 0.4)), *range(n, n + n)]:
        email, phone, first, last, city, job, domain = people[p]
        variant = rng.randrange(10) if p < n else 9
        if variant == 0:
            email = email.upper()
        elif variant == 1:
            email = None
        elif variant == 2:
            email = f"{first}.{last}@{domain}"
            first = first[:-1] if len(first) > 5 else first
        rows.append(("salesforce", f"s{p}", email, phone, first, last, city, job))
    return rows


def create_contacts(path: Path, rows: list[tuple]) -> None:
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS crm")
        conn.execute(
            "CREATE OR REPLACE TABLE crm.contacts (email VARCHAR, phone VARCHAR, "
            "first_name VARCHAR, last_name VARCHAR, city VARCHAR, job_title VARCHAR, "
            "_source VARCHAR, _source_integration VARCHAR, _source_id VARCHAR, "
            "_source_updated_at TIMESTAMPTZ, _mapping VARCHAR, _loaded_at TIMESTAMPTZ)"
        )
        conn.executemany(
            "INSERT INTO crm.contacts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "TIMESTAMPTZ '2024-01-01 00:00:00+00', 'm', now())",
            [(*r[2:], r[0], f"{r[0]}-1", r[1]) for r in rows],
        )


def add_contact(path: Path, source: str, source_id: str, **values) -> None:
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            "INSERT INTO crm.contacts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "TIMESTAMPTZ '2024-06-01 00:00:00+00', 'm', now())",
            [*(values.get(c) for c in COLUMNS), source, f"{source}-1", source_id],
        )


def crosswalk(path: Path) -> dict[str, tuple]:
    with duckdb.connect(str(path), read_only=True) as conn:
        rows = conn.execute(
            "SELECT _source_id, golden_id, match_rule, match_weight, match_probability "
            "FROM crm.contacts_crosswalk"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def pairwise(xw: dict[str, tuple]) -> tuple[float, float]:
    """(precision, recall) of the clusters against the person in each source id."""
    from collections import Counter

    truth = {sid: sid.removeprefix("s") for sid in xw}
    together = Counter(g for g, *_ in xw.values())
    same = Counter((xw[s][0], truth[s]) for s in xw)
    people = Counter(truth.values())

    def pairs(counts: Counter) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    tp, predicted, actual = pairs(same), pairs(together), pairs(people)
    return tp / predicted if predicted else 1.0, tp / actual


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A rules folder whose model was trained (through the CLI) on a labelled warehouse."""
    root = tmp_path_factory.mktemp("prob")
    (root / "rules").mkdir()
    (root / "rules" / "contacts.yaml").write_text(RULES)
    create_contacts(root / "train.duckdb", labelled_people(1500, seed=1))
    result = CliRunner().invoke(
        main,
        ["dedup", "train", "contacts", "--rules-dir", str(root / "rules")],
        env={"DATA_DIR": str(root / "data"), "DUCKDB_PATH": str(root / "train.duckdb")},
    )
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def rules(trained: Path, tmp_path: Path):
    """The trained rule folder copied, so a test may change it."""
    folder = tmp_path / "rules"
    folder.mkdir()
    for name in ("contacts.yaml", "contacts.model.json"):
        (folder / name).write_bytes((trained / "rules" / name).read_bytes())
    return folder


def run(path: Path, rules_file: Path, artefacts: Path | None = None):
    return DedupEngine(Warehouse("duckdb", duckdb_path=path), artefacts_dir=artefacts).run(
        load_match_rules(rules_file)
    )


# --- validation ---------------------------------------------------------------------------
def write_rules(folder: Path, text: str) -> Path:
    path = folder / "contacts.yaml"
    path.write_text(text)
    return path


def test_shipped_contacts_rules_are_probabilistic_with_their_model():
    rules = load_match_rules(SHIPPED / "contacts.yaml")
    (rule,) = rules.probabilistic_rules()
    assert rules.model_path(rule) == SHIPPED / "contacts.model.json"
    assert rule.fields == [
        "email",
        "phone",
        "first_name",
        "last_name",
        "city",
        "company_name",
    ]
    assert [c.field for c in rule.compare if c.optional] == ["company_name"]
    assert "company_name" not in rules.referenced_fields()  # optional: a table may lack it
    assert [r.type for r in rules.rules] == ["probabilistic"]


def test_a_missing_model_file_names_the_line_and_the_train_command(tmp_path):
    path = write_rules(tmp_path, RULES)
    with pytest.raises(MatchRuleFileError) as err:
        load_match_rules(path)
    assert str(err.value).startswith(f"{path}:5: rules[0].model: model file ")
    assert "does not exist; train it with `platform dedup train contacts`" in str(err.value)
    # training reads the rules before the model exists
    assert load_match_rules(path, require_models=False).rules[0].name == "person"


def test_a_model_trained_on_other_fields_is_refused(rules):
    text = (rules / "contacts.yaml").read_text()
    path = write_rules(rules, text.replace("      - {field: job_title, method: exact}\n", ""))
    with pytest.raises(MatchRuleFileError) as err:
        load_match_rules(path)
    assert ":5: rules[0].model: " in str(err.value)
    assert "the rule compares" in str(err.value) and "job_title" in str(err.value)


@pytest.mark.parametrize(
    ("threshold", "line", "field", "message"),
    [
        ("{match_probability: 1.5}", 6, "rules[0].threshold.match_probability", "less than 1"),
        ("{match_probability: 0.9, match_weight: 3}", 6, "rules[0].threshold", "exactly one"),
        ("{}", 6, "rules[0].threshold", "exactly one"),
        ("0.99", 6, "rules[0].threshold", "valid dictionary"),
    ],
)
def test_a_bad_threshold_names_its_line(tmp_path, threshold, line, field, message):
    text = RULES.replace("{match_probability: 0.99}", threshold)
    path = write_rules(tmp_path, text)
    with pytest.raises(MatchRuleFileError) as err:
        load_match_rules(path, require_models=False)
    assert str(err.value).startswith(f"{path}:{line}: {field}: ")
    assert message in str(err.value)


def test_unknown_methods_and_training_fields_are_rejected(tmp_path):
    bad_method = RULES.replace("{field: city, method: exact}", "{field: city, method: soundex}")
    with pytest.raises(MatchRuleFileError) as err:
        load_match_rules(write_rules(tmp_path, bad_method), require_models=False)
    assert ":12: rules[0].compare[4].method: " in str(err.value)
    bad_block = RULES.replace("em_blocks: [[email], [phone]]", "em_blocks: [[email], [company]]")
    with pytest.raises(MatchRuleFileError) as err:
        load_match_rules(write_rules(tmp_path, bad_block), require_models=False)
    assert "training names fields not in compare: company" in str(err.value)


def test_an_optional_compared_column_the_table_lacks_counts_as_missing(tmp_path):
    """The shipped rules compare company_name when a source has it: a table without the
    column still resolves (those comparisons weigh nothing, its block finds nothing)."""
    path = tmp_path / "w.duckdb"
    create_contacts(path, labelled_people(200, seed=11))
    same = {"first_name": "zoe", "last_name": "quist", "city": "paris", "job_title": "founder"}
    add_contact(path, "hubspot", "zoe-1", email="zoe@acme.io", phone="+14155550199", **same)
    add_contact(path, "salesforce", "zoe-2", email="zoe@acme.io", phone="+14155550199", **same)

    result = run(path, SHIPPED / "contacts.yaml")

    xw = crosswalk(path)
    assert xw["zoe-1"][0] == xw["zoe-2"][0]
    assert result.rules[0].edges >= 1


def test_compared_columns_missing_from_the_table_stop_the_run(rules, tmp_path):
    path = tmp_path / "w.duckdb"
    create_contacts(path, labelled_people(50))
    with duckdb.connect(str(path)) as conn:
        conn.execute("ALTER TABLE crm.contacts DROP COLUMN job_title")
    with pytest.raises(DedupError, match="lacks columns job_title"):
        run(path, rules / "contacts.yaml")


# --- quality ------------------------------------------------------------------------------
def test_precision_and_recall_on_a_labelled_dataset(rules, tmp_path):
    """Other people than the training set (another seed): the model generalises."""
    path = tmp_path / "w.duckdb"
    create_contacts(path, labelled_people(1500, seed=2))

    result = run(path, rules / "contacts.yaml")

    precision, recall = pairwise(crosswalk(path))
    assert precision >= 0.99, (precision, recall)
    assert recall >= 0.9, (precision, recall)
    assert result.rules[0].edges > 0
    assert "probabilistic" in result.phase_seconds


def test_different_emails_and_a_shared_name_alone_do_not_merge(rules, tmp_path):
    path = tmp_path / "w.duckdb"
    create_contacts(path, labelled_people(300, seed=3))
    same = {"first_name": "zoe", "last_name": "quist", "city": "paris", "job_title": "founder"}
    add_contact(path, "hubspot", "zoe-1", email="zoe.quist@acme.io", **same)
    add_contact(path, "salesforce", "zoe-2", email="zq@acme.io", **same)
    # the same conflict, but a phone agrees: strong evidence of one person
    add_contact(path, "hubspot", "zed-1", email="zed.quist@acme.io", phone="+14155550123", **same)
    add_contact(path, "salesforce", "zed-2", email="zq2@acme.io", phone="+14155550123", **same)

    run(path, rules / "contacts.yaml")

    xw = crosswalk(path)
    assert xw["zoe-1"][0] != xw["zoe-2"][0]
    assert xw["zed-1"][0] == xw["zed-2"][0]
    assert xw["zed-2"][1] == "person" and xw["zed-2"][2] > 6.6  # weight above p = 0.99


def test_crosswalk_shows_the_weight_that_linked_each_record(rules, tmp_path):
    path = tmp_path / "w.duckdb"
    create_contacts(path, labelled_people(300, seed=4))

    run(path, rules / "contacts.yaml")

    xw = crosswalk(path)
    linked = [v for v in xw.values() if v[1] == "person"]
    alone = [v for v in xw.values() if v[1] is None]
    assert linked and alone
    assert all(w is not None and w >= 6.6 and p >= 0.99 for _, _, w, p in linked)
    assert all(w is None and p is None for _, _, w, p in alone)


def test_golden_ids_are_stable_across_runs_with_a_probabilistic_rule(rules, tmp_path):
    path = tmp_path / "w.duckdb"
    create_contacts(path, labelled_people(300, seed=5))
    run(path, rules / "contacts.yaml")
    first = crosswalk(path)

    result = run(path, rules / "contacts.yaml")
    assert crosswalk(path) == first
    assert (result.ids.new, result.ids.merged, result.ids.split) == (0, 0, 0)

    add_contact(path, "zendesk", "z-1", email="nobody@example.net", first_name="nemo")
    result = run(path, rules / "contacts.yaml")
    after = crosswalk(path)
    assert {k: v[0] for k, v in after.items() if k != "z-1"} == {k: v[0] for k, v in first.items()}
    assert result.ids.new == 1


# --- the model file and the CLI -----------------------------------------------------------
def test_train_writes_a_splink_model_that_runs_and_retrains_identically(trained, tmp_path):
    model = json.loads((trained / "rules" / "contacts.model.json").read_text())
    assert [c["output_column_name"] for c in model["comparisons"]] == [
        "email",
        "phone",
        "first_name",
        "last_name",
        "city",
        "job_title",
    ]
    levels = {c["output_column_name"]: c["comparison_levels"] for c in model["comparisons"]}
    assert all("m_probability" in lv and "u_probability" in lv for lv in levels["email"][1:])
    assert levels["last_name"][1]["tf_adjustment_column"] == "last_name"
    assert 0 < model["probability_two_random_records_match"] < 0.01

    again = tmp_path / "rules"
    again.mkdir()
    (again / "contacts.yaml").write_text(RULES)
    result = CliRunner().invoke(
        main,
        ["dedup", "train", "contacts", "--rules-dir", str(again)],
        env={"DATA_DIR": str(tmp_path / "data"), "DUCKDB_PATH": str(trained / "train.duckdb")},
    )
    assert result.exit_code == 0, result.output
    assert "trained contacts.person on 3,600 records" in result.output
    retrained = json.loads((again / "contacts.model.json").read_text())

    def parameters(settings: dict) -> list[float | None]:
        return [
            lv.get(key)
            for c in settings["comparisons"]
            for lv in c["comparison_levels"]
            for key in ("m_probability", "u_probability")
        ]

    assert [p is None for p in parameters(retrained)] == [p is None for p in parameters(model)]
    assert [p for p in parameters(retrained) if p is not None] == pytest.approx(
        [p for p in parameters(model) if p is not None], rel=1e-6
    )


def test_dedup_run_cli_and_its_errors(rules, tmp_path):
    path = tmp_path / "w.duckdb"
    create_contacts(path, labelled_people(100, seed=6))
    env = {"DATA_DIR": str(tmp_path / "data"), "DUCKDB_PATH": str(path)}

    ok = CliRunner().invoke(main, ["dedup", "run", "contacts", "--rules-dir", str(rules)], env=env)
    assert ok.exit_code == 0, ok.output
    assert "person (probabilistic):" in ok.output

    (rules / "contacts.model.json").unlink()
    missing = CliRunner().invoke(
        main, ["dedup", "run", "contacts", "--rules-dir", str(rules)], env=env
    )
    assert missing.exit_code == 1
    assert f"{rules / 'contacts.yaml'}:5: rules[0].model: model file" in missing.output
    unknown = CliRunner().invoke(
        main, ["dedup", "train", "nope", "--rules-dir", str(rules)], env=env
    )
    assert unknown.exit_code != 0 and "no match rules for 'nope'" in unknown.output


def test_training_rules_without_a_probabilistic_rule_is_an_error(tmp_path):
    (tmp_path / "contacts.yaml").write_text(
        "model: contacts\nrules:\n  - {name: e, type: exact, fields: [email]}\n"
    )
    path = tmp_path / "w.duckdb"
    create_contacts(path, labelled_people(20))
    result = CliRunner().invoke(
        main,
        ["dedup", "train", "contacts", "--rules-dir", str(tmp_path)],
        env={"DATA_DIR": str(tmp_path / "data"), "DUCKDB_PATH": str(path)},
    )
    assert result.exit_code == 1
    assert "have no probabilistic rule" in result.output


def test_match_weight_charts_are_written_and_reported(rules, tmp_path):
    path = tmp_path / "w.duckdb"
    create_contacts(path, labelled_people(100, seed=8))

    result = run(path, rules / "contacts.yaml", artefacts=tmp_path / "artefacts")

    folder = tmp_path / "artefacts" / "contacts"
    assert result.artefacts == {
        f"person.{chart}_{kind}": folder / f"person.{chart}.{kind}"
        for chart in ("match_weights", "m_u_parameters")
        for kind in ("html", "png")
    }
    for file in result.artefacts.values():
        assert file.stat().st_size > 1000
    assert (folder / "person.match_weights.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (folder / "person.match_weights.html").read_text()
    assert "first_name" in html and "<html" in html.lower()
    # the Dagster asset links them in its materialization metadata
    from dagster_project.defs.mappings.dedup_assets import _run_metadata

    metadata = _run_metadata(result)
    assert metadata["chart/person.match_weights_png"].path == str(
        folder / "person.match_weights.png"
    )
    assert metadata["chart/person.m_u_parameters_html"].path == str(
        folder / "person.m_u_parameters.html"
    )


def test_splink_leaves_no_tables_in_the_warehouse(rules, tmp_path):
    path = tmp_path / "w.duckdb"
    create_contacts(path, labelled_people(100, seed=9))
    run(path, rules / "contacts.yaml")
    with duckdb.connect(str(path), read_only=True) as conn:
        tables = conn.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables"
        ).fetchall()
    assert sorted(t for (t,) in tables) == [
        "crm.contacts",
        "crm.contacts_crosswalk",
        "crm.contacts_golden",
        "crm.contacts_golden_merges",
    ]
