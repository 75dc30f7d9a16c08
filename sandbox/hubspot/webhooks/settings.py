"""Webhook settings of the sandbox app: target URL, signing, subscriptions, batching, retries.

Part of `HubSpotSandboxConfig` (`webhooks`), so a portal can start with a webhook target, be
re-seeded through `/_sandbox/reset`, and be changed at runtime through `/_sandbox/webhooks` or
HubSpot's own `/webhooks/v3/{appId}/...` API. The fields every sender has come from
`sandbox.common.webhooks.settings.SenderSettings`; this module adds HubSpot's (subscriptions,
signature versions, the developer API key) and HubSpot's defaults (batches of at most 100, its
retry schedule, its user agent). Pure data: this module never sends anything.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sandbox.common.webhooks.settings import RetryPolicy, SenderSettings

OBJECT_KINDS = ("contact", "company", "deal", "ticket", "product", "line_item", "object")
EVENT_KINDS = (
    "creation",
    "deletion",
    "propertyChange",
    "associationChange",
    "merge",
    "restore",
    "privacyDeletion",
)
# What the sandbox can emit: it has no tickets, products, line items, merges or restores.
EMITTED_KINDS = ("creation", "deletion", "propertyChange", "associationChange")
DEFAULT_EVENT_TYPES = tuple(
    f"{obj}.{kind}" for obj in ("contact", "company", "deal") for kind in EMITTED_KINDS
)


def valid_event_type(event_type: str) -> bool:
    """HubSpot's CRM subscription types (`contact.creation`, `object.propertyChange`, ...)."""
    obj, _, kind = event_type.partition(".")
    if obj not in OBJECT_KINDS or kind not in EVENT_KINDS:
        return False
    return kind != "privacyDeletion" or obj == "contact"


class Subscription(BaseModel):
    """One event subscription in HubSpot's shape. `propertyName` None on a propertyChange
    subscription means every property (a sandbox convenience; HubSpot asks for one name)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: int | None = Field(None, ge=1)
    eventType: str
    propertyName: str | None = None
    objectTypeId: str | None = None  # required by the generic `object.*` types
    active: bool = True

    @model_validator(mode="before")
    @classmethod
    def _from_shorthand(cls, data: Any) -> Any:
        """`"contact.propertyChange:email"` → {eventType, propertyName} (CLI and JSON shorthand)."""
        if isinstance(data, str):
            event_type, _, prop = data.partition(":")
            return {"eventType": event_type, "propertyName": prop or None}
        return data

    @model_validator(mode="after")
    def _check(self) -> Subscription:
        if not valid_event_type(self.eventType):
            raise ValueError(f"unknown eventType {self.eventType!r}")
        if self.propertyName is not None and not self.eventType.endswith(".propertyChange"):
            raise ValueError("propertyName only applies to propertyChange subscriptions")
        is_generic = self.eventType.startswith("object.")
        if is_generic and not self.objectTypeId:
            raise ValueError(f"{self.eventType} subscriptions need an objectTypeId")
        if not is_generic and self.objectTypeId is not None:
            raise ValueError("objectTypeId only applies to object.* subscriptions")
        return self

    def key(self) -> tuple[str, str | None, str | None]:
        return (self.eventType, self.propertyName, self.objectTypeId)


class DeliveryRetryPolicy(RetryPolicy):
    """HubSpot's schedule: 10 retries spread over roughly a day with randomised exponential
    backoff, as HubSpot documents."""

    max_retries: int = Field(10, ge=0, le=100)
    initial_delay_ms: int = Field(60_000, ge=0)
    multiplier: float = Field(2.3, ge=1.0)
    max_delay_ms: int = Field(6 * 3600 * 1000, ge=0)
    no_retry_statuses: list[int] = Field(default_factory=list)  # legacy docs: 400,401,403,404,405


class WebhookSettings(SenderSettings):
    """Everything that decides what the sandbox sends, where, and how it signs it."""

    model_config = ConfigDict(extra="forbid")

    client_secret: str | None = None  # None: the app's OAuth client secret, as HubSpot signs
    signature_version: Literal["v1", "v2", "v3"] = "v3"
    legacy_signature: bool = True  # with v3, also send the v1 `X-HubSpot-Signature` (as HubSpot)
    subscriptions: list[Subscription] = Field(
        default_factory=lambda: [Subscription(eventType=t) for t in DEFAULT_EVENT_TYPES]
    )
    property_changes_on_creation: bool = True  # creation also fires propertyChange per value
    max_batch_size: int = Field(100, ge=1, le=100)  # HubSpot's batches hold at most 100 events
    throttling_period: Literal["SECONDLY", "ROLLING_MINUTE"] = "SECONDLY"
    retry: DeliveryRetryPolicy = Field(default_factory=DeliveryRetryPolicy)
    developer_api_key: str = "sandbox-developer-api-key"  # `hapikey` of /webhooks/v3/...
    user_agent: str = "HubSpot Connect 2.0 (http://dev.hubspot.com/) - WebhooksExecutorDaemon"

    @model_validator(mode="after")
    def _number_subscriptions(self) -> WebhookSettings:
        """Give every subscription a stable id and refuse duplicates."""
        seen: set[tuple[str, str | None, str | None]] = set()
        next_id = max((s.id or 0 for s in self.subscriptions), default=0) + 1
        ids: set[int] = set()
        for sub in self.subscriptions:
            if sub.key() in seen:
                raise ValueError(f"duplicate subscription {sub.key()}")
            seen.add(sub.key())
            if sub.id is None:
                sub.id = next_id
                next_id += 1
            if sub.id in ids:
                raise ValueError(f"duplicate subscription id {sub.id}")
            ids.add(sub.id)
        return self


def cli_webhooks(
    url: str | None,
    secret: str | None = None,
    signature_version: str | None = None,
    subscriptions: tuple[str, ...] | list[str] = (),
) -> dict[str, Any]:
    """`webhooks` config from command-line options (empty when no URL is given); shared by
    `platform sandbox` and `python -m sandbox serve`. Subscriptions use the `type[:property]`
    shorthand; without any, the default set applies."""
    if not url:
        return {}
    data: dict[str, Any] = {"target_url": url}
    if secret:
        data["client_secret"] = secret
    if signature_version:
        data["signature_version"] = signature_version
    if subscriptions:
        data["subscriptions"] = list(subscriptions)
    return data
