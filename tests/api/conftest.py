"""API tests: a real uvicorn server on a free loopback port (in a thread), over a service on
SQLite or PostgreSQL, with one token per role."""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from engine.api.server import BackgroundServer
from engine.serve.service import Service
from engine.serve.tokens import Role
from engine.settings import Settings
from tests.engine.conftest import engine, make_engine
from tests.infra.common import is_ci
from tests.infra.prometheus import PrometheusBinaries, PrometheusUnavailable, find_prometheus

__all__ = ["Api", "engine", "make_engine"]

#: A fact in the contract's JSON shape, as the tests post it.
Fact = dict[str, Any]

#: One TLS context for every test client (httpx builds a new one per client otherwise, at
#: ~60 ms each); the servers are plain HTTP on loopback anyway.
_TLS = ssl.create_default_context()


def api_settings(store_url: str, **overrides: Any) -> Settings:
    """Settings for a test server: a free port, no caches that would hide a change."""
    values: dict[str, Any] = {
        "db": store_url, "api_host": "127.0.0.1", "api_port": 0,
        "api_token_cache_seconds": 0, "api_report_max_age": 0, "api_report_stale_seconds": 0,
        "metrics_view_cache_seconds": 0, "sla_timer_interval": 0, "api_wait_seconds": 10,
        "views_process": False,  # a thread: quicker to start; the CLI test covers the process
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Api:
    """A running server, its service, and a token per role."""

    service: Service
    server: BackgroundServer
    tokens: dict[Role, str]

    @property
    def url(self) -> str:
        """The server's base URL."""
        return self.server.url

    def client(self, role: Role | None = None, token: str | None = None) -> httpx.Client:
        """An HTTP client, authenticated as ``role`` (or with ``token``)."""
        secret = token or (self.tokens[role] if role is not None else None)
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, verify=_TLS)

    def metrics(self) -> dict[str, float]:
        """Scrape /metrics (as admin): sample name + sorted labels -> value."""
        with self.client(Role.ADMIN) as client:
            response = client.get("/metrics")
        response.raise_for_status()
        return parse_metrics(response.text)


def parse_metrics(text: str) -> dict[str, float]:
    """``{'name{a="1",b="2"}': value}`` for every sample of a scrape."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}"] = sample.value
    return found


def all_pages(client: httpx.Client, path: str, **params: Any) -> list[list[Any]]:
    """Every page of a paged list (``items``, ``next_cursor``), following the cursor."""
    found, cursor = [], None
    while True:
        body = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert body.status_code == 200, body.text
        found.append(body.json()["items"])
        cursor = body.json()["next_cursor"]
        if cursor is None:
            return found


def every_item(client: httpx.Client, path: str, **params: Any) -> list[Any]:
    """The items of every page of a paged list, in order."""
    return [item for page in all_pages(client, path, **params) for item in page]


def start_api(store_url: str, **overrides: Any) -> Api:
    """Build, start and serve a service; make a token per role."""
    service = Service.build(api_settings(store_url, **overrides), registry=CollectorRegistry())
    service.start()
    server = BackgroundServer(service)
    try:
        server.start()
    except BaseException:
        service.stop()
        raise
    tag = secrets.token_hex(3)  # several services may share a store
    tokens = {role: service.tokens.create(role, f"test-{role.value}-{tag}").secret
              for role in Role}
    return Api(service, server, tokens)


def stop_api(api: Api) -> None:
    """Stop serving and close the service."""
    api.server.stop()
    api.service.stop()


@pytest.fixture
def make_api(store_url: str) -> Iterator[Callable[..., Api]]:
    """Start servers on the test's store (stopped at the end)."""
    started: list[Api] = []

    def make(**overrides: Any) -> Api:
        api = start_api(store_url, **overrides)
        started.append(api)
        return api

    yield make
    for api in reversed(started):
        stop_api(api)


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """A running server on the test's store (SQLite file or PostgreSQL database)."""
    return make_api()


@pytest.fixture
def admin_with(api: Api) -> Iterator[Callable[[list[Fact]], httpx.Client]]:
    """Post facts to the test's server (``wait=true``: the views have them), check that every
    one was accepted, and hand back an admin client (closed at the end of the test)."""
    clients: list[httpx.Client] = []

    def post(facts: list[Fact]) -> httpx.Client:
        client = api.client(Role.ADMIN)
        clients.append(client)
        done = client.post("/v1/facts/batch?wait=true", json=facts)
        assert done.status_code == 200, done.text
        assert done.json()["accepted"] == len(facts), done.text
        return client

    yield post
    for client in clients:
        client.close()


@pytest.fixture(scope="session")
def prometheus() -> PrometheusBinaries:
    """The Prometheus server and promtool (Debian's ``prometheus`` package). Missing, the
    test skips, except under ``CI=true``, where it fails (``python3 dev.py test`` installs
    the package when it can)."""
    try:
        return find_prometheus()
    except PrometheusUnavailable as exc:
        if is_ci():
            pytest.fail(f"{exc}\n(CI=true: refusing to skip)", pytrace=False)
        pytest.skip(str(exc))
