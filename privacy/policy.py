"""Which columns of the canonical and golden tables are personal, and how analysts see them.

The declarations live in the mapping files (`pii:` section, validated by `mappings.spec`). A
canonical table collects the declarations of every mapping that writes it; a golden table
(`crm.<model>_golden`) has the canonical table's columns and therefore its policies. When two
mappings disagree on a column's policy the strictest wins (keep < mask < hash); when they
disagree on its kind, that is an error naming both files. This module only builds SQL
expressions; it never connects to a warehouse.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from core.errors import ValidationError
from mappings.spec import MappingSpec

STRICTNESS = {"keep": 0, "mask": 1, "hash": 2}
MASKED = "'***'"


class PrivacyPolicyError(ValidationError):
    """Mapping files declare conflicting personal-data kinds for one canonical column."""


@dataclass(frozen=True)
class ColumnPolicy:
    kind: str
    policy: str
    declared_in: tuple[str, ...]  # mapping files that declare the column


TablePolicies = dict[str, dict[str, ColumnPolicy]]  # canonical table -> column -> policy


def collect_policies(specs: Iterable[MappingSpec]) -> TablePolicies:
    """Per canonical table (`crm.contacts`), the effective policy of each declared column."""
    found: TablePolicies = {}
    for spec in specs:
        table = found.setdefault(spec.target, {})
        for column, pii in spec.pii.items():
            before = table.get(column)
            if before is None:
                table[column] = ColumnPolicy(pii.kind, pii.policy, (spec.path,))
                continue
            if before.kind != pii.kind:
                raise PrivacyPolicyError(
                    f"{spec.target}.{column} is declared kind {pii.kind!r} in {spec.path} but "
                    f"{before.kind!r} in {', '.join(before.declared_in)}",
                    hint="declare one kind for a canonical column in every mapping",
                )
            strictest = max(before.policy, pii.policy, key=STRICTNESS.__getitem__)
            table[column] = ColumnPolicy(pii.kind, strictest, (*before.declared_in, spec.path))
    return found


def email_fields(spec: MappingSpec) -> list[str]:
    """Fields of a mapping declared `kind: email` (how erasure finds a person by address)."""
    return [name for name, pii in spec.pii.items() if pii.kind == "email"]


def normalize_email(address: str) -> str:
    """The form the shipped mappings store (`email_normalize`: trimmed, lower-cased)."""
    return address.strip().lower()


def email_hash(address: str, salt: str) -> str:
    """Salted SHA-256 hex of a normalized address: what mappings' `hash()` gives for it."""
    return hashlib.sha256((salt + normalize_email(address)).encode("utf-8")).hexdigest()


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def salt_sql(dialect: str) -> str:
    """The hashing salt as a session variable (set by the caller, never inlined in SQL)."""
    return (
        "getvariable('privacy_salt')" if dialect == "duckdb" else "current_setting('privacy.salt')"
    )


def column_sql(column: str, policy: ColumnPolicy | None, dialect: str) -> str:
    """SELECT expression of one column in the analyst table (keeps the column's name)."""
    ref = quote(column)
    if policy is None or policy.policy == "keep":
        return ref
    text = "VARCHAR" if dialect == "duckdb" else "TEXT"
    if policy.policy == "hash":
        value = f"{salt_sql(dialect)} || CAST({ref} AS {text})"
        digest = (
            f"sha256({value})"
            if dialect == "duckdb"
            else f"encode(sha256(convert_to({value}, 'UTF8')), 'hex')"
        )
        return f"CASE WHEN {ref} IS NULL THEN NULL ELSE {digest} END AS {ref}"
    return f"CASE WHEN {ref} IS NULL THEN NULL ELSE {_mask(ref, policy.kind)} END AS {ref}"


def _mask(ref: str, kind: str) -> str:
    """Masks (the same SQL on DuckDB and Postgres): e-mail `j***@example.com`, phone `***45`,
    name `J.`, address and other `***`."""
    if kind == "email":
        return (
            f"CASE WHEN strpos({ref}, '@') > 1 THEN left({ref}, 1) || '***' || "
            f"substr({ref}, strpos({ref}, '@')) ELSE {MASKED} END"
        )
    if kind == "phone":
        return f"'***' || right(regexp_replace({ref}, '[^0-9]', '', 'g'), 2)"
    if kind == "name":
        return (
            f"CASE WHEN trim({ref}) = '' THEN {MASKED} ELSE upper(left(trim({ref}), 1)) || '.' END"
        )
    return MASKED
