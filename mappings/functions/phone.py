"""phone_normalize: E.164 phone numbers with phonenumbers (default region configurable).

The reference is Python: trim, `phonenumbers.parse(text, region)`, `is_valid_number`, E.164.
Empty text is null; text that does not parse or is not a valid number is a conversion failure.

Phone numbers are nearly all distinct, so deduplicating values saves little; instead SQL decides
the overwhelmingly common North American inputs: digits with spaces, dots, dashes and
parentheses, 10 digits (or 1 + 10) in a NANP default region, or +1 and 10 digits anywhere. The
validity test is phonenumbers' own metadata (every NANP region's number patterns, checked in the
order `is_valid_number` checks them), compiled into SQL. Text with no digit at all is a certain
failure. Everything else (other countries, extensions, letters) goes to Python.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import phonenumbers
from phonenumbers import PhoneMetadata
from pydantic import BaseModel, ConfigDict, field_validator

from mappings.functions.base import FastPath, FunctionContext, FunctionDef, SqlStep
from mappings.sqlgen import Dialect
from mappings.types import FAILED, WHITESPACE

NANP_LENGTH = 10
FORMATTED_DIGITS = r"\+?[0-9 ().-]+"
MAX_INPUT = 250  # phonenumbers refuses longer input


class PhoneConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region: str | None = None

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {value!r} (use an ISO 3166 code, e.g. US)")
        return value.upper() if value else None


def region_for(config: Any, context: FunctionContext) -> str:
    return (getattr(config, "region", None) or context.phone_region or "US").upper()


@lru_cache(maxsize=262_144)
def normalize_phone(value: str, region: str) -> Any:
    text = value.strip(WHITESPACE)
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return FAILED
    if not phonenumbers.is_valid_number(number):
        return FAILED
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _python(config: Any, context: FunctionContext):
    region = region_for(config, context)
    return lambda value: normalize_phone(value, region)


def _desc_sql(d: Dialect, number: str, desc: Any) -> str | None:
    """`_is_number_matching_desc` for a 10-digit national number, or None when it cannot match."""
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = desc.possible_length or ()
    if lengths and NANP_LENGTH not in lengths:
        return None
    return d.full_match(number, desc.national_number_pattern)


def _type_helper_sql(d: Dialect, number: str, meta: Any) -> str:
    """`_number_type_helper(...) != UNKNOWN`: the general pattern and any number type."""
    general = _desc_sql(d, number, meta.general_desc)
    if general is None:
        return "FALSE"
    descs = [
        meta.premium_rate,
        meta.toll_free,
        meta.shared_cost,
        meta.voip,
        meta.personal_number,
        meta.pager,
        meta.uan,
        meta.voicemail,
        meta.fixed_line,
    ]
    if not meta.same_mobile_and_fixed_line_pattern:
        descs.append(meta.mobile)
    alternatives = [s for s in (_desc_sql(d, number, desc) for desc in descs) if s]
    if not alternatives:
        return "FALSE"
    return f"({general} AND ({' OR '.join(alternatives)}))"


def nanp_valid_sql(d: Dialect, number: str) -> str:
    """`is_valid_number` for +1 and a 10-digit national number, as phonenumbers decides it:
    the first region (in its order) whose leading digits or patterns claim the number."""
    branches = []
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1]:
        meta = PhoneMetadata.metadata_for_region(region, None)
        if meta is None:
            continue
        helper = _type_helper_sql(d, number, meta)
        if meta.leading_digits is not None:
            leading = d.contains_match(number, "^(?:" + meta.leading_digits + ")")
            branches.append(f"WHEN {leading} THEN {helper}")
        elif helper != "FALSE":
            branches.append(f"WHEN {helper} THEN TRUE")
    return f"(CASE {' '.join(branches)} ELSE FALSE END)"


def _fast_path(step: SqlStep) -> FastPath:
    b, d = step.builder, step.builder.dialect
    region = region_for(step.config, step.context)
    nanp_default = phonenumbers.country_code_for_region(region) == 1
    t = b.col(f"NULLIF({d.trim(step.value.ref)}, '')", step.value, category="string")
    digits = b.col(
        f"CASE WHEN length({t.ref}) <= {MAX_INPUT} AND {d.full_match(t.ref, FORMATTED_DIGITS)} "
        f"THEN {d.remove_all(t.ref, '[^0-9]')} END",
        t,
        category="string",
    )
    plus = f"(substr({t.ref}, 1, 1) = '+')"
    # national numbers starting 2-9 parse as exactly (1, n): no national prefix or IDD applies
    candidates = [
        f"WHEN {plus} AND {d.full_match(digits.ref, '1[2-9][0-9]{9}')} THEN substr({digits.ref}, 2)"
    ]
    if nanp_default:
        candidates.append(
            f"WHEN NOT {plus} AND {d.full_match(digits.ref, '[2-9][0-9]{9}')} THEN {digits.ref}"
        )
        candidates.append(
            f"WHEN NOT {plus} AND {d.full_match(digits.ref, '1[2-9][0-9]{9}')} "
            f"THEN substr({digits.ref}, 2)"
        )
    national = b.col(f"CASE {' '.join(candidates)} END", t, digits, category="string")
    valid = b.col(
        f"({national.ref} IS NOT NULL AND {nanp_valid_sql(d, national.ref)})",
        national,
        category="boolean",
    )
    no_digit = b.col(
        f"({d.full_match(t.ref, '[ -~]*')} AND NOT {d.contains_match(t.ref, '[0-9]')})",
        t,
        category="boolean",
    )
    decided = b.col(
        f"({t.ref} IS NULL OR {national.ref} IS NOT NULL OR {no_digit.ref})",
        t,
        national,
        no_digit,
        category="boolean",
    )
    value = b.col(
        f"CASE WHEN {valid.ref} THEN concat('+1', {national.ref}) END",
        valid,
        national,
        category="string",
    )
    failed = b.col(
        f"(coalesce({no_digit.ref}, FALSE) OR ({national.ref} IS NOT NULL AND NOT {valid.ref}))",
        no_digit,
        national,
        valid,
        category="boolean",
    )
    return FastPath(decided, value, failed)


PHONE_NORMALIZE = FunctionDef(
    "phone_normalize",
    "E.164 phone number (phonenumbers; region option, default PHONE_DEFAULT_REGION); "
    "invalid -> failure",
    config_model=PhoneConfig,
    python=_python,
    fast_path=_fast_path,
    primary="region",
)
