"""Deterministic synthetic base records, generated on the fly from (seed, type, index).

Nothing is stored: base record `i` of a type is a pure function of the seed, so a portal of
millions of records costs no memory. Timestamps are monotonic in `i`, with `ties_per_timestamp`
consecutive records sharing one millisecond, so the last-modified index is arithmetic.
"""

from __future__ import annotations

from sandbox.common.timefmt import iso_ms
from sandbox.hubspot.config import HubSpotSandboxConfig
from sandbox.hubspot.objtypes import ObjectType
from sandbox.hubspot.schema import (
    CUSTOM_KINDS,
    CUSTOM_OPTIONS,
    DEAL_STAGES,
    INDUSTRIES,
    LEAD_STATUSES,
    LIFECYCLE_STAGES,
)

M64 = (1 << 64) - 1
FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Barbara",
    "Dennis",
    "Ken",
    "Margaret",
    "Edsger",
    "Donald",
    "Frances",
    "Radia",
    "John",
    "Katherine",
    "Tim",
    "Guido",
    "Yukihiro",
    "Bjarne",
    "Anders",
    "Hedy",
    "Niklaus",
    "Leslie",
    "Sophie",
    "Carl",
    "Maria",
    "Omar",
    "Priya",
    "Wei",
    "Chen",
    "Lucia",
    "Mateo",
    "Amara",
    "Kofi",
    "Ingrid",
    "Sven",
    "Aiko",
    "Hiro",
    "Fatima",
    "Noor",
    "Diego",
    "Elena",
    "Ivan",
    "Olga",
    "Pierre",
    "Zoe",
]
LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Liskov",
    "Ritchie",
    "Thompson",
    "Hamilton",
    "Dijkstra",
    "Knuth",
    "Allen",
    "Perlman",
    "McCarthy",
    "Johnson",
    "Berners-Lee",
    "Rossum",
    "Matsumoto",
    "Stroustrup",
    "Hejlsberg",
    "Lamarr",
    "Wirth",
    "Lamport",
    "Wilson",
    "Smith",
    "Garcia",
    "Haddad",
    "Patel",
    "Zhang",
    "Li",
    "Rossi",
    "Lopez",
    "Okafor",
    "Mensah",
    "Berg",
    "Larsen",
    "Tanaka",
    "Sato",
    "Khan",
    "Ali",
    "Silva",
    "Petrova",
    "Ivanova",
    "Dubois",
    "Martin",
    "Nguyen",
]
DOMAINS = [
    "example.com",
    "example.org",
    "acme.io",
    "globex.com",
    "initech.net",
    "umbrella.co",
    "hooli.com",
    "stark.dev",
    "wayne.biz",
    "soylent.org",
]
PLACES = (
    ("Boston", "MA", "United States"),
    ("Austin", "TX", "United States"),
    ("Seattle", "WA", "United States"),
    ("Dublin", "Dublin", "Ireland"),
    ("Berlin", "Berlin", "Germany"),
    ("Paris", "Ile-de-France", "France"),
    ("Tokyo", "Tokyo", "Japan"),
    ("Toronto", "ON", "Canada"),
    ("Sydney", "NSW", "Australia"),
    ("Sao Paulo", "SP", "Brazil"),
)
JOBS = [
    "Engineer",
    "Manager",
    "Director",
    "Analyst",
    "Consultant",
    "Designer",
    "Founder",
    "Accountant",
    "Recruiter",
    "Scientist",
]
WORDS = [
    "Blue",
    "Red",
    "Green",
    "North",
    "South",
    "Rapid",
    "Bright",
    "Prime",
    "Nova",
    "Apex",
    "Summit",
    "Vertex",
    "Quantum",
    "Solar",
    "Iron",
    "Silver",
    "Golden",
    "Cedar",
    "Maple",
    "River",
]
NOUNS = [
    "Labs",
    "Systems",
    "Works",
    "Dynamics",
    "Partners",
    "Holdings",
    "Logistics",
    "Media",
    "Foods",
    "Health",
]
WORDS_LOWER = [w.lower() for w in WORDS]
DAY_MS = 86_400_000

# --- contact phones ------------------------------------------------------------------------
# As a real CRM holds them: mostly valid numbers of the contact's country, typed the ways people
# type them (E.164, national formats with spaces, dashes, dots or parentheses, extensions), and
# PHONE_INVALID_PER_MILLE of the present ones junk (too short, placeholders, words, an area code
# that does not exist). Each number is (prefix, subscriber digits) with prefixes valid in
# libphonenumber's metadata; tests/unit/test_sandbox_hubspot_phones.py holds the shares to it.
PHONE_INVALID_PER_MILLE = 30
PHONE_SALT = 0x50484F4E45  # "PHONE": the phone's own hash, independent of the other fields
# country -> (calling code, [(national prefix, subscriber digits)], national trunk prefix)
PHONE_PLANS: dict[str, tuple[str, list[tuple[str, int]], str]] = {
    "United States": ("1", [(a, 7) for a in ("617", "857", "512", "737", "206", "425")], "1"),
    "Canada": ("1", [(a, 7) for a in ("416", "647", "437")], "1"),
    "Ireland": ("353", [("1", 7), ("83", 7), ("85", 7), ("87", 7)], "0"),
    "Germany": ("49", [("30", 8), ("151", 8), ("160", 7), ("170", 7)], "0"),
    "France": ("33", [("1", 8), ("61", 7), ("62", 7), ("78", 7)], "0"),
    "Japan": ("81", [("3", 8), ("90", 8), ("80", 8)], "0"),
    "Australia": ("61", [("29", 7), ("38", 7), ("40", 7), ("41", 7)], "0"),
    "Brazil": ("55", [("119", 8), ("113", 7)], "0"),
}
PHONE_JUNK = (
    "n/a",
    "TBD",
    "call reception",
    "000-000-0000",
    "12345",
    "555-01{d2}",  # no area code
    "+1 (099) {d3}-{d4}",  # area codes never start with 0
    "+{cc} {d2}",  # a calling code and two digits
    "617555{d4}{d3}{d3}",  # sixteen digits (two numbers in one field): no plan has them
)


def _digits(h: int, n: int) -> str:
    return f"{h % 10**n:0{n}d}"


def contact_phone(country: str, h: int) -> str:
    """One present phone value of a contact in `country`, from the 64-bit hash h."""
    cc, prefixes, trunk = PHONE_PLANS.get(country, PHONE_PLANS["United States"])
    if h % 1000 < PHONE_INVALID_PER_MILLE:
        junk = PHONE_JUNK[(h >> 10) % len(PHONE_JUNK)]
        return junk.format(
            d2=_digits(h >> 14, 2), d3=_digits(h >> 20, 3), d4=_digits(h >> 30, 4), cc=cc
        )
    prefix, length = prefixes[(h >> 10) % len(prefixes)]
    h >>= 14
    if cc == "1":
        # NANP: exchange 200-999 but never N11 or 555 (555 is fictional outside 555-01XX)
        exchange = 200 + h % 800
        if exchange % 100 == 11 or exchange == 555:
            exchange += 1
        line = _digits(h >> 10, 4)
        style = (h >> 24) % 10
        extension = (h >> 28) % 12 == 0  # about 8% carry an extension
        text = (
            f"({prefix}) {exchange}-{line}",
            f"{prefix}-{exchange}-{line}",
            f"{prefix}.{exchange}.{line}",
            f"{prefix}{exchange}{line}",
            f"1-{prefix}-{exchange}-{line}",
            f"+1 {prefix}-{exchange}-{line}",
            f"+1 ({prefix}) {exchange}-{line}",
            f"+1{prefix}{exchange}{line}",
            f"+1 {prefix} {exchange} {line}",
            f"{prefix} {exchange} {line}",
        )[style]
        if extension:
            text += (" x", " ext. ", " #")[(h >> 32) % 3] + str(10 + (h >> 34) % 990)
        return text
    subscriber = _digits(h, length)
    # a subscriber number never starts with 0 or 1 (those would be other services)
    subscriber = str(2 + int(subscriber[0]) % 8) + subscriber[1:]
    half = len(subscriber) // 2
    style = (h >> 30) % 4
    if style == 0:
        return f"+{cc}{prefix}{subscriber}"  # E.164
    if style == 1:
        return f"+{cc} {prefix} {subscriber[:half]} {subscriber[half:]}"
    if style == 2:
        return f"+{cc} ({trunk}){prefix} {subscriber}"  # the trunk prefix kept in brackets
    return f"+{cc}-{prefix}-{subscriber[:half]}-{subscriber[half:]}"


def mix64(x: int) -> int:
    """splitmix64 finaliser: a cheap, well-spread 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


class BaseRecords:
    """Generator of one object type's base records for a given configuration."""

    def __init__(self, otype: ObjectType, config: HubSpotSandboxConfig, count: int) -> None:
        self.otype = otype
        self.count = count
        self.ties = config.ties_per_timestamp
        self.start_ms = config.base_start_ms
        groups = max(1, -(-count // self.ties))
        self.step_ms = max(1, config.base_span_ms // groups)
        self.key = mix64(config.seed * 1_000_003 + otype.code)
        self.custom_count = config.custom_properties
        kinds = [k for k, _ in CUSTOM_KINDS]
        self._custom = [
            (f"custom_prop_{k}", kinds.index(CUSTOM_KINDS[(k - 1) % 5][0]), k % 41, (7 * k) % 37)
            for k in range(1, config.custom_properties + 1)
        ]
        self._gen = {
            "contacts": self._contact,
            "companies": self._company,
            "deals": self._deal,
        }[otype.name]

    # --- ids and timestamps -------------------------------------------------------------
    def id_of(self, i: int) -> int:
        return self.otype.id_base + i

    def index_of(self, record_id: int) -> int | None:
        i = record_id - self.otype.id_base
        return i if 0 <= i < self.count else None

    @property
    def first_id(self) -> int:
        return self.otype.id_base

    @property
    def end_id(self) -> int:
        """One past the last base id."""
        return self.otype.id_base + self.count

    def lastmod(self, i: int) -> int:
        return self.start_ms + (i // self.ties) * self.step_ms

    def first_index_at_or_after(self, ms: int) -> int:
        """Smallest i whose lastmod >= ms (count when none)."""
        if ms <= self.start_ms:
            return 0
        group = -(-(ms - self.start_ms) // self.step_ms)
        return min(self.count, group * self.ties)

    def end_index_at_or_before(self, ms: int) -> int:
        """One past the largest i whose lastmod <= ms."""
        if ms < self.start_ms:
            return 0
        group = (ms - self.start_ms) // self.step_ms
        return min(self.count, (group + 1) * self.ties)

    def created(self, i: int, h: int) -> int:
        return self.lastmod(i) - (h % (90 * DAY_MS))

    # --- record generation --------------------------------------------------------------
    def hashes(self, i: int) -> tuple[int, int]:
        h1 = mix64(self.key ^ i)
        return h1, mix64(h1)

    def props(self, i: int) -> dict[str, str | None]:
        """All property values of base record i (strings or None)."""
        return self.row_parts(i)[0]

    def row_parts(self, i: int) -> tuple[dict[str, str | None], int]:
        """(all property values, created ms) of base record i."""
        h1 = mix64(self.key ^ i)
        h2 = mix64(h1)
        created = self.lastmod(i) - (h2 % (90 * DAY_MS))
        props = self._gen(i, h1, h2, created)
        for name, kind, s1, s2 in self._custom:
            hk = (h2 >> s1) ^ (h1 >> s2)
            if hk % 7 == 0:
                props[name] = None
            elif kind == 0:
                props[name] = f"{WORDS_LOWER[hk % len(WORDS)]}-{hk % 1000}"
            elif kind == 1:
                props[name] = CUSTOM_OPTIONS[(hk >> 3) % 3]
            elif kind == 2:
                props[name] = str((hk >> 5) % 100000)
            elif kind == 3:
                props[name] = iso_ms(self.start_ms + (hk >> 4) % (365 * DAY_MS))
            else:
                props[name] = "true" if (hk >> 6) & 1 else "false"
        return props, created

    def created_ms(self, i: int) -> int:
        h2 = mix64(mix64(self.key ^ i))
        return self.created(i, h2)

    def _contact(self, i: int, h1: int, h2: int, created: int) -> dict[str, str | None]:
        rid = self.otype.id_base + i
        first = FIRST[h1 % len(FIRST)]
        last = LAST[(h1 >> 8) % len(LAST)]
        domain = DOMAINS[(h1 >> 16) % len(DOMAINS)]
        city, state, country = PLACES[(h1 >> 20) % len(PLACES)]
        lm = iso_ms(self.start_ms + (i // self.ties) * self.step_ms)
        return {
            "firstname": first,
            "lastname": last,
            "email": f"{first.lower()}.{last.lower()}.{rid}@{domain}",
            "phone": None
            if (h1 >> 24) % 7 == 0
            else contact_phone(country, mix64(h2 ^ PHONE_SALT)),
            "company": None
            if (h1 >> 28) % 9 == 0
            else f"{WORDS[(h2 >> 20) % len(WORDS)]} {NOUNS[(h2 >> 25) % len(NOUNS)]}",
            "website": None if (h1 >> 32) % 4 == 0 else f"https://www.{domain}",
            "city": city,
            "state": None if (h1 >> 36) % 11 == 0 else state,
            "country": country,
            "jobtitle": None if (h1 >> 40) % 5 == 0 else JOBS[(h2 >> 30) % len(JOBS)],
            "lifecyclestage": LIFECYCLE_STAGES[(h2 >> 35) % len(LIFECYCLE_STAGES)],
            "hs_lead_status": None
            if (h1 >> 44) % 3 == 0
            else LEAD_STATUSES[(h2 >> 40) % len(LEAD_STATUSES)],
            "createdate": iso_ms(created),
            "lastmodifieddate": lm,
            "hs_object_id": str(rid),
        }

    def _company(self, i: int, h1: int, h2: int, created: int) -> dict[str, str | None]:
        rid = self.otype.id_base + i
        word = WORDS[h1 % len(WORDS)]
        noun = NOUNS[(h1 >> 8) % len(NOUNS)]
        city, _state, country = PLACES[(h1 >> 16) % len(PLACES)]
        return {
            "name": f"{word} {noun} {i + 1}",
            "domain": f"{word.lower()}{noun.lower()}{i + 1}.com",
            "industry": None if (h1 >> 24) % 6 == 0 else INDUSTRIES[(h2 >> 3) % len(INDUSTRIES)],
            "city": city,
            "country": country,
            "phone": None if (h1 >> 28) % 5 == 0 else f"+1-617-555-{(h2 >> 12) % 10000:04d}",
            "numberofemployees": None if (h1 >> 32) % 8 == 0 else str(1 + (h2 >> 20) % 5000),
            "annualrevenue": None if (h1 >> 36) % 4 == 0 else str(((h2 >> 30) % 100000) * 1000),
            "createdate": iso_ms(created),
            "hs_lastmodifieddate": iso_ms(self.start_ms + (i // self.ties) * self.step_ms),
            "hs_object_id": str(rid),
        }

    def _deal(self, i: int, h1: int, h2: int, created: int) -> dict[str, str | None]:
        rid = self.otype.id_base + i
        lm = self.start_ms + (i // self.ties) * self.step_ms
        cents = (h2 >> 8) % 100
        return {
            "dealname": f"{WORDS[h1 % len(WORDS)]} deal {i + 1}",
            "amount": None if (h1 >> 16) % 10 == 0 else f"{100 + (h2 % 99900)}.{cents:02d}",
            "dealstage": DEAL_STAGES[(h1 >> 20) % len(DEAL_STAGES)],
            "pipeline": "default",
            "closedate": None if (h1 >> 24) % 3 == 0 else iso_ms(lm + (h2 >> 16) % (60 * DAY_MS)),
            "createdate": iso_ms(created),
            "hs_lastmodifieddate": iso_ms(lm),
            "hs_object_id": str(rid),
        }
