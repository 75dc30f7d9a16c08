"""HubSpot's OAuth facts: endpoint paths, default scopes and what each token error means.

The generic client (`sources/common/oauth.py`) runs the flow from these (see `PROVIDER.auth`
in `sources/hubspot/__init__.py`); nothing here talks to the network or holds a secret.
"""

from __future__ import annotations

TOKEN_PATH = "/oauth/v1/token"
AUTHORIZE_PATH = "/oauth/authorize"
DEFAULT_SCOPES = [
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.schemas.contacts.read",
    "crm.schemas.companies.read",
    "crm.schemas.deals.read",
]
# What a data engineer should do about each documented token-endpoint error status.
ERROR_HINTS = {
    "BAD_REFRESH_TOKEN": "the refresh token was revoked or the app uninstalled; "
    "authorize the integration again (integrations auth-url)",
    "BAD_AUTH_CODE": "the authorization code is invalid, expired or already used; "
    "start the OAuth flow again",
    "BAD_CLIENT_ID": "check HUBSPOT_CLIENT_ID (or the integration's client_id)",
    "BAD_CLIENT_SECRET": "check HUBSPOT_CLIENT_SECRET (or the integration's client_secret)",
    "BAD_REDIRECT_URI": "redirect_uri must equal the one used for the authorize URL and "
    "registered in the HubSpot app",
    "BAD_GRANT_TYPE": "the platform sent an unsupported grant_type; this is a bug",
}
# Fields of HubSpot's token response kept in the TokenSet's `extra`.
EXTRA_TOKEN_FIELDS = ("hub_id",)
