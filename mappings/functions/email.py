"""email_normalize: validated (email-validator, no DNS) and lower-cased addresses.

The reference is Python: trim, `validate_email(check_deliverability=False)`, the normalised form
lower-cased entirely (mail systems treat local parts case-insensitively in practice; dedup needs
one spelling). Empty text is null; an invalid address is a conversion failure.

In SQL, two kinds of input are decided without Python, because email-validator's answer for them
is certain: plain ASCII dot-atom addresses under a letters-only top-level domain (value:
lower-cased input) and text that breaks the unquoted address syntax, e.g. without an '@' or
with '..' (failure). Everything else (quoted or unicode local
parts, IDNA, odd lengths) goes to Python. The property tests compare both on random input.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from email_validator import EmailNotValidError, validate_email

from mappings.functions.base import FastPath, FunctionContext, FunctionDef, SqlStep
from mappings.types import FAILED, WHITESPACE

# letters are matched on the original text, so no non-ASCII letter can lower-case into the set
LOCAL_PART = r"[A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)*"
LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
PLAIN_ADDRESS = LOCAL_PART + "@(" + LABEL + r"\.)+[A-Za-z]{2,63}"
# email-validator refuses these special-use top-level names
SPECIAL_USE = ("arpa", "invalid", "local", "localhost", "onion", "test")


@lru_cache(maxsize=262_144)
def normalize_email(value: str) -> Any:
    text = value.strip(WHITESPACE)
    if not text:
        return None
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return FAILED


def _python(config: Any, context: FunctionContext):
    return normalize_email


def _fast_path(step: SqlStep) -> FastPath:
    b, d = step.builder, step.builder.dialect
    t = b.col(f"NULLIF({d.trim(step.value.ref)}, '')", step.value, category="string")
    lowered = b.col(f"lower({t.ref})", t, category="string")
    # string functions, not regular expressions, for everything but the address shape
    special = " OR ".join(f"{lowered.ref} LIKE '%.{name}'" for name in SPECIAL_USE)
    plain = b.col(
        f"({d.full_match(t.ref, PLAIN_ADDRESS)} AND length({t.ref}) <= 254 "
        f"AND strpos({t.ref}, '@') <= 65 "
        f"AND strpos(substr({t.ref}, strpos({t.ref}, '@')), '--') = 0 AND NOT ({special}))",
        t,
        lowered,
        category="boolean",
    )
    # certain failures: no '@'; or, without quotes, '..', a leading/trailing dot, a dot next
    # to the '@', or a second '@' (the dot-atom syntax allows none of them)
    after_at = f"substr({t.ref}, strpos({t.ref}, '@') + 1)"
    broken = b.col(
        f"(strpos({t.ref}, '@') = 0 OR (strpos({t.ref}, '\"') = 0 AND ("
        f"strpos({t.ref}, '..') > 0 OR substr({t.ref}, 1, 1) = '.' "
        f"OR substr({t.ref}, length({t.ref}), 1) = '.' OR strpos({t.ref}, '.@') > 0 "
        f"OR strpos({t.ref}, '@.') > 0 OR strpos({after_at}, '@') > 0)))",
        t,
        category="boolean",
    )
    decided = b.col(
        f"({t.ref} IS NULL OR {broken.ref} OR {plain.ref})", t, broken, plain, category="boolean"
    )
    value = b.col(
        f"CASE WHEN {plain.ref} THEN {lowered.ref} END", lowered, plain, category="string"
    )
    failed = b.col(f"coalesce({broken.ref}, FALSE)", broken, category="boolean")
    return FastPath(decided, value, failed)


EMAIL_NORMALIZE = FunctionDef(
    "email_normalize",
    "validated, lower-cased e-mail address (email-validator, no DNS); invalid -> failure",
    python=_python,
    fast_path=_fast_path,
)
