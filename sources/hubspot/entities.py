"""The HubSpot CRM objects we extract, described as data: object type, modification property,
associations inlined on list reads, and the association tables they feed.

Adding an object type here (tickets, a custom object) is the whole change needed to extract it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AssociationSpec:
    """One association table: rows (from_id, to_id, type ids) for a pair of object types."""

    table: str
    from_entity: str
    to_object_type: str
    from_column: str
    to_column: str


@dataclass(frozen=True)
class HubSpotEntity:
    name: str
    object_type: str
    object_type_id: str
    lastmod_property: str
    associations: tuple[AssociationSpec, ...] = ()

    @property
    def association_types(self) -> tuple[str, ...]:
        return tuple(a.to_object_type for a in self.associations)


CONTACT_COMPANY = AssociationSpec(
    "contact_companies", "contacts", "companies", "contact_id", "company_id"
)
DEAL_COMPANY = AssociationSpec("deal_companies", "deals", "companies", "deal_id", "company_id")
DEAL_CONTACT = AssociationSpec("deal_contacts", "deals", "contacts", "deal_id", "contact_id")

ENTITIES: dict[str, HubSpotEntity] = {
    "contacts": HubSpotEntity(
        "contacts", "contacts", "0-1", "lastmodifieddate", (CONTACT_COMPANY,)
    ),
    "companies": HubSpotEntity("companies", "companies", "0-2", "hs_lastmodifieddate"),
    "deals": HubSpotEntity(
        "deals", "deals", "0-3", "hs_lastmodifieddate", (DEAL_COMPANY, DEAL_CONTACT)
    ),
}

ASSOCIATIONS: dict[str, AssociationSpec] = {
    spec.table: spec for entity in ENTITIES.values() for spec in entity.associations
}


def resolve_entities(names: list[str] | None) -> list[HubSpotEntity]:
    """Entities selected by name (all when None); unknown names are a clear error."""
    from core.errors import ValidationError

    if not names:
        return list(ENTITIES.values())
    unknown = [n for n in names if n not in ENTITIES]
    if unknown:
        raise ValidationError(
            f"unknown HubSpot entities: {', '.join(unknown)}",
            provider="hubspot",
            hint=f"choose from {', '.join(ENTITIES)}",
        )
    return [ENTITIES[n] for n in names]
