"""Fuzz the webhook receiver with malformed and forged input (issue 3 figure): no 5xx, no false
accept.

A hypothesis campaign (random seed, printed; `--seed` replays it) generates delivery recipes —
random requests, forged and mutated deliveries, correctly signed malformed or arbitrary bodies,
and genuine deliveries as a control (see bench/webhook_fuzz_cases.py) — and sends the same
recipes to (a) the Flask test client and (b) a real gunicorn with 2 workers (the receiver's own config) over HTTP, each
on a fresh data directory with one integration per provider (own webhook secret) and two
without a secret. An oracle written from docs/webhooks.md (bench/webhook_fuzz_oracle.py) says
which requests are genuine. Checked per request: no 5xx; no 2xx unless genuine (or the
documented WooCommerce ping); signed malformed bodies get exactly 400; signed arbitrary bodies
get 202, 400, or 413 exactly when over the size limit; genuine deliveries are accepted. Checked
per target: the inbox holds exactly the rows the 2xx answers accepted.

Run: `python -m bench.webhook_fuzz [--examples 10000] [--seed N] [--targets flask,gunicorn]`.
Exits 1 on any violation. The default run takes about a minute on two cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
from hypothesis import HealthCheck, Phase, given, seed, settings

from bench.common import fresh_settings, print_table, temp_root
from bench.webhook_fuzz_cases import (
    INTEGRATIONS,
    KINDS,
    MAX_BODY,
    Built,
    Materializer,
    Recipe,
    recipes,
)
from bench.webhook_fuzz_oracle import Oracle
from bench.webhook_load import free_port, gunicorn_command

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_BASE = "https://hooks.example.test"
CHECKS = (
    "5xx",
    "false accept",
    "malformed not 400",
    "arbitrary unexpected",
    "genuine refused",
    "no response",
)
# Settings that would make the run depend on the caller's environment.
HERMETIC = ("WEBHOOK_SECRET", "HUBSPOT_CLIENT_SECRET", "INBOX_DATABASE_URL", "API_KEYS")


def generate(examples: int, campaign_seed: int) -> list[Recipe]:
    """About `examples` recipes from hypothesis campaigns seeded with `campaign_seed`, one per
    kind (its share of KINDS), interleaved so each target meets the kinds mixed."""
    per_kind: list[list[Recipe]] = []
    for kind, share in KINDS.items():
        per_kind.append(_campaign(kind, max(1, round(examples * share)), campaign_seed))
    mixed = [r for group in per_kind for r in group]
    random.Random(campaign_seed).shuffle(mixed)
    return mixed


def _campaign(kind: str, examples: int, campaign_seed: int) -> list[Recipe]:
    out: list[Recipe] = []

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed(campaign_seed)
    @given(recipes(kind))
    def collect(recipe: Recipe) -> None:
        out.append(recipe)

    collect()
    return out


# -- targets ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    built: Built
    status: int | None
    accepted: int = 0
    error: str | None = None
    violations: list[str] = field(default_factory=list)


def register(settings) -> None:
    from inbox import Inbox
    from pipelines.registry import IntegrationRegistry

    registry = IntegrationRegistry.from_settings(settings)
    for integration in INTEGRATIONS:
        config = {"webhook_secret": integration.secret} if integration.secret else {}
        if integration.provider == "hubspot":
            # The fuzz signs with every HubSpot version and the oracle counts each as genuine:
            # opt in to v1/v2 (the default is v3 only, tested in test_webhook_hardening).
            config["webhook_signature_versions"] = ["v1", "v2", "v3"]
        registry.create(
            organization_id="fuzz",
            user_id="fuzz",
            type=integration.provider,
            name=integration.id,
            config=config,
            integration_id=integration.id,
            actor="fuzz",
        )
    Inbox.from_settings(settings).create_schema()


def settings_for(root: Path):
    overrides = {
        "WEBHOOK_RATE_LIMIT_PER_SECOND": 1e9,  # the rate limit is not what is fuzzed
        "WEBHOOK_RATE_LIMIT_BURST": 10**9,
        "WEBHOOK_BASE_URL": PUBLIC_BASE,
        "WEBHOOK_MAX_BODY_BYTES": MAX_BODY,
    }
    return fresh_settings(root, **overrides, **dict.fromkeys(HERMETIC))


def _accepted(status: int, body: bytes) -> int:
    if not 200 <= status < 300:
        return 0
    try:
        return int(json.loads(body).get("accepted", 0))
    except (ValueError, AttributeError, TypeError):
        return 0


class FlaskTarget:
    """The app in process, through werkzeug's test client (no HTTP parsing in between)."""

    name = "Flask test client"
    concurrency = 1

    def __init__(self, root: Path) -> None:
        from webhook_receiver.app import create_app

        self.root = root
        settings = settings_for(root)
        register(settings)
        self.client = create_app(settings).test_client()
        self.url_base = "http://localhost"

    def send(self, built: Built) -> Outcome:
        request = built.request
        response = self.client.open(
            request.target,
            method=request.method,
            data=request.body,
            headers=list(request.headers),
        )
        return Outcome(built, response.status_code, _accepted(response.status_code, response.data))

    def close(self) -> None:
        pass


class GunicornTarget:
    """`gunicorn -c python:webhook_receiver.gunicorn_config webhook_receiver.wsgi:app` with
    2 sync workers on a free port, driven over HTTP by a few client threads."""

    name = "gunicorn, 2 workers"

    def __init__(self, root: Path, workers: int, concurrency: int) -> None:
        self.root = root
        self.concurrency = concurrency
        settings = settings_for(root)
        register(settings)
        env = {k: v for k, v in os.environ.items() if k not in HERMETIC}
        env.update(
            DATA_DIR=str(root),
            ENCRYPTION_KEY=settings.ENCRYPTION_KEY.get_secret_value(),
            WEBHOOK_RATE_LIMIT_PER_SECOND="1000000000",
            WEBHOOK_RATE_LIMIT_BURST="1000000000",
            WEBHOOK_BASE_URL=PUBLIC_BASE,
            WEBHOOK_MAX_BODY_BYTES=str(MAX_BODY),
            PYTHONPATH=str(ROOT),
        )
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.port = free_port()
        command = gunicorn_command(
            "webhook_receiver.wsgi:app", self.port, workers, log_level="critical"
        )
        # cwd = the data dir: no stray .env from the checkout enters the settings
        self.proc = subprocess.Popen(command, env=env, cwd=root)
        self.url_base = f"http://127.0.0.1:{self.port}"
        self._wait_ready()
        self.client = httpx.Client(
            base_url=self.url_base,
            timeout=30,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=0),
        )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url_base}/health", timeout=2).status_code == 200:
                    time.sleep(0.5)  # let the second worker boot too
                    return
            time.sleep(0.1)
        raise RuntimeError("gunicorn did not answer /health within 30 s")

    def send(self, built: Built) -> Outcome:
        request = built.request
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers]
        content = iter([request.body] if request.body else []) if request.chunked else request.body
        try:
            response = self.client.request(
                request.method, request.target, content=content, headers=headers
            )
        except httpx.HTTPError as exc:
            return Outcome(built, None, error=f"{type(exc).__name__}: {exc}")
        return Outcome(
            built, response.status_code, _accepted(response.status_code, response.content)
        )

    def close(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- the campaign -------------------------------------------------------------------------------


def check(outcome: Outcome) -> Outcome:
    """The per-request oracle checks; the violations found are recorded on the outcome."""
    built, status = outcome.built, outcome.status
    kind = built.recipe.kind
    found = outcome.violations
    if status is None:
        # A server may refuse an oversized body before reading it and close the connection,
        # which the client can see as a reset instead of the 413.
        if not built.over_limit:
            found.append("no response")
        return outcome
    if status >= 500:
        found.append("5xx")
    if 200 <= status < 300 and not built.authentic:
        found.append("false accept")
    if kind == "signed_malformed" and status != 400:
        found.append("malformed not 400")
    if kind == "signed_arbitrary":
        allowed = {413} if built.over_limit else {202, 400}
        if status not in allowed:
            found.append("arbitrary unexpected")
    if kind == "genuine" and not 200 <= status < 300:
        found.append("genuine refused")
    return outcome


def run_target(target, recipes_: list[Recipe], oracle_bases: list[str]) -> tuple[list, float]:
    oracle = Oracle({i.id: i for i in INTEGRATIONS}, oracle_bases)
    materializer = Materializer(oracle)

    def one(recipe: Recipe) -> Outcome:
        built = materializer.build(recipe, time.time())
        if built.recipe.kind == "genuine" and not built.authentic:
            raise AssertionError(f"the oracle rejects its own genuine delivery: {recipe}")
        outcome = check(target.send(built))
        if not outcome.violations:  # keep memory flat: a passing request needs no body
            outcome.built = replace(built, request=replace(built.request, body=b""))
        return outcome

    started = time.perf_counter()
    if target.concurrency == 1:
        outcomes = [one(r) for r in recipes_]
    else:
        with ThreadPoolExecutor(target.concurrency) as pool:
            outcomes = list(pool.map(one, recipes_))
    return outcomes, time.perf_counter() - started


def inbox_rows(root: Path) -> int:
    with contextlib.closing(sqlite3.connect(root / "inbox.sqlite")) as conn:
        return conn.execute("SELECT count(*) FROM webhook_events").fetchone()[0]


def describe(outcome: Outcome) -> str:
    built = outcome.built
    request = built.request
    headers = ", ".join(f"{k}: {v[:48]}" for k, v in request.headers)
    return (
        f"{'/'.join(outcome.violations)}: {outcome.status or outcome.error} | "
        f"{built.recipe.kind} {built.recipe.scheme or ''} {built.notes} | "
        f"{request.method} {request.target[:90]} | {headers[:400]} | "
        f"body[{len(request.body)}] {request.body[:160]!r}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=None, help="replay a campaign")
    parser.add_argument("--targets", default="flask,gunicorn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4, help="HTTP client threads")
    parser.add_argument("--show", type=int, default=12, help="violations printed per target")
    parser.add_argument("--keep", action="store_true", help="keep the data directories")
    args = parser.parse_args()
    campaign_seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    print(
        f"seed {campaign_seed} (replay: python -m bench.webhook_fuzz --seed {campaign_seed} "
        f"--examples {args.examples})"
    )

    started = time.perf_counter()
    cases = generate(args.examples, campaign_seed)
    generation_s = time.perf_counter() - started
    print(
        f"{len(cases):,} recipes generated in {generation_s:.1f} s: "
        + ", ".join(f"{k} {n}" for k, n in Counter(r.kind for r in cases).most_common())
    )

    summary, statuses, by_kind, failed = [], {}, {}, False
    for name in args.targets.split(","):
        root = temp_root("bench-webhook-fuzz-")
        if name == "flask":
            target = FlaskTarget(root)
        elif name == "gunicorn":
            target = GunicornTarget(root, args.workers, args.concurrency)
        else:
            raise SystemExit(f"unknown target {name!r} (flask, gunicorn)")
        try:
            outcomes, seconds = run_target(target, cases, [target.url_base, PUBLIC_BASE])
        finally:
            target.close()
        rows, expected = inbox_rows(root), sum(o.accepted for o in outcomes)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        counts = Counter(v for o in outcomes for v in o.violations)
        codes = Counter(o.status for o in outcomes)
        statuses[target.name] = codes
        by_kind[target.name] = outcomes
        failed |= bool(counts) or rows != expected
        summary.append(
            [
                target.name,
                len(outcomes),
                sum(n for c, n in codes.items() if c and 200 <= c < 300),
                sum(n for c, n in codes.items() if c and 400 <= c < 500),
                counts["5xx"],
                counts["false accept"],
                sum(counts[c] for c in CHECKS[2:]),
                codes[None],
                rows,
                expected,
                seconds,
                len(outcomes) / seconds,
            ]
        )
        shown = [o for o in outcomes if o.violations][: args.show]
        if shown:
            print(
                f"\n{target.name}: first {len(shown)} of {sum(1 for o in outcomes if o.violations)} "
                "requests with violations"
            )
            for outcome in shown:
                print("  " + describe(outcome))

    print_table(
        f"Webhook receiver fuzz: {len(cases):,} hypothesis examples per target, seed "
        f"{campaign_seed}",
        [
            "target",
            "examples",
            "2xx",
            "4xx",
            "5xx",
            "false accepts",
            "other violations",
            "no response",
            "inbox rows",
            "expected rows",
            "seconds",
            "requests/s",
        ],
        summary,
    )
    codes = sorted({c for counter in statuses.values() for c in counter}, key=lambda c: c or 0)
    print_table(
        "Responses by status code",
        ["status", *statuses],
        [[str(c or "none"), *(statuses[t][c] for t in statuses)] for c in codes],
    )
    rows = []
    for kind in KINDS:
        row: list = [kind]
        for outcomes in by_kind.values():
            mine = [o for o in outcomes if o.built.recipe.kind == kind]
            row += [
                len(mine),
                sum(1 for o in mine if o.built.authentic),
                sum(1 for o in mine if o.status and 200 <= o.status < 300),
                sum(1 for o in mine if o.violations),
            ]
        rows.append(row)
    columns = ("n", "genuine per oracle", "2xx", "violations")
    print_table(
        "By kind of recipe, per target",
        ["kind", *(f"{t}: {c}" for t in by_kind for c in columns)],
        rows,
    )
    other = ", ".join(CHECKS[2:])
    print(f"\nother violations: {other}. Result: {'FAIL' if failed else 'PASS'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
