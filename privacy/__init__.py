"""Personal data by policy: what the mapping files declare as personal (`pii:`), the
analyst-facing tables that apply those policies (`views.py`), erasure requests (`erasure.py`)
and the tombstones that keep erased records from coming back (`tombstones.py`).

Reads the warehouse and the run artefacts under DATA_DIR; it never calls a provider (provider-
side deletes belong to the reverse-sync writers). Nothing here logs or audits a personal value:
e-mail addresses are stored and audited only as salted hashes.
"""
