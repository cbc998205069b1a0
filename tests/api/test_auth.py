"""Access control: each role's allowed and denied endpoints, missing, unknown and revoked
tokens, and the denials counted in metrics; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from engine.serve.tokens import Role
from tests.api.conftest import Api
from tests.engine.facts import opened

ING, V, A, ADM = Role.INGEST, Role.VIEWER, Role.AUDITOR, Role.ADMIN
# (method, path, JSON body, the roles allowed): the specification this test holds the
# server to, written out rather than derived from the server's own table.
ENDPOINTS: list[tuple[str, str, Any, set[Role]]] = [
    ("POST", "/v1/facts", opened("AUTH-1"), {ING, ADM}),
    ("POST", "/v1/facts/batch", [], {ING, ADM}),
    ("GET", "/v1/deals/AUTH-1", None, {V, A, ADM}),
    ("GET", "/v1/deals/AUTH-1/history", None, {A, ADM}),
    ("GET", "/v1/reports", None, {V, A, ADM}),
    ("GET", "/v1/pipeline", None, {V, A, ADM}),
    ("GET", "/v1/pipeline/open", None, {V, A, ADM}),
    ("GET", "/v1/sla/overdue", None, {V, A, ADM}),
    ("GET", "/v1/sla/breaches", None, {V, A, ADM}),
    ("GET", "/v1/commissions/statements", None, {V, A, ADM}),
    ("GET", "/v1/views", None, {V, A, ADM}),
    ("POST", "/v1/views/rebuild", None, {A, ADM}),
    ("GET", "/v1/rejections", None, {A, ADM}),
    ("GET", "/v1/rejections/counts", None, {A, ADM}),
    ("GET", "/v1/log", None, {A, ADM}),
    ("GET", "/v1/tokens", None, {ADM}),
    ("POST", "/v1/tokens", {"role": "viewer", "name": "made-by-test"}, {ADM}),
    ("DELETE", "/v1/tokens/no-such-token", None, {ADM}),
    ("GET", "/metrics", None, {V, A, ADM}),
]
PUBLIC = ["/healthz", "/readyz", "/openapi.json"]


def _call(api: Api, role: Role | None, method: str, path: str, body: Any,
          token: str | None = None) -> int:
    with api.client(role, token=token) as client:
        return client.request(method, path, json=body).status_code


def test_each_role_is_allowed_exactly_its_endpoints(api: Api) -> None:
    denied: dict[str, int] = {}
    for method, path, body, allowed in ENDPOINTS:
        for role in Role:
            status = _call(api, role, method, path, body)
            if role in allowed:
                assert status not in (401, 403), (role, method, path, status)
            else:
                assert status == 403, (role, method, path, status)
                route = path if "AUTH-1" not in path else path.replace("AUTH-1", "{subject}")
                route = route.replace("no-such-token", "{token_id}")
                route = {"/v1/pipeline/open": "/v1/pipeline/{section}",
                         "/v1/sla/overdue": "/v1/sla/{section}",
                         "/v1/sla/breaches": "/v1/sla/{section}",
                         "/v1/commissions/statements": "/v1/commissions/{section}"
                         }.get(route, route)
                denied[route] = denied.get(route, 0) + 1
    metrics = api.metrics()
    counted = {key: value for key, value in metrics.items()
               if key.startswith("dealflow_http_denied_total")}
    assert counted == {f'dealflow_http_denied_total{{reason="forbidden",route="{route}"}}':
                       float(n) for route, n in denied.items()}


def test_no_unknown_or_revoked_token_is_401(api: Api) -> None:
    token = api.service.tokens.create(Role.ADMIN, "soon-revoked").secret
    assert _call(api, None, "GET", "/v1/views", None, token=token) == 200
    with api.client(Role.ADMIN) as client:
        revoked = client.delete(f"/v1/tokens/{token.split('_')[1]}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    forged = token[:-4] + "AAAA"
    for method, path, body, _ in ENDPOINTS:
        assert _call(api, None, method, path, body) == 401, path
        assert _call(api, None, method, path, body, token=token) == 401, path
        assert _call(api, None, method, path, body, token=forged) == 401, path
    for path in PUBLIC:
        assert _call(api, None, "GET", path, None) == 200
    with api.client() as client:
        challenge = client.get("/v1/views")
    assert challenge.headers["www-authenticate"] == "Bearer"
    assert challenge.json()["error"] == "unauthenticated"
    metrics = api.metrics()
    n = float(len(ENDPOINTS))
    assert metrics['dealflow_http_denied_total{reason="missing_token",route="/v1/views"}'] == 2
    assert sum(v for k, v in metrics.items() if k.startswith("dealflow_http_denied_total")
               and 'reason="missing_token"' in k) == n + 1
    assert sum(v for k, v in metrics.items() if k.startswith("dealflow_http_denied_total")
               and 'reason="revoked_token"' in k) == n
    assert sum(v for k, v in metrics.items() if k.startswith("dealflow_http_denied_total")
               and 'reason="invalid_token"' in k) == n


def test_tokens_are_stored_hashed(api: Api) -> None:
    from sqlalchemy import text

    with api.client(Role.ADMIN) as client:
        created = client.post("/v1/tokens", json={"role": "auditor", "name": "auditor-2"})
        assert created.status_code == 201
        secret = created.json()["token"]
        taken = client.post("/v1/tokens", json={"role": "viewer", "name": "auditor-2"})
        assert taken.status_code == 409
        listed = client.get("/v1/tokens", params={"limit": 2}).json()
        assert len(listed["items"]) == 2 and listed["next_cursor"]
        rest = client.get("/v1/tokens", params={"cursor": listed["next_cursor"]}).json()
        assert len(listed["items"]) + len(rest["items"]) == len(Role) + 1
    with api.service.runner.engine.connect() as conn:
        stored = [tuple(row) for row in conn.execute(text(
            "SELECT digest, name FROM dealflow_api_tokens"))]
    assert all(secret not in (digest, name) for digest, name in stored)
    assert _call(api, None, "GET", "/v1/rejections", None, token=secret) == 200


def test_malformed_authorization_is_401(api: Api) -> None:
    with api.client() as client:
        for header in ["Basic abc", "Bearer", "Bearer dft_x", "Token abc", "Bearer dft__"]:
            assert client.get("/v1/views", headers={"Authorization": header}
                              ).status_code == 401, header
