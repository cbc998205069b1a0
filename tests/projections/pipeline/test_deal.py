"""One deal's state and stage history, now and as of an earlier time."""

from __future__ import annotations

from datetime import datetime

from engine.bootstrap import Engine
from projections.pipeline import PipelineProjection, deal_state
from projections.report import ReportParams
from projections.runner import ProjectionRunner
from tests.engine.conftest import send
from tests.projections.pipeline.scenario import SCENARIO, at


def _view(engine: Engine, runner: ProjectionRunner) -> PipelineProjection:
    send(engine, *SCENARIO)
    runner.catch_up()
    view = runner.live["pipeline"]
    assert isinstance(view, PipelineProjection)
    return view


def test_current_state_and_history(engine: Engine, runner: ProjectionRunner) -> None:
    view = _view(engine, runner)
    with runner.engine.connect() as conn:
        d6 = deal_state(conn, view, "D6")
        d3 = deal_state(conn, view, "D3")
        assert deal_state(conn, view, "nope") is None
    assert d6 is not None and d3 is not None
    body = d6.to_json()
    assert (body["stage"], body["owner"], body["team"], body["amount"], body["probability"],
            body["weighted_amount"], body["lost_from"]) == (
        "lead", "rep-b", "west", "2000.00", "0.05", "100.00", None)
    assert [(h["stage"], h["entered_by"], h["exited_by"]) for h in body["history"]] == [
        ("lead", "opened", "lost"), ("lost", "lost", "reopened"), ("lead", "reopened", None)]
    assert body["history"][0]["exited_at"] == datetime.fromisoformat(at(5, 12)).isoformat(
    ).replace("+08:00", "+00:00").replace("T12", "T04")
    won = d3.to_json()
    assert (won["stage"], won["signed_amount"], won["signed_currency"], won["cancelled"],
            won["amount"], won["currency"]) == ("won", "8000.00", "USD", True, "8000.00", "USD")


def test_as_of_an_earlier_time(engine: Engine, runner: ProjectionRunner) -> None:
    view = _view(engine, runner)
    with runner.engine.connect() as conn:
        d6 = deal_state(conn, view, "D6", ReportParams(as_of=datetime.fromisoformat(at(5, 13))))
        d3 = deal_state(conn, view, "D3", ReportParams(as_of=datetime.fromisoformat(at(15, 0))))
        d4 = deal_state(conn, view, "D4", ReportParams(as_of=datetime.fromisoformat(at(9, 0))))
    assert d4 is None  # opened on the 10th
    assert d6 is not None and d3 is not None
    lost = d6.to_json()
    assert (lost["stage"], lost["lost_from"], lost["probability"]) == ("lost", "lead", "0.00")
    assert [(h["stage"], h["exited_by"]) for h in lost["history"]] == [
        ("lead", "lost"), ("lost", None)]
    signed = d3.to_json()  # signed on the 12th, cancelled on the 20th
    assert (signed["stage"], signed["cancelled"], signed["cancelled_at"]) == ("won", False, None)
