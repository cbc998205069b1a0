"""``dealflow serve``: the HTTP API, metrics and health, with the views following live."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from engine.cli.common import DbOption, console, started
from engine.errors import DealflowError

if TYPE_CHECKING:
    from engine.serve.service import Service

__all__ = ["serve"]


def serve(
    db: DbOption = None,
    host: Annotated[str | None, typer.Option(
        help="Listen address \\[default: $DEALFLOW_API_HOST or 127.0.0.1]",
        show_default=False)] = None,
    port: Annotated[int | None, typer.Option(
        help="Listen port \\[default: $DEALFLOW_API_PORT or 8080]", show_default=False)] = None,
    kafka: Annotated[str | None, typer.Option(
        "--kafka", metavar="BOOTSTRAP", help="Also consume facts from Kafka and relay "
        "domain events, with these bootstrap servers (e.g. 127.0.0.1:9092); topics and "
        "group from DEALFLOW_KAFKA_* \\[default: off, unless $DEALFLOW_SERVE_KAFKA=true]",
        show_default=False)] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the HTTP API (facts in; deals, views, reports, audit out), /metrics, /healthz
    and /readyz; the views follow the log live. Every API route needs a token: create one
    with `dealflow token create --role admin --name ops`."""
    from engine.api.server import serve as run_service
    from engine.settings import Settings

    values: dict[str, Any] = {k: v for k, v in {"db": db, "api_host": host,
                                                "api_port": port}.items() if v is not None}
    try:
        settings = Settings(**values)
        if kafka is not None:
            settings = settings.model_copy(update={
                "serve_kafka": True,
                "kafka": settings.kafka.model_copy(update={"bootstrap": kafka})})
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc

    def on_started(service: Service) -> None:
        started()
        tokens = service.tokens.list(limit=1)
        console.print(f"dealflow serving {settings.db} on "
                      f"http://{settings.api_host}:{settings.api_port} "
                      f"(views: {', '.join(service.runner.live) or 'none'}; "
                      f"kafka: {settings.kafka.bootstrap if settings.serve_kafka else 'off'})")
        if not tokens:
            console.print("[yellow]no API tokens yet:[/yellow] create one with "
                          "`dealflow token create --role admin --name NAME`")

    try:
        run_service(settings, on_started=on_started, log_level=log_level)
    except DealflowError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
