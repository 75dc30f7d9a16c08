"""Load-package job files lose exactly the erased record's rows, in every format dlt writes
(parquet, gzipped CSV, JSONL); other tables and files stay byte for byte; the post-load mode
marks loaded packages it has checked and skips them the next time."""

from __future__ import annotations

import gzip
import io
import json

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from privacy.artefacts import SCRUBBED_MARKER, RowFilter, scrub_pipeline

FILTERS = [
    RowFilter("contacts", "id", frozenset({"7"})),
    RowFilter("deal_contacts", "contact_id", frozenset({"7"})),
]


def write_packages(root):
    loaded = root / "load" / "loaded" / "1700000000.1" / "completed_jobs"
    loaded.mkdir(parents=True)
    table = pa.table({"id": ["6", "7", "8"], "properties__email": ["a@x", "ann@x", "c@x"]})
    out = io.BytesIO()
    pq.write_table(table, out)
    (loaded / "contacts.aa.0.parquet").write_bytes(out.getvalue())
    csv = io.BytesIO()
    pacsv.write_csv(pa.table({"deal_id": ["1", "2"], "contact_id": ["7", "9"]}), csv)
    (loaded / "deal_contacts.bb.0.csv.gz").write_bytes(gzip.compress(csv.getvalue()))
    (loaded / "companies.cc.0.parquet").write_bytes(out.getvalue())  # another table: untouched
    (loaded / "contacts.dd.0.sql").write_text("DELETE FROM contacts WHERE id IN (SELECT 1)")
    pending = root / "normalize" / "1700000001.2" / "new_jobs"
    pending.mkdir(parents=True)
    lines = [json.dumps({"id": i, "properties__email": f"{i}@x"}) for i in ("7", "8")]
    (pending / "contacts.ee.0.jsonl").write_text("\n".join(lines) + "\n")
    return loaded, pending


def test_every_format_loses_only_the_erased_rows(tmp_path):
    loaded, pending = write_packages(tmp_path)
    untouched = (loaded / "companies.cc.0.parquet").read_bytes()

    dry = scrub_pipeline(tmp_path, FILTERS, dry_run=True)
    assert dry.rows_removed == 3 and len(dry.files_rewritten) == 3
    assert pq.read_table(loaded / "contacts.aa.0.parquet").num_rows == 3  # dry run: unchanged

    done = scrub_pipeline(tmp_path, FILTERS)

    assert done.rows_removed == 3
    assert pq.read_table(loaded / "contacts.aa.0.parquet").column("id").to_pylist() == ["6", "8"]
    deal_contacts = pacsv.read_csv(
        io.BytesIO(gzip.decompress((loaded / "deal_contacts.bb.0.csv.gz").read_bytes()))
    )
    assert deal_contacts.column("contact_id").to_pylist() == [9]
    assert [
        json.loads(x)["id"] for x in (pending / "contacts.ee.0.jsonl").read_text().splitlines()
    ] == ["8"]
    assert (loaded / "companies.cc.0.parquet").read_bytes() == untouched
    assert scrub_pipeline(tmp_path, FILTERS).rows_removed == 0


def test_post_load_mode_marks_checked_packages_and_skips_them(tmp_path):
    loaded, _ = write_packages(tmp_path)

    first = scrub_pipeline(tmp_path, FILTERS, only_new=True)
    assert first.rows_removed == 3
    assert (loaded.parent / SCRUBBED_MARKER).exists()

    # a marked package is not read again (even if it held a match, e.g. a restored file)
    table = pa.table({"id": ["7"]})
    out = io.BytesIO()
    pq.write_table(table, out)
    (loaded / "contacts.ff.0.parquet").write_bytes(out.getvalue())
    assert scrub_pipeline(tmp_path, FILTERS, only_new=True).rows_removed == 0
    assert scrub_pipeline(tmp_path, FILTERS).rows_removed == 1  # an erasure reads everything
