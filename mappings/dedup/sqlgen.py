"""SQL fragments for dedup, valid on both DuckDB and Postgres (a dialect flag picks the few that
differ). Column names come from validated identifiers, so they are quoted but never escaped;
string literals (source names) are escaped here.
"""

from __future__ import annotations

from mappings.dedup.rules import BlockKey, ExactRule, FieldSurvivorship, FuzzyRule

# Keeps a composite key's parts apart ("ab"+"c" vs "a"+"bc").
KEY_SEPARATOR = "chr(31)"
# Source rank weight in a source_priority ordering key; larger than any recency rank.
PRIORITY_WEIGHT = 1 << 32


def quote(identifier: str) -> str:
    return f'"{identifier}"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def normalized(column: str, normalizer: str, text_type: str) -> str:
    """The SQL for one normalizer applied to one column; '' becomes NULL (never a match key)."""
    x = f"CAST({quote(column)} AS {text_type})"
    lowered = f"lower(trim({x}))"
    forms = {
        "none": x,
        "trim": f"trim({x})",
        "lower_trim": lowered,
        "digits": f"regexp_replace({x}, '[^0-9+]', '', 'g')",
        # scheme, user part of an address, port/path/query and a leading www. all go.
        "domain": (
            "regexp_replace(regexp_replace(regexp_replace(regexp_replace("
            f"{lowered}, '^[a-z][a-z0-9+.-]*://', ''), '^.*@', ''), '[/:?#].*$', ''), "
            "'^www[.]', '')"
        ),
        "email_domain": f"lower(trim(split_part({x}, '@', 2)))",
        "initial": f"left({lowered}, 1)",
    }
    return f"NULLIF({forms[normalizer]}, '')"


def exact_key(rule: ExactRule, text_type: str) -> str:
    """A rule's match key; NULL when any of its fields is NULL or empty."""
    parts = [normalized(f, rule.normalize, text_type) for f in rule.fields]
    return f" || {KEY_SEPARATOR} || ".join(parts)


def block_part(key: BlockKey, text_type: str) -> str:
    expr = normalized(key.field, key.normalize, text_type)
    return f"left({expr}, {key.prefix})" if key.prefix else expr


def block_key(rule: FuzzyRule, text_type: str) -> str:
    return f" || {KEY_SEPARATOR} || ".join(block_part(b, text_type) for b in rule.block_by)


def compare_text(rule: FuzzyRule, text_type: str) -> str:
    """The text a fuzzy rule scores: its fields joined by a space, trimmed and lower-cased."""
    casts = ", ".join(f"CAST({quote(f)} AS {text_type})" for f in rule.fields)
    return f"NULLIF(lower(trim(concat_ws(' ', {casts}))), '')"


def survivor(column: str, spec: FieldSurvivorship, dialect: str, alias: str) -> str:
    """Aggregate picking a cluster's surviving non-null value of `alias.column`.

    Every strategy is an ordering over the members; `_rec_rank` grows with
    `_source_updated_at` (ties broken by member key), so the result is deterministic. Columns
    are qualified by `alias` so a canonical column never collides with the engine's own.
    """
    rec = f"{alias}._rec_rank"
    if spec.strategy == "most_recent":
        order, pick_max = rec, True
    elif spec.strategy == "first_non_null":
        order, pick_max = rec, False
    else:
        sources = spec.sources or []
        cases = " ".join(f"WHEN {literal(s)} THEN {i}" for i, s in enumerate(sources))
        rank = f"(CASE {alias}._source {cases} ELSE {len(sources)} END)"
        # Highest-priority source first; within one source the most recent record.
        order, pick_max = f"({rank} * {PRIORITY_WEIGHT} - {rec})", False
    col = f"{alias}.{quote(column)}"
    if dialect == "duckdb":
        fn = "arg_max" if pick_max else "arg_min"
        return f"{fn}({col}, {order}) FILTER (WHERE {col} IS NOT NULL)"
    direction = "DESC" if pick_max else "ASC"
    return f"(array_agg({col} ORDER BY {order} {direction}) FILTER (WHERE {col} IS NOT NULL))[1]"


def member_hash_sql(model: str) -> str:
    """MD5 hex of a model's member key; `uuid_from_hash_sql` turns it into the golden id.

    Same value as `golden_ids.golden_id_for(model, source, integration, source_id)`.
    """
    return (
        f"md5({literal(model)} || {KEY_SEPARATOR} || _source || {KEY_SEPARATOR} || "
        f"_source_integration || {KEY_SEPARATOR} || _source_id)"
    )


def uuid_from_hash_sql(column: str) -> str:
    """32 hex digits formatted 8-4-4-4-12, as Python's `str(uuid.UUID(hex=...))` does."""
    parts = [(1, 8), (9, 4), (13, 4), (17, 4), (21, 12)]
    return " || '-' || ".join(f"substr({column}, {s}, {n})" for s, n in parts)
