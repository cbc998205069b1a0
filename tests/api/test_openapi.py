"""Schemathesis against the served OpenAPI document: no server error and no response outside
the document (status codes, content types, bodies, headers), for every operation, as an
admin (allowed everywhere), against a real server on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks as st_checks
from schemathesis.specs.openapi import checks as openapi_checks

from engine.serve.tokens import Role
from tests.api.conftest import Api, start_api, stop_api
from tests.engine.facts import STANDARD_PATH, fact, opened
from tests.infra import create_database, drop_database

EXAMPLES = 40
#: Operations whose every accepted case replays the whole log (a rebuild of every view,
#: ~160 ms each against ~10 ms for a read): fewer examples, the same checks. Its one
#: parameter is a list of view names, where most cases are unknown names (a quick 404).
COSTLY_EXAMPLES = {"POST /v1/views/rebuild": 10}
CHECKS = [
    st_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
]


def _seed(api: Api) -> None:
    facts = [opened("API-1"), opened("API-2", workflow="channel")]
    facts += [fact(t, "API-1", d, time=f"2026-01-{6 + i:02d}T10:00:00+08:00")
              for i, (t, d) in enumerate(STANDARD_PATH)]
    with api.client(Role.ADMIN) as client:
        assert client.post("/v1/facts/batch?wait=true", json=facts).json()["accepted"] == 13


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                               marks=pytest.mark.postgres)])
def fuzzed_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Api]:
    """A seeded server for the whole module, on each backend."""
    if request.param == "sqlite":
        url, admin = f"sqlite:///{tmp_path_factory.mktemp('openapi')}/dealflow.db", None
    else:
        admin = request.getfixturevalue("postgres_url")
        url = create_database(admin)
    api = start_api(url, api_report_max_age=5)  # freshness is tested elsewhere
    try:
        _seed(api)
        yield api
    finally:
        stop_api(api)
        if admin is not None:
            drop_database(admin, url)


def _fuzz(operation: schemathesis.APIOperation, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=COSTLY_EXAMPLES.get(operation.label, EXAMPLES), deadline=None,
              derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

    run()


def test_no_server_error_and_no_response_outside_the_document(fuzzed_api: Api) -> None:
    # Operations are walked here rather than with schemathesis' pytest plugin, whose
    # ``from_fixture`` does not run under this pytest version.
    schema = schemathesis.openapi.from_url(f"{fuzzed_api.url}/openapi.json")
    headers = {"Authorization": f"Bearer {fuzzed_api.tokens[Role.ADMIN]}"}
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    assert set(COSTLY_EXAMPLES) <= {operation.label for operation in operations}
    for operation in operations:
        try:
            _fuzz(operation, headers)
        except Exception as exc:  # collect every operation's failure, then report them all
            failures[operation.label] = f"{type(exc).__name__}: {exc}"[:3000]
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())


def test_the_document_is_served_and_complete(fuzzed_api: Api, tmp_path: Path) -> None:
    with fuzzed_api.client() as client:
        document = client.get("/openapi.json").json()
    paths = document["paths"]
    for path in ("/v1/facts", "/v1/facts/batch", "/v1/deals/{subject}",
                 "/v1/deals/{subject}/history", "/v1/pipeline", "/v1/sla/{section}",
                 "/v1/commissions/{section}", "/v1/rejections", "/v1/log", "/v1/tokens",
                 "/metrics", "/healthz", "/readyz"):
        assert path in paths, path
    secured = [op for path, ops in paths.items() for op in ops.values()
               if path not in ("/healthz", "/readyz")]
    assert all(op.get("security") == [{"token": []}] for op in secured)
    assert all("401" in op["responses"] and "403" in op["responses"] for op in secured)
