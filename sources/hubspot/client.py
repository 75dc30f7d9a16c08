"""HubSpot CRM API client: list, search by keyset on hs_object_id, properties, associations, batch
writes. It speaks HubSpot's paths and error bodies and nothing else; it never touches the
warehouse and never stores credentials (it asks an `AccessTokenProvider` for a bearer token).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

import httpx
import orjson

from core.errors import (
    AuthenticationError,
    IntegrationError,
    MalformedResponseError,
    ProviderError,
    RateLimitError,
)
from sources.common.http import ApiClient, RateBudget, RetryPolicy, json_object
from sources.hubspot.arrow import ListPage, ListPageDecoder, peek_after
from sources.hubspot.entities import HubSpotEntity

if TYPE_CHECKING:
    from sources.provider import ClientContext

PROVIDER = "hubspot"
LIST_PAGE_SIZE = 100
SEARCH_PAGE_SIZE = 200
SEARCH_RESULT_CAP = 10_000
BATCH_SIZE = 100
ASSOCIATION_BATCH_SIZE = 1000
# Stay well below the URL length at which HubSpot answers 414.
DEFAULT_MAX_URL_LENGTH = 7_000


class TokenSource(Protocol):
    def access_token(self) -> str: ...

    def force_refresh(self) -> str: ...


def read_rate_headers(headers: httpx.Headers) -> tuple[int | None, float | None]:
    """(remaining, window seconds) from HubSpot's X-HubSpot-RateLimit-* headers."""
    remaining = headers.get("X-HubSpot-RateLimit-Remaining")
    interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    return (
        int(remaining) if remaining is not None and remaining.isdigit() else None,
        int(interval) / 1000 if interval and interval.isdigit() else None,
    )


def error_for(integration_id: str | None) -> Callable[[httpx.Response], IntegrationError]:
    """Turn a HubSpot refusal into our taxonomy, keeping HubSpot's category and message."""

    def convert(response: httpx.Response) -> IntegrationError:
        body = json_object(response)
        status = response.status_code
        category = body.get("category") or body.get("errorType") or ""
        message = body.get("message") or f"HTTP {status}"
        text = f"HubSpot {status} {category}: {message}".replace("  ", " ")
        kw = {"provider": PROVIDER, "integration_id": integration_id, "status_code": status}
        if status == 401:
            return AuthenticationError(
                text,
                hint="reconnect the integration (OAuth) or set a valid private-app token",
                **kw,
            )
        if status == 403:
            return AuthenticationError(
                text, hint="the token lacks a scope this sync needs (MISSING_SCOPES)", **kw
            )
        if status == 429:
            return RateLimitError(text, hint="the portal's API budget is exhausted", **kw)
        return ProviderError(text, **kw)

    return convert


@dataclass
class DeferredPage:
    """A list page fetched but not parsed yet (`iter_list_pages(deferred=True)`): its cursor was
    read from the body's tail, so the next request is already out while `page()` parses this
    one on whichever thread calls it. `page()` refetches a body that is not JSON after all
    (a tail can survive corruption before it) and refuses a page whose parsed cursor is not
    the one the walk went on with."""

    content: bytes | None
    after: str | None
    decoded: ListPage | None
    decoder: ListPageDecoder
    refetch: Callable[[], ListPage | None]
    invalid: Callable[[], Exception]

    @classmethod
    def ready(cls, page: ListPage, decoder: ListPageDecoder) -> DeferredPage:
        """A page already parsed (its properties were merged in from batch reads)."""

        def never() -> Exception:
            raise AssertionError("a parsed page is never refetched")

        return cls(None, page.after, page, decoder, lambda: page, never)

    @staticmethod
    def parsed(items: Iterable[DeferredPage], group: int = 10) -> Iterator[ListPage]:
        """The pages of `items` in order, parsed `group` at a time by one reader call where
        they all allow it (else one by one, with `page()`'s refetch and checks)."""
        pending: list[DeferredPage] = []
        for item in items:
            pending.append(item)
            if len(pending) >= group:
                yield from DeferredPage._parse_group(pending)
                pending = []
        yield from DeferredPage._parse_group(pending)

    @staticmethod
    def _parse_group(items: list[DeferredPage]) -> Iterator[ListPage]:
        raw = [i for i in items if i.decoded is None and i.content is not None]
        if len(raw) > 1:
            pages = raw[0].decoder.decode_many([i.content for i in raw if i.content is not None])
            for item, page in zip(raw, pages or [], strict=False):
                item.decoded, item.content = page, None
        for item in items:
            yield item.page()

    def page(self) -> ListPage:
        page = self.decoded
        if page is None and self.content is not None:
            try:
                page = self.decoder(self.content)
            except orjson.JSONDecodeError:
                page = self.refetch()
            self.content = None
        if page is None:
            raise self.invalid()
        if page.after != self.after:
            raise MalformedResponseError(
                "HubSpot list page: its paging cursor is not the one read from its tail",
                provider=PROVIDER,
                hint="the provider sent an unusual page; rerun the sync",
            )
        return page


class HubSpotClient:
    """One integration's view of one HubSpot portal."""

    def __init__(
        self,
        api_base: str,
        tokens: TokenSource,
        *,
        integration_id: str | None = None,
        max_url_length: int = DEFAULT_MAX_URL_LENGTH,
        search_result_cap: int = SEARCH_RESULT_CAP,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        request_guard: Callable[[httpx.Request], None] | None = None,
    ) -> None:
        self.integration_id = integration_id
        self.max_url_length = max_url_length
        self.search_result_cap = search_result_cap
        self._tokens = tokens
        self._api_base = api_base.rstrip("/")
        self.budget = RateBudget(reserve=3, sleep=sleep)
        # Search has its own 5/s bucket and sends no headers: pace it ourselves.
        self.search_budget = RateBudget(min_interval=0.21, sleep=sleep)
        self.api = ApiClient(
            self._api_base,
            provider=PROVIDER,
            integration_id=integration_id,
            headers={"Accept": "application/json", "User-Agent": "integration-platform/0.1"},
            auth_header=lambda: {"Authorization": f"Bearer {self._tokens.access_token()}"},
            budget=self.budget,
            read_budget_headers=read_rate_headers,
            error_for=error_for(integration_id),
            retry=retry,
            timeout=timeout,
            transport=transport,
            sleep=sleep,
            request_guard=request_guard,
        )

    @property
    def stats(self):
        return self.api.stats

    def close(self) -> None:
        self.api.close()

    def _refresh_on_401(self, response: httpx.Response) -> bool:
        """A 401: refresh the OAuth token once and retry. Credentials that cannot be refreshed
        (a private-app token, a revoked refresh token) fail with HubSpot's own message."""
        try:
            self._tokens.force_refresh()
        except AuthenticationError as exc:
            refused = error_for(self.integration_id)(response)
            refused.hint = exc.hint or refused.hint
            raise refused from exc
        return True

    def _call(self, method: str, path: str, *, kind: str, **kw: Any) -> Any:
        return self.api.request_json(
            method, path, kind=kind, on_auth_failure=self._refresh_on_401, **kw
        )

    # -- metadata ---------------------------------------------------------------------------

    def list_properties(self, object_type: str) -> list[dict[str, Any]]:
        body = self._call(
            "GET",
            f"/crm/v3/properties/{object_type}",
            kind="properties",
            params={"archived": "false"},
        )
        return self._results(body, "properties")

    def property_names(self, object_type: str) -> list[str]:
        return sorted({p["name"] for p in self.list_properties(object_type)})

    # -- reads ------------------------------------------------------------------------------

    def _results(self, body: Any, what: str) -> list[dict[str, Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise self._malformed(what)
        return body["results"]

    def _malformed(self, what: str) -> MalformedResponseError:
        return MalformedResponseError(
            f"HubSpot {what} response has no results list",
            provider=PROVIDER,
            integration_id=self.integration_id,
            hint="the page was malformed; rerun the sync",
        )

    def chunk_properties(self, path: str, fixed_params: dict[str, str], names: Sequence[str]):
        """Split property names so that every GET URL stays under `max_url_length`."""
        base_len = len(self._api_base) + len(path) + 1 + len(urlencode(fixed_params)) + 40
        room = self.max_url_length - base_len - len("&properties=")
        if room <= 0:
            raise ProviderError("max_url_length too small for the request", provider=PROVIDER)
        chunks: list[list[str]] = [[]]
        used = 0
        for name in names:
            cost = len(name) + 3  # the name plus an encoded comma
            if chunks[-1] and used + cost > room:
                chunks.append([])
                used = 0
            chunks[-1].append(name)
            used += cost
        return chunks

    def iter_list_pages(
        self,
        entity: HubSpotEntity,
        properties: Sequence[str],
        *,
        archived: bool = False,
        page_size: int = LIST_PAGE_SIZE,
        decoder: ListPageDecoder | None = None,
        deferred: bool = False,
    ) -> Iterator[Any]:
        """Walk the list endpoint by opaque `after` cursor; every record carries all properties.

        Property names that would push the URL over the limit are read with one batch/read POST
        per page (its body has no length limit), then merged in by id. Pages are lists of
        records, or, with a `decoder`, `ListPage`s decoded from the raw bytes into Arrow (in
        C++, GIL released) and retried like any page that is not JSON. With `deferred` too,
        pages are `DeferredPage`s: the walk goes on with the cursor read from each body's tail
        and the caller parses them (`page()`), so parsing stays off the chain of requests.
        """
        path = f"/crm/v3/objects/{entity.object_type}"
        params: dict[str, str] = {"limit": str(page_size), "archived": str(archived).lower()}
        if entity.association_types and not archived:
            params["associations"] = ",".join(entity.association_types)
        first, *rest = self.chunk_properties(path, {**params, "after": "x" * 24}, properties)
        rest_names = [name for chunk in rest for name in chunk]
        after: str | None = None
        while True:
            query = {**params, "properties": ",".join(first)}
            if after:
                query["after"] = after
            if decoder is not None and not rest_names and deferred:
                item = self._deferred_page(path, query, decoder, entity)
                yield item
                after = item.after
                if not after:
                    return
                continue
            if decoder is not None and not rest_names:
                page = self._call("GET", path, kind="list", params=query, decode=decoder)
                if page is None:
                    self._results(None, f"{entity.name} list")
                if len(page):
                    yield page
                after = page.after
                if not after:
                    return
                continue
            body = self._call("GET", path, kind="list", params=query)
            records = self._results(body, f"{entity.name} list")
            if rest_names and records:
                self._merge_properties(entity, records, rest_names, archived=archived)
            if records and decoder is None:
                yield records
            elif records:
                page = decoder.from_body(body)
                yield page if not deferred else DeferredPage.ready(page, decoder)
            after = (((body.get("paging") or {}).get("next")) or {}).get("after")
            if not after:
                return

    def _deferred_page(
        self, path: str, query: dict[str, str], decoder: ListPageDecoder, entity: HubSpotEntity
    ) -> DeferredPage:
        """One list page whose cursor is read from its tail; a body without a readable tail
        is parsed here (and refetched if it is not JSON, like any page)."""

        def tail_or_page(content: bytes) -> tuple[bytes | None, str | None, ListPage | None]:
            found, after = peek_after(content)
            if found:
                return content, after, None
            page = decoder(content)
            return None, page.after if page is not None else None, page

        def refetch() -> ListPage | None:
            return self._call("GET", path, kind="list", params=query, decode=decoder)

        def invalid() -> Exception:
            return self._malformed(f"{entity.name} list")

        content, after, page = self._call(
            "GET", path, kind="list", params=query, decode=tail_or_page
        )
        if content is None and page is None:
            raise invalid()
        return DeferredPage(content, after, page, decoder, refetch, invalid)

    def _merge_properties(
        self,
        entity: HubSpotEntity,
        records: list[dict[str, Any]],
        names: list[str],
        *,
        archived: bool,
    ) -> None:
        extra = self.batch_read(entity, [r["id"] for r in records], names, archived=archived)
        by_id = {r["id"]: r.get("properties") or {} for r in extra}
        for record in records:
            record.setdefault("properties", {}).update(by_id.get(record["id"], {}))

    def batch_read(
        self,
        entity: HubSpotEntity,
        ids: Sequence[str],
        properties: Sequence[str],
        *,
        archived=False,
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for start in range(0, len(ids), BATCH_SIZE):
            body = self._call(
                "POST",
                f"/crm/v3/objects/{entity.object_type}/batch/read",
                kind="batch_read",
                params={"archived": str(archived).lower()},
                json={
                    "inputs": [{"id": i} for i in ids[start : start + BATCH_SIZE]],
                    "properties": list(properties),
                },
            )
            out.extend(self._results(body, f"{entity.name} batch read"))
        return out

    def search_page(
        self,
        entity: HubSpotEntity,
        *,
        filter_groups: list[dict[str, Any]],
        sorts: list[dict[str, str]],
        properties: Sequence[str],
        after: int = 0,
        limit: int = SEARCH_PAGE_SIZE,
    ) -> tuple[list[dict[str, Any]], int | None, int]:
        """One search page: (records, next offset or None, total)."""
        body = self._call(
            "POST",
            f"/crm/v3/objects/{entity.object_type}/search",
            kind="search",
            budget=self.search_budget,
            json={
                "filterGroups": filter_groups,
                "sorts": sorts,
                "properties": list(properties),
                "limit": limit,
                "after": str(after),
            },
        )
        records = self._results(body, f"{entity.name} search")
        nxt = (((body.get("paging") or {}).get("next")) or {}).get("after")
        return records, (int(nxt) if nxt not in (None, "") else None), int(body.get("total") or 0)

    def iter_modified_since(
        self,
        entity: HubSpotEntity,
        since_ms: int,
        properties: Sequence[str],
        *,
        extra_filters: Sequence[dict[str, Any]] = (),
        page_size: int = SEARCH_PAGE_SIZE,
        catch_up_from_ms: int | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Every record with lastmod >= since_ms, each id once, by keyset paging on
        `hs_object_id`.

        Every page is the first page of its own query (`lastmod >= since`, `hs_object_id >
        last id read`, sorted by id): no offset is ever sent. An edit moves a record in
        last-modified order but never changes its id, so an edit while we page cannot shift
        an unread record behind the keyset (offset paging by last-modified skipped such rows),
        many records sharing one millisecond cost nothing extra, and no query pages past
        HubSpot's 10,000-result cap.

        Records edited while we paged keep their place in id order; the ones already behind
        the keyset are read again by one catch-up query (`lastmod >= catch_up_from_ms`, the
        sync's start) after a scan of several pages. Whatever changes after that is newer than
        the sync's start, which the next sync re-reads anyway.
        """
        props = sorted(set(properties) | {entity.lastmod_property, "hs_object_id"})
        lastmod = {"propertyName": entity.lastmod_property, "operator": "GTE"}
        scan = SearchWindow(self, entity, [{**lastmod, "value": str(since_ms)}, *extra_filters])
        yield from scan.pages(props, page_size)
        if catch_up_from_ms is None or scan.requests < 2:
            return  # one query answers at one instant: nothing can move while it is read
        catch_up = SearchWindow(
            self, entity, [{**lastmod, "value": str(catch_up_from_ms)}, *extra_filters]
        )
        for records in catch_up.pages(props, page_size):
            fresh = [
                r
                for r in records
                if scan.read.get(r["id"]) != lastmod_ms(r, entity.lastmod_property)
            ]
            if fresh:
                yield fresh

    def read_associations(
        self, from_type: str, to_type: str, ids: Sequence[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """Current associations of each id, via v4 batch read (1,000 ids a request)."""
        out: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        for start in range(0, len(ids), ASSOCIATION_BATCH_SIZE):
            body = self._call(
                "POST",
                f"/crm/v4/associations/{from_type}/{to_type}/batch/read",
                kind="associations",
                json={"inputs": [{"id": i} for i in ids[start : start + ASSOCIATION_BATCH_SIZE]]},
            )
            for row in self._results(body, "associations batch read"):
                out[str(row["from"]["id"])] = row.get("to") or []
        return out

    # -- writes (reverse sync) --------------------------------------------------------------

    def batch_update(self, entity: HubSpotEntity, inputs: list[dict[str, Any]]) -> list[dict]:
        """Update records in batches of 100: inputs are `{id, properties}`."""
        out: list[dict[str, Any]] = []
        for start in range(0, len(inputs), BATCH_SIZE):
            body = self._call(
                "POST",
                f"/crm/v3/objects/{entity.object_type}/batch/update",
                kind="batch_update",
                json={"inputs": inputs[start : start + BATCH_SIZE]},
            )
            out.extend(self._results(body, "batch update"))
        return out


def client_from_context(context: ClientContext, **options: Any) -> HubSpotClient:
    """The provider's client factory: the integration's `api_base` (else the deployment's)."""
    api_base = getattr(context.config, "api_base", None) or context.settings.HUBSPOT_API_BASE
    return HubSpotClient(
        api_base,
        context.tokens,
        integration_id=context.integration_id,
        retry=context.retry,
        request_guard=context.request_guard,
        **options,
    )


class SearchWindow:
    """One search query (filters ANDed) read by keyset on `hs_object_id`: each page asks for
    ids above the last one read, sorted ascending, always at offset 0. `read` maps every id
    read to the lastmod of the version read; `requests` counts the pages asked for."""

    def __init__(self, client: HubSpotClient, entity: HubSpotEntity, filters: list[dict]):
        self._client = client
        self._entity = entity
        self._filters = filters
        self.read: dict[str, int] = {}
        self.requests = 0

    def pages(self, props: Sequence[str], page_size: int) -> Iterator[list[dict[str, Any]]]:
        prop = self._entity.lastmod_property
        last_id = 0
        while True:
            keyset = {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)}
            records, nxt, _total = self._client.search_page(
                self._entity,
                filter_groups=[{"filters": [*self._filters, keyset]}],
                sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                properties=props,
                after=0,
                limit=page_size,
            )
            self.requests += 1
            fresh = []
            for record in records:
                rid = int(record["id"])
                if rid <= last_id:
                    continue  # never expected; guards the keyset against a sloppy server
                fresh.append(record)
                self.read[record["id"]] = lastmod_ms(record, prop)
            if fresh:
                last_id = max(int(r["id"]) for r in fresh)
                yield fresh
            if nxt is None or not fresh or len(records) < page_size:
                return


def iso_ms(value: Any) -> int:
    """Epoch ms from HubSpot's ISO-8601 strings (or an epoch-ms string); 0 when absent."""
    if value is None:
        return 0
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000)


def lastmod_ms(record: dict[str, Any], prop: str) -> int:
    """The record's modification time in epoch ms, from the property or `updatedAt`."""
    return iso_ms((record.get("properties") or {}).get(prop) or record.get("updatedAt"))
