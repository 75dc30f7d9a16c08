"""HubSpot webhook sender of the sandbox: subscriptions, events on every mutation, batched and
signed deliveries (v1/v2/v3) with retries, a delivery log, fault injection, and HubSpot's
`/webhooks/v3/{appId}` management API. See docs/sandbox_webhooks.md."""
