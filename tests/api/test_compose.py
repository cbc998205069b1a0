"""deploy/compose*.yaml read with a YAML parser (no Docker engine here): every file parses,
everything a service mounts exists or is a declared volume, dependencies name services that
can satisfy their condition; the token recipe writes the secret alone, on one line, where
Prometheus reads it; and the commented Kafka lines, uncommented, do turn Kafka on."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.serve.tokens import Role, TokenStore
from engine.settings import Settings
from engine.store.sql import sql_engine
from tests.api.deployfiles import (
    DEPLOY,
    PROMETHEUS_CONFIG,
    TOKEN_SERVICE,
    compose,
    compose_files,
    interpolate,
    run_token_recipe,
    token_recipe,
)

CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
#: Images whose own Dockerfile declares a HEALTHCHECK (ours: deploy/Dockerfile).
BUILT = "deploy/Dockerfile"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _healthy_possible(service: dict[str, Any]) -> bool:
    check = service.get("healthcheck")
    if check is not None:
        return not check.get("disable", False)
    build = service.get("build")
    return isinstance(build, dict) and build.get("dockerfile") == BUILT and \
        "HEALTHCHECK" in (DEPLOY / "Dockerfile").read_text()


@pytest.mark.parametrize("path", compose_files(), ids=lambda p: p.name)
def test_compose_file_is_consistent(path: Path) -> None:
    document = compose(path)
    services: dict[str, dict[str, Any]] = document["services"]
    declared = set(document.get("volumes") or {})
    assert services
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        build = service.get("build")
        if isinstance(build, dict):
            context = (path.parent / build["context"]).resolve()
            assert context.is_dir(), name
            assert (context / build["dockerfile"]).is_file(), name
        for mount in service.get("volumes", []):
            source, target = mount.split(":")[:2]
            assert target.startswith("/"), (name, mount)
            if source.startswith((".", "/")):
                # Docker creates a missing bind-mount source as an empty folder, and a file
                # written there later is never seen: it must exist before the first `up`.
                assert (path.parent / source).exists(), (name, mount)
            else:
                assert source in declared, (name, mount)
        depends = service.get("depends_on", {})
        if isinstance(depends, list):
            depends = {d: {"condition": "service_started"} for d in depends}
        for other, spec in depends.items():
            assert other in services and other != name, (name, other)
            condition = spec["condition"]
            assert condition in CONDITIONS, (name, other)
            if condition == "service_healthy":
                assert _healthy_possible(services[other]), (name, other)
            if condition == "service_completed_successfully":
                assert services[other].get("restart", "no") == "no", (name, other)
        for port in service.get("ports", []):
            assert re.fullmatch(r"127\.0\.0\.1:\d+:\d+", port), (name, port)
        for text in _strings(service):
            interpolate(text)  # no `$` compose would take from the host


def test_serve_needs_both_kafka_lines_and_the_compose_comment_gives_both(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (DEPLOY / "compose.service.yaml").read_text()
    block = text.split("\n  dealflow:\n", 1)[1].split("\n  prometheus-token:\n", 1)[0]
    commented = [line.strip()[2:] for line in block.splitlines()
                 if line.strip().startswith("# DEALFLOW_")]
    lines: dict[str, Any] = yaml.safe_load("\n".join(commented))
    for key in [k for k in os.environ if k.startswith("DEALFLOW_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("DEALFLOW_KAFKA_BOOTSTRAP", str(lines["DEALFLOW_KAFKA_BOOTSTRAP"]))
    assert Settings().serve_kafka is False  # the bootstrap servers alone do not turn it on
    for key, value in lines.items():
        monkeypatch.setenv(key, str(value))
    settings = Settings()
    assert settings.serve_kafka is True
    assert settings.kafka.bootstrap == "kafka:9092"


def test_every_service_running_serve_with_kafka_servers_turns_kafka_on() -> None:
    for path in compose_files():
        for name, service in compose(path)["services"].items():
            command = service.get("command") or ["dealflow", "serve"]  # the image's CMD
            env = service.get("environment") or {}
            if "serve" in command and "DEALFLOW_KAFKA_BOOTSTRAP" in env:
                assert str(env.get("DEALFLOW_SERVE_KAFKA")).lower() == "true", (path, name)


def test_prometheus_reads_the_token_where_the_recipe_writes_it() -> None:
    services = compose(DEPLOY / "compose.service.yaml")["services"]
    _, env = token_recipe()
    written = Path(env["TOKEN_FILE"])
    volume = next(m.split(":")[0] for m in services[TOKEN_SERVICE]["volumes"]
                  if m.split(":")[1] == str(written.parent))
    mounted = next(m.split(":")[1] for m in services["prometheus"]["volumes"]
                   if m.split(":")[0] == volume)
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "dealflow")
    assert job["authorization"]["credentials_file"] == f"{mounted}/{written.name}"
    assert job["static_configs"][0]["targets"] == ["dealflow:8080"]
    assert "dealflow" in services and "8080:8080" in services["dealflow"]["ports"][0]


def test_the_token_recipe_writes_the_secret_alone_once(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/store.db"
    token_file = tmp_path / "token" / "dealflow-token"
    token_file.parent.mkdir()
    first = run_token_recipe(db, token_file)
    assert first.returncode == 0, first.stdout + first.stderr
    secret = token_file.read_text()
    assert re.fullmatch(r"dft_[A-Za-z0-9_-]+\n", secret), secret  # one line: the secret
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o644  # Prometheus runs as nobody
    assert sorted(p.name for p in token_file.parent.iterdir()) == ["dealflow-token"]

    again = run_token_recipe(db, token_file)  # a restart of the stack keeps the token
    assert again.returncode == 0 and token_file.read_text() == secret

    token_file.unlink()  # the README's rotation: a new token, the old one revoked
    rotated = run_token_recipe(db, token_file)
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert token_file.read_text() != secret
    sql = sql_engine(db)
    try:
        tokens = TokenStore(sql, cache_seconds=0).list(include_revoked=True)
    finally:
        sql.dispose()
    assert sorted((t.name, t.role, t.revoked_at is None) for t in tokens) == [
        ("prometheus", Role.VIEWER, False), ("prometheus", Role.VIEWER, True)]
