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
            else f"+1-{200 + h2 % 800:03d}-555-{(h2 >> 10) % 10000:04d}",
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
