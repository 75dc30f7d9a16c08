"""The HubSpot sandbox's contact phones look like a real CRM's: mostly valid numbers of the
contact's country in the formats people type (E.164, national with spaces, dashes, dots or
parentheses, extensions), a few per cent invalid, the same for the same seed."""

from __future__ import annotations

import re
from collections import Counter

import phonenumbers
import pytest

from sandbox.hubspot.config import HubSpotSandboxConfig
from sandbox.hubspot.objtypes import CONTACTS
from sandbox.hubspot.synth import PHONE_INVALID_PER_MILLE, BaseRecords

COUNT = 20_000


def contacts(seed: int, count: int = COUNT) -> list[dict]:
    base = BaseRecords(CONTACTS, HubSpotSandboxConfig(seed=seed, contacts=count), count)
    return [base.props(i) for i in range(count)]


def valid(text: str) -> bool:
    """What phone_normalize accepts: parsed with the default region US, a valid number."""
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(text, "US"))
    except phonenumbers.NumberParseException:
        return False


@pytest.mark.parametrize("seed", [42, 7])
def test_a_few_per_cent_of_present_phones_are_invalid(seed):
    phones = [c["phone"] for c in contacts(seed)]
    present = [p for p in phones if p is not None]

    invalid = sum(not valid(p) for p in present) / len(present)

    assert 0.10 < 1 - len(present) / len(phones) < 0.20  # about 1 in 7 has no phone
    # the documented rate (3%), measured through libphonenumber, with sampling slack
    assert abs(invalid - PHONE_INVALID_PER_MILLE / 1000) < 0.006, invalid


def test_phones_come_in_the_formats_real_crms_hold_and_match_the_country():
    records = [c for c in contacts(42) if c["phone"] is not None and valid(c["phone"])]
    shapes = Counter()
    for record in records:
        phone = record["phone"]
        if re.fullmatch(r"\+[0-9]{8,15}", phone):
            shapes["e164"] += 1
        elif re.search(r"( x| ext\. | #)[0-9]+$", phone):
            shapes["extension"] += 1
        elif phone.startswith("+"):
            shapes["international formatted"] += 1
        elif "(" in phone:
            shapes["national (area code)"] += 1
        else:
            shapes["national"] += 1
        number = phonenumbers.parse(phone, "US")
        region = phonenumbers.region_code_for_number(number)
        expected = {"United States": "US", "Canada": "CA", "Ireland": "IE", "Germany": "DE",
                    "France": "FR", "Japan": "JP", "Australia": "AU", "Brazil": "BR"}  # fmt: skip
        assert region == expected[record["country"]], (phone, record["country"])
    for shape in shapes:
        assert shapes[shape] / len(records) > 0.02, shapes
    assert len(shapes) == 5, shapes
    # no two contacts share a number by accident (dedup would merge them)
    e164 = Counter(
        phonenumbers.format_number(
            phonenumbers.parse(r["phone"], "US"), phonenumbers.PhoneNumberFormat.E164
        )
        for r in records
    )
    assert e164.most_common(1)[0][1] <= 2


def test_phones_are_deterministic_by_seed():
    assert [c["phone"] for c in contacts(42, 500)] == [c["phone"] for c in contacts(42, 500)]
    assert [c["phone"] for c in contacts(42, 500)] != [c["phone"] for c in contacts(43, 500)]
