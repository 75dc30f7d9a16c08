"""Host policy: which base URLs an integration's config may name (DESIGN: "Host policy").

Provider base URLs are not free input, or an API caller could point the OAuth exchange at their
own server and collect the platform's client secret. Each URL field a provider's `HostPolicy`
names must be `https` with a host from the provider's list (or suffixes); `any_public_host`
admits any host whose addresses are all public (resolved, and again on each redirect target).
Local hosts (loopback, `localhost`, plain http to them) pass only when the deployment allows
them (`ALLOW_LOCAL_PROVIDER_HOSTS`, on for the sandbox and tests). This module decides; it never
fetches anything and never names a provider.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from time import monotonic as clock_monotonic
from typing import Any
from urllib.parse import urlsplit

import httpx

from core.errors import ValidationError
from sources.provider import HostPolicy

Resolver = Callable[[str], list[str]]
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def normalise_key(key: str) -> str:
    """`apiBase`, `API-Base`, `api base` -> `api_base` (how config keys are compared)."""
    spaced = _CAMEL.sub("_", str(key).strip())
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def resolve_addresses(host: str) -> list[str]:
    """Every address `host` resolves to (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return sorted({info[4][0] for info in infos})


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return None


def is_local_host(host: str) -> bool:
    """Loopback names and addresses: the sandbox and tests run there."""
    host = host.lower().rstrip(".")
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return True
    address = _ip(host)
    return address is not None and address.is_loopback


def is_public_address(value: str) -> bool:
    """True for a globally routable address (not private, loopback, link-local, reserved...)."""
    address = _ip(value)
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (address.is_multicast or address.is_reserved)


class HostRefused(ValidationError):
    """A URL the provider's host policy does not admit (an HTTP 400 at the API)."""


def check_url(
    url: Any,
    policy: HostPolicy,
    *,
    allow_local: bool,
    field: str = "url",
    provider: str | None = None,
    title: str | None = None,
    resolve: Resolver | None = None,
) -> str:
    """Return `url` when the policy admits it; raise `HostRefused` with a clear reason if not."""
    who = title or provider or "provider"

    def refuse(reason: str) -> HostRefused:
        allowed = ", ".join(sorted(policy.hosts) + [f"*{s}" for s in policy.suffixes])
        if policy.any_public_host:
            allowed = "any public https host"
        return HostRefused(
            f"{field} {reason}",
            provider=provider,
            hint=f"{who} {field} must be an https URL on {allowed or 'no host'}"
            + ("" if allow_local else "; local hosts need ALLOW_LOCAL_PROVIDER_HOSTS=true"),
        )

    if not isinstance(url, str) or not url.strip():
        raise refuse("must be a non-empty URL string")
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower().rstrip(".")
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise refuse("is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise refuse(f"uses the scheme {scheme + ':' if scheme else '(none)'}, not https")
    if not host:
        raise refuse("has no host")
    if parts.username is not None or parts.password is not None:
        raise refuse("must not carry credentials")
    if is_local_host(host):
        if allow_local:
            return url
        raise refuse(f"names the local host {host}")
    if scheme != "https":
        raise refuse(f"must use https (got {scheme}://{host})")
    if host in {h.lower() for h in policy.hosts} or any(
        host.endswith(s.lower()) for s in policy.suffixes
    ):
        return url
    if policy.any_public_host:
        lookup = resolve or resolve_addresses  # looked up per call (tests monkeypatch it)
        addresses = [host] if _ip(host) is not None else lookup(host)
        if not addresses:
            raise refuse(f"names the host {host}, which does not resolve")
        private = [a for a in addresses if not is_public_address(a)]
        if private:
            raise refuse(f"names the host {host}, which resolves to a non-public address")
        return url
    raise refuse(f"names the host {host}, which is not a {who} host")


def check_config_hosts(
    config: Mapping[str, Any],
    policy: HostPolicy,
    *,
    allow_local: bool,
    provider: str | None = None,
    title: str | None = None,
    resolve: Resolver | None = None,
) -> None:
    """Every URL field of `config` the policy names (whatever its spelling) must pass."""
    fields = {normalise_key(f) for f in policy.fields}
    for key, value in _walk(config):
        if normalise_key(key) in fields and value not in (None, ""):
            check_url(
                value,
                policy,
                allow_local=allow_local,
                field=key,
                provider=provider,
                title=title,
                resolve=resolve,
            )


def _walk(config: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    for key, value in config.items():
        yield str(key), value
        if isinstance(value, Mapping):
            yield from _walk(value)


def request_guard(
    policy: HostPolicy,
    *,
    allow_local: bool,
    provider: str | None = None,
    resolve: Resolver | None = None,
    ttl_s: float = 60.0,
) -> Callable[[httpx.Request], None]:
    """An httpx request hook holding every request, redirect targets included, to the policy.

    httpx runs request hooks before each hop it sends, so a client that follows redirects is
    refused the moment a redirect points off policy (e.g. at a private address):
    `httpx.Client(event_hooks={"request": [request_guard(policy, allow_local=...)]},
    follow_redirects=True)`. A host that passed is trusted for `ttl_s` (a sync makes thousands
    of requests to one host; resolving it for each would cost a DNS round trip per page), and
    resolved again after that, so a record that changes to a private address is caught.
    """
    passed: dict[tuple[str, str, int | None], float] = {}

    def check(request: httpx.Request) -> None:
        url = request.url
        origin = (url.scheme, url.host, url.port)
        now = clock_monotonic()
        if passed.get(origin, 0.0) > now and not url.userinfo:
            return
        check_url(
            str(url),
            policy,
            allow_local=allow_local,
            field="request target",
            provider=provider,
            resolve=resolve,
        )
        passed[origin] = now + ttl_s

    return check
