"""Associations between contacts, companies and deals: deterministic base links plus edits.

Base links are invertible affine maps of record indices, so both directions can be enumerated
arithmetically for any portal size: contact i → company (a1·i + b1) mod C; deal j → company
(a2·j + b2) mod C; deal j → contact (a3·j + b3) mod N and, for some deals, a second contact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sandbox.hubspot.synth import mix64

HUBSPOT_DEFINED = "HUBSPOT_DEFINED"
USER_DEFINED = "USER_DEFINED"

# (from, to) → (unlabelled type id, primary type id or None)
TYPE_IDS: dict[tuple[str, str], tuple[int, int | None]] = {
    ("contacts", "companies"): (279, 1),
    ("companies", "contacts"): (280, 2),
    ("deals", "contacts"): (3, None),
    ("contacts", "deals"): (4, None),
    ("deals", "companies"): (341, 5),
    ("companies", "deals"): (342, 6),
}
INVERSE_TYPE = {1: 2, 2: 1, 279: 280, 280: 279, 3: 4, 4: 3, 5: 6, 6: 5, 341: 342, 342: 341}
V3_NAMES = {
    1: "contact_to_company",
    279: "contact_to_company_unlabeled",
    2: "company_to_contact",
    280: "company_to_contact_unlabeled",
    3: "deal_to_contact",
    4: "contact_to_deal",
    5: "deal_to_company",
    341: "deal_to_company_unlabeled",
    6: "company_to_deal",
    342: "company_to_deal_unlabeled",
}
PRIMARY_LABEL = "Primary"

Spec = tuple[str, int]  # (category, typeId)


def _coprime(a: int, n: int) -> int:
    if n <= 1:
        return 1
    a = a % n or 1
    while math.gcd(a, n) != 1:
        a += 1
    return a


@dataclass(slots=True)
class _Affine:
    a: int
    b: int
    n: int  # modulus (target count)
    inv: int = 0

    def __post_init__(self) -> None:
        self.a = _coprime(self.a, self.n)
        self.inv = pow(self.a, -1, self.n) if self.n > 1 else 0

    def fwd(self, i: int) -> int:
        return (self.a * i + self.b) % self.n

    def sources(self, k: int, source_count: int) -> range:
        """All i < source_count with fwd(i) == k (an arithmetic progression)."""
        if self.n == 0:
            return range(0)
        i0 = ((k - self.b) * self.inv) % self.n if self.n > 1 else 0
        return range(i0, source_count, self.n)


@dataclass
class AssociationGraph:
    """All associations of one portal. Ids are record ids; types are plural names."""

    seed: int
    counts: dict[str, int]
    id_bases: dict[str, int]
    added: dict[tuple[str, int, str], dict[int, set[Spec]]] = field(default_factory=dict)
    removed: set[tuple[str, int, str, int]] = field(default_factory=set)
    labels: dict[tuple[str, str], dict[int, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s = mix64(self.seed * 7919 + 17)
        n_contacts, n_companies = self.counts["contacts"], self.counts["companies"]
        self.contact_company = _Affine(s % 997 + 1, s >> 20, n_companies)
        self.deal_company = _Affine((s >> 10) % 991 + 1, s >> 30, n_companies)
        self.deal_contact1 = _Affine((s >> 15) % 983 + 1, s >> 35, n_contacts)
        self.deal_contact2 = _Affine((s >> 25) % 977 + 1, s >> 40, n_contacts)
        self.second_key = s

    # --- base links -------------------------------------------------------------------
    def _has_second(self, j: int) -> bool:
        if self.counts["contacts"] < 2:
            return False
        if mix64(self.second_key ^ j) % 2 == 0:
            return False
        return self.deal_contact1.fwd(j) != self.deal_contact2.fwd(j)

    def _base_links(self, from_type: str, idx: int, to_type: str) -> list[tuple[int, bool]]:
        """(target index, is_primary) of base links for base record idx."""
        c = self.counts
        if c["companies"] == 0 and "companies" in (from_type, to_type):
            return []
        if c["contacts"] == 0 and "contacts" in (from_type, to_type):
            return []
        pair = (from_type, to_type)
        if pair == ("contacts", "companies"):
            return [(self.contact_company.fwd(idx), True)]
        if pair == ("companies", "contacts"):
            return [(i, True) for i in self.contact_company.sources(idx, c["contacts"])]
        if pair == ("deals", "companies"):
            return [(self.deal_company.fwd(idx), True)]
        if pair == ("companies", "deals"):
            return [(j, True) for j in self.deal_company.sources(idx, c["deals"])]
        if pair == ("deals", "contacts"):
            out = [(self.deal_contact1.fwd(idx), False)]
            if self._has_second(idx):
                out.append((self.deal_contact2.fwd(idx), False))
            return out
        if pair == ("contacts", "deals"):
            js = set(self.deal_contact1.sources(idx, c["deals"]))
            js.update(j for j in self.deal_contact2.sources(idx, c["deals"]) if self._has_second(j))
            return [(j, False) for j in sorted(js)]
        return []

    # --- queries ----------------------------------------------------------------------
    def links(self, from_type: str, from_id: int, to_type: str) -> dict[int, set[Spec]]:
        """Target id → association specs, base links (minus removed) plus added ones."""
        out: dict[int, set[Spec]] = {}
        pair = (from_type, to_type)
        if pair in TYPE_IDS:
            unlabelled, primary = TYPE_IDS[pair]
            idx = from_id - self.id_bases[from_type]
            if 0 <= idx < self.counts[from_type]:
                to_base = self.id_bases[to_type]
                for t_idx, is_primary in self._base_links(from_type, idx, to_type):
                    tid = to_base + t_idx
                    if (from_type, from_id, to_type, tid) in self.removed:
                        continue
                    specs: set[Spec] = {(HUBSPOT_DEFINED, unlabelled)}
                    if is_primary and primary is not None:
                        specs.add((HUBSPOT_DEFINED, primary))
                    out[tid] = specs
        for tid, specs in self.added.get((from_type, from_id, to_type), {}).items():
            out.setdefault(tid, set()).update(specs)
        return out

    def label_of(self, from_type: str, to_type: str, spec: Spec) -> str | None:
        category, type_id = spec
        if category == HUBSPOT_DEFINED:
            primary = TYPE_IDS.get((from_type, to_type), (0, None))[1]
            return PRIMARY_LABEL if type_id == primary else None
        return self.labels.get((from_type, to_type), {}).get(type_id)

    def known_type(self, from_type: str, to_type: str, spec: Spec) -> bool:
        category, type_id = spec
        if category == HUBSPOT_DEFINED:
            return type_id in TYPE_IDS.get((from_type, to_type), (-1, -1))
        return type_id in self.labels.get((from_type, to_type), {})

    def all_labels(self, from_type: str, to_type: str) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        if (from_type, to_type) in TYPE_IDS:
            unlabelled, primary = TYPE_IDS[(from_type, to_type)]
            if primary is not None:
                out.append({"category": HUBSPOT_DEFINED, "typeId": primary, "label": "Primary"})
            out.append({"category": HUBSPOT_DEFINED, "typeId": unlabelled, "label": None})
        for type_id, label in self.labels.get((from_type, to_type), {}).items():
            out.append({"category": USER_DEFINED, "typeId": type_id, "label": label})
        return out

    def create_label(self, from_type: str, to_type: str, label: str) -> int:
        existing = [t for lab in self.labels.values() for t in lab]
        type_id = max(existing, default=99) + 1
        self.labels.setdefault((from_type, to_type), {})[type_id] = label
        self.labels.setdefault((to_type, from_type), {})[type_id] = label
        return type_id

    # --- edits ------------------------------------------------------------------------
    def _inverse(self, spec: Spec) -> Spec:
        category, type_id = spec
        if category == HUBSPOT_DEFINED:
            return (category, INVERSE_TYPE.get(type_id, type_id))
        return spec

    def add(self, from_type: str, from_id: int, to_type: str, to_id: int, specs: set[Spec]) -> None:
        self.removed.discard((from_type, from_id, to_type, to_id))
        self.removed.discard((to_type, to_id, from_type, from_id))
        self.added.setdefault((from_type, from_id, to_type), {}).setdefault(to_id, set()).update(
            specs
        )
        inv = {self._inverse(s) for s in specs}
        self.added.setdefault((to_type, to_id, from_type), {}).setdefault(from_id, set()).update(
            inv
        )

    def remove(self, from_type: str, from_id: int, to_type: str, to_id: int) -> None:
        for a, ai, b, bi in (
            (from_type, from_id, to_type, to_id),
            (to_type, to_id, from_type, from_id),
        ):
            self.added.get((a, ai, b), {}).pop(bi, None)
            self.removed.add((a, ai, b, bi))
