"""The OpenAPI 3.1 description of every endpoint the receiver serves, built as data.

Served at `/openapi.json`; a test checks it names exactly the app's routes, so the description
cannot drift from the code. Headers, bodies and every response status a handler can answer
are listed, so a client generator or a fuzzer (schemathesis) can use it as the contract.
"""

from __future__ import annotations

from typing import Any

from sources.provider import Provider, ProviderRegistry, WebhookSpec, providers
from webhook_receiver.verification import schemes_of

ERROR = {"$ref": "#/components/schemas/Error"}
API_SECURITY = [{"bearerAuth": []}, {"apiKey": []}]

WEBHOOK_STATUS = {
    "202": "Committed to the inbox (duplicates counted, not stored again)",
    "400": "Malformed JSON, a body the provider would not send, or a missing required header",
    "401": "Missing or invalid signature, stale timestamp, or no secret configured",
    "404": "Unknown provider, or no integration of this provider with this id",
    "413": "Body larger than WEBHOOK_MAX_BODY_BYTES",
    "415": "Content type the provider does not send",
    "429": "Over the integration's delivery rate; see Retry-After",
    "503": "The inbox (or the registry) could not answer; nothing stored; retry later",
}
API_STATUS = {
    "400": "Invalid input",
    "401": "Missing or unknown API key",
    "403": "The API key is bound to another organization than the one named",
    "404": "No such integration (or one of another organization than the key's)",
    "429": "Over the API key's rate; see Retry-After",
    "503": "The integrations API is disabled (no API_KEYS configured)",
}


def _header(name: str, description: str, *, required: bool = False, **schema: Any) -> dict:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string", **schema},
    }


def _query(name: str, description: str, *, required: bool = False) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": "string"},
    }


INTEGRATION_ID = {
    "name": "integration_id",
    "in": "path",
    "required": True,
    "description": "The integration's id in the registry",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"},
}


def _error_response(description: str, *, retry_after: bool = False) -> dict:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": ERROR}},
    }
    if retry_after:
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
        }
    return response


def _responses(statuses: dict[str, str], ok: dict[str, dict]) -> dict:
    out = dict(ok)
    for status, description in statuses.items():
        if status not in out:
            out[status] = _error_response(description, retry_after=status in ("429", "503"))
    return out


def _accepted(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}},
    }


def _spec(provider: Provider) -> WebhookSpec:
    if provider.webhooks is None:
        raise ValueError(f"provider {provider.name!r} receives no webhooks")
    return provider.webhooks


def _webhook_parameters(provider: Provider) -> list[dict]:
    """The integration id, the provider's own headers, then each scheme's (once per name)."""
    headers = [*_spec(provider).openapi.get("headers", ())]
    for scheme in schemes_of(provider):
        headers.extend(scheme.headers)
    seen: set[str] = set()
    parameters = [INTEGRATION_ID]
    for entry in headers:
        if entry["name"].lower() in seen:
            continue
        seen.add(entry["name"].lower())
        parameters.append(
            _header(
                entry["name"],
                entry["description"],
                required=entry.get("required", False),
                **entry.get("schema", {}),
            )
        )
    return parameters


def _webhook_path(provider: Provider) -> dict:
    ok = {"202": _accepted("Committed to the inbox")}
    for scheme in schemes_of(provider):
        status = str(scheme.success_status)
        if status not in ok:
            ok[status] = _accepted(scheme.success_description)
    return {
        "post": {
            "operationId": f"receive_{provider.name}_webhook",
            "tags": ["webhooks"],
            "summary": f"Receive a {provider.title} webhook delivery",
            "parameters": _webhook_parameters(provider),
            "requestBody": {
                "required": True,
                "content": dict(_spec(provider).openapi.get("request_body", {})),
            },
            "responses": _responses(WEBHOOK_STATUS, ok),
        }
    }


def _json_ok(status: str, description: str, schema: str = "Integration") -> dict:
    return {
        status: {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
    }


def _api(operation_id: str, summary: str, ok: dict, **extra: Any) -> dict:
    return {
        "operationId": operation_id,
        "tags": ["integrations"],
        "summary": summary,
        "security": API_SECURITY,
        "responses": _responses(API_STATUS, ok),
        **extra,
    }


def _common_schemas(types: list[str]) -> dict[str, Any]:
    """Schemas of every document; `types` are the registered provider names."""
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        },
        "Accepted": {
            "type": "object",
            "required": ["accepted", "duplicates"],
            "properties": {
                "accepted": {"type": "integer", "minimum": 0, "description": "New events stored"},
                "duplicates": {"type": "integer", "minimum": 0, "description": "Already stored"},
            },
        },
        "Integration": {
            "type": "object",
            "required": ["id", "type", "name", "status", "organization_id", "webhook_url"],
            "properties": {
                "id": {"type": "string"},
                "type": {"type": "string", "enum": types},
                "name": {"type": "string"},
                "status": {
                    "type": "string",
                    "enum": ["pending_auth", "active", "error", "disabled"],
                },
                "organization_id": {"type": "string"},
                "user_id": {"type": "string"},
                "config": {"type": "object", "description": "Plain settings; secrets never appear"},
                "stored_secrets": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Names of the secrets kept encrypted in the vault (no values)",
                },
                "webhook_url": {"type": "string", "format": "uri"},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
            },
        },
        "IntegrationCreate": {
            "type": "object",
            "required": ["type", "name"],
            "additionalProperties": False,
            "properties": {
                "type": {"type": "string", "enum": types},
                "name": {"type": "string", "minLength": 1},
                "organization_id": {
                    "type": "string",
                    "minLength": 1,
                    "description": "Required with an admin key; a key bound to an "
                    "organization creates in its own (naming another is 403)",
                },
                "user_id": {"type": "string"},
                "id": {"type": "string", "pattern": INTEGRATION_ID["schema"]["pattern"]},
                "config": {
                    "type": "object",
                    "description": "Settings; secret fields (webhook_secret, client_secret, "
                    "api_key, app_password, ...) are moved into the encrypted vault",
                },
            },
        },
        "IntegrationList": {
            "type": "object",
            "required": ["integrations"],
            "properties": {
                "integrations": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/Integration"},
                }
            },
        },
        "AuthorizationUrl": {
            "type": "object",
            "required": ["authorization_url", "redirect_uri", "expires_in"],
            "properties": {
                "authorization_url": {"type": "string", "format": "uri"},
                "redirect_uri": {"type": "string"},
                "expires_in": {"type": "integer", "description": "Seconds the state stays valid"},
            },
        },
        "Health": {
            "type": "object",
            "required": ["status", "inbox"],
            "properties": {
                "status": {"type": "string", "enum": ["ok", "unavailable"]},
                "inbox": {
                    "type": "object",
                    "properties": {
                        "backend": {"type": "string"},
                        "reachable": {"type": "boolean"},
                        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                    },
                },
            },
        },
    }


def _schemas(registry: ProviderRegistry) -> dict[str, Any]:
    """The common schemas (integration types filled in), then each provider's own."""
    schemas = _common_schemas(registry.names())
    for provider in registry.receiving_webhooks():
        for name, schema in _spec(provider).openapi.get("schemas", {}).items():
            if name in schemas:
                raise ValueError(f"{provider.name}: OpenAPI schema {name!r} is defined twice")
            schemas[name] = schema
    return schemas


def openapi_document(server_url: str, registry: ProviderRegistry = providers) -> dict[str, Any]:
    paths: dict[str, Any] = {
        f"/api/v1/webhooks/{provider.name}/{{integration_id}}": _webhook_path(provider)
        for provider in registry.receiving_webhooks()
    }
    paths["/health"] = {
        "get": {
            "operationId": "health",
            "tags": ["operations"],
            "summary": "Inbox reachable, events by status",
            "responses": {
                "200": _json_ok("200", "Healthy", "Health")["200"],
                "503": {
                    "description": "The inbox cannot be reached",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Health"}}
                    },
                },
            },
        }
    }
    paths["/metrics"] = {
        "get": {
            "operationId": "metrics",
            "tags": ["operations"],
            "summary": "Prometheus metrics (text exposition format)",
            "responses": {
                "200": {
                    "description": "Metrics of every worker process",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    }
    paths["/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "tags": ["operations"],
            "summary": "This description",
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    paths["/api/v1/integrations"] = {
        "get": _api(
            "list_integrations",
            "List integrations",
            _json_ok("200", "The integrations", "IntegrationList"),
            parameters=[_query("organization_id", "Only this organization's integrations")],
        ),
        "post": _api(
            "create_integration",
            "Create an integration (secret config fields go to the vault)",
            {
                **_json_ok("201", "Created"),
                "409": _error_response("An integration with this id exists"),
            },
            requestBody={
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/IntegrationCreate"}
                    }
                },
            },
        ),
    }
    paths["/api/v1/integrations/{integration_id}"] = {
        "parameters": [INTEGRATION_ID],
        "get": _api("get_integration", "One integration", _json_ok("200", "It")),
        "delete": _api(
            "delete_integration",
            "Delete an integration, its secrets and pending OAuth states",
            {"204": {"description": "Deleted; its webhooks stop being accepted within 5 s"}},
        ),
    }
    paths["/api/v1/integrations/{integration_id}/authorize-url"] = {
        "parameters": [INTEGRATION_ID],
        "get": _api(
            "authorization_url",
            "A single-use OAuth authorization URL (PKCE, 10-minute state)",
            _json_ok("200", "Open it in a browser", "AuthorizationUrl"),
            parameters=[
                _query(
                    "redirect_uri",
                    "Where the provider sends the browser back (default: "
                    "this server's /api/v1/oauth/callback)",
                ),
                _query("scopes", "Space-separated scopes (default: the integration's)"),
            ],
        ),
    }
    paths["/api/v1/oauth/callback"] = {
        "get": {
            "operationId": "oauth_callback",
            "tags": ["integrations"],
            "summary": "OAuth redirect target: exchanges the code; the single-use state is the "
            "credential, no API key",
            "security": [],
            "parameters": [
                _query("state", "The state issued with the authorization URL", required=True),
                _query("code", "The authorization code"),
                _query("error", "The provider's error when the user declined"),
            ],
            "responses": {
                **_json_ok("200", "Authorized; the integration is active"),
                "400": _error_response("Unknown, used or expired state, or a refused grant"),
                "429": _error_response("Too many callbacks from this address", retry_after=True),
                "502": _error_response("The provider's token endpoint failed"),
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Integration platform webhook receiver",
            "version": "1.0.0",
            "description": "Verified, durable, idempotent webhook intake for "
            + ", ".join(p.title for p in registry.receiving_webhooks())
            + ", and the integrations API.",
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": _schemas(registry),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }
