"""email_normalize: validated (email-validator, no DNS) and lower-cased addresses.

The reference is Python: trim, `validate_email(check_deliverability=False)`, the normalised form
lower-cased entirely (mail systems treat local parts case-insensitively in practice; dedup needs
one spelling). Empty text is null; an invalid address is a conversion failure.

In SQL, two kinds of input are decided without Python, because email-validator's answer for them
is certain: plain ASCII dot-atom addresses under a letters-only top-level domain (value:
lower-cased input) and text without an '@' (failure). Everything else (quoted or unicode local
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
TLD_PREFIX = r"^.*\."
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
    domain = d.replace_first(t.ref, "^[^@]*@", "")
    tld = "lower(" + d.replace_first(t.ref, TLD_PREFIX, "") + ")"
    special = ", ".join(f"'{s}'" for s in SPECIAL_USE)
    plain = b.col(
        f"({d.full_match(t.ref, PLAIN_ADDRESS)} AND length({t.ref}) <= 254 "
        f"AND strpos({t.ref}, '@') <= 65 AND strpos({domain}, '--') = 0 "
        f"AND {tld} NOT IN ({special}))",
        t,
        category="boolean",
    )
    no_at = b.col(f"(strpos({t.ref}, '@') = 0)", t, category="boolean")
    decided = b.col(
        f"({t.ref} IS NULL OR {no_at.ref} OR {plain.ref})", t, no_at, plain, category="boolean"
    )
    value = b.col(f"CASE WHEN {plain.ref} THEN lower({t.ref}) END", t, plain, category="string")
    failed = b.col(f"coalesce({no_at.ref}, FALSE)", no_at, category="boolean")
    return FastPath(decided, value, failed)


EMAIL_NORMALIZE = FunctionDef(
    "email_normalize",
    "validated, lower-cased e-mail address (email-validator, no DNS); invalid -> failure",
    python=_python,
    fast_path=_fast_path,
)
