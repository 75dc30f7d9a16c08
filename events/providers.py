"""What routing and handlers ask the provider registry: is a provider known, its entities, the
entity an event's object type names, its apply rules.

Every answer comes from `sources.provider.providers`; this module never names a provider and
never fails for a provider the registry does not know (it answers None instead, and callers
decide what that means).
"""

from __future__ import annotations

from sources.provider import ApplyRules, EntitySpec, Provider, providers

ANY_PROVIDER = "*"


def provider_named(name: str) -> Provider | None:
    """The registered provider called `name`, or None."""
    return providers.get(name) if name in providers else None


def provider_names() -> list[str]:
    return providers.names()


def entity_spec(provider: str, entity: str | None) -> EntitySpec | None:
    """The provider's spec of `entity`, or None when either is unknown."""
    found = provider_named(provider)
    if found is None or entity is None:
        return None
    return found.entities.get(entity)


def entity_of(provider: str, object_type: str | None) -> str | None:
    """The entity an event's object type names: the provider's `entity_for`, else the object
    type itself (receivers store most object types as entity names already)."""
    found = provider_named(provider)
    if found is not None and found.webhooks is not None and object_type is not None:
        entity = found.webhooks.entity_for(object_type)
        if entity:
            return entity
    return object_type


def apply_rules_of(provider: str) -> tuple[Provider, ApplyRules] | None:
    """The provider and its apply rules, or None when it has none (or is not registered)."""
    found = provider_named(provider)
    if found is None or found.webhooks is None or found.webhooks.apply is None:
        return None
    return found, found.webhooks.apply


def providers_with_apply() -> list[str]:
    """Names of the providers whose events `action: apply` may write."""
    return [p.name for p in providers.all() if p.webhooks is not None and p.webhooks.apply]
