"""Run Meltano's singer-sdk HubSpot tap (PyPI `meltano-tap-hubspot`) unchanged but for its base
URL. Executed by the peers venv's interpreter (`.venv-peers/bin/python`), never imported by the
test suite: `python peer_tap_hubspot.py <base_url> [tap-hubspot arguments...]`.

The tap has no base-URL setting: every stream's `url_base` and its OAuth token endpoint spell
`https://api.hubapi.com`. So the one change is at the transport: `requests.Session.send` (which
every request of the tap and of singer-sdk's authenticators goes through) swaps that origin for
the sandbox's before the request leaves. Paths, query strings, bodies and headers are the tap's
own. No proxy is involved (the machine reaches only 127.0.0.1), and a request for any other
origin is refused here rather than attempted.
"""

from __future__ import annotations

import sys
from typing import Any

import requests

HUBSPOT_ORIGIN = "https://api.hubapi.com"


def rebase(url: str, base_url: str) -> str:
    """The tap's HubSpot URL at the sandbox; anything else is a test failure."""
    if url.startswith(base_url):
        return url
    if url == HUBSPOT_ORIGIN or url.startswith(HUBSPOT_ORIGIN + "/"):
        return base_url + url[len(HUBSPOT_ORIGIN) :]
    raise RuntimeError(f"peer tap asked for a non-HubSpot origin: {url}")


def install(base_url: str) -> None:
    original = requests.Session.send

    def send(self: requests.Session, request: requests.PreparedRequest, **kw: Any) -> Any:
        request.url = rebase(str(request.url), base_url)
        return original(self, request, **kw)

    requests.Session.send = send  # type: ignore[method-assign]


def main() -> None:
    base_url = sys.argv[1].rstrip("/")
    install(base_url)
    from tap_hubspot.tap import TapHubspot

    sys.argv = ["tap-hubspot", *sys.argv[2:]]
    TapHubspot.cli()


if __name__ == "__main__":
    main()
