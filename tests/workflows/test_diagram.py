"""Diagrams as text, from transitions' own diagram support (no Graphviz binary)."""

from __future__ import annotations

import pytest

from workflows import CompiledWorkflow, WorkflowRegistry, diagram


@pytest.fixture(scope="module", params=["standard", "channel"])
def wf(request: pytest.FixtureRequest) -> CompiledWorkflow:
    name: str = request.param
    return WorkflowRegistry.shipped().get(name)


def test_mermaid_names_every_stage_and_move(wf: CompiledWorkflow) -> None:
    text = diagram(wf, "mermaid")
    assert "stateDiagram-v2" in text
    assert f"{wf.name} v{wf.version}" in text
    for stage in wf.stages:
        assert f" as {stage}\n" in text
    assert "negotiation --> won: sign" in text
    assert f"{wf.open_stages[0]} --> {wf.open_stages[1]}: advance" in text
    assert f"lost --> {wf.first_stage}: reopen" in text
    assert f"[*] --> {wf.first_stage}" in text
    assert "s_active" not in text.split("classDef s_active")[-1]  # no state drawn as current


def test_mermaid_shows_probabilities(wf: CompiledWorkflow) -> None:
    assert '"negotiation (80%)"' in diagram(wf, "mermaid")


def test_dot_is_graphviz_source(wf: CompiledWorkflow) -> None:
    text = diagram(wf, "dot")
    assert text.startswith(f'digraph "{wf.name} v{wf.version}" {{')
    assert text.rstrip().endswith("}")
    for stage in wf.stages:
        assert f'"{stage}" [label=' in text
    assert '"negotiation" -> "won" [label="sign"];' in text
    assert f'"__start__" -> "{wf.first_stage}";' in text
    assert text.count(" -> ") == len(wf.transitions) + 1


def test_the_default_is_mermaid(wf: CompiledWorkflow) -> None:
    assert diagram(wf) == diagram(wf, "mermaid")


def test_unknown_format(wf: CompiledWorkflow) -> None:
    with pytest.raises(ValueError, match="png"):
        diagram(wf, "png")  # type: ignore[arg-type]
