"""Diagrams of a compiled workflow as text, with no Graphviz binary or pygraphviz.

Mermaid comes from transitions' own mermaid backend; DOT is written from the machine's
markup (``MarkupMachine.get_markup_config()``), the same data transitions' graphviz backend
draws from, because that backend needs the ``graphviz`` package.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

from workflows.compiled import CompiledWorkflow

__all__ = ["DiagramFormat", "diagram"]

DiagramFormat = Literal["mermaid", "dot"]


def diagram(workflow: CompiledWorkflow, fmt: DiagramFormat = "mermaid") -> str:
    """The workflow's state diagram as Mermaid (``stateDiagram-v2``) or Graphviz DOT text."""
    if fmt == "mermaid":
        return _mermaid(workflow)
    if fmt == "dot":
        return _dot(workflow)
    raise ValueError(f"unknown diagram format {fmt!r}; use 'mermaid' or 'dot'")


def _mermaid(workflow: CompiledWorkflow) -> str:
    machine = workflow.machine
    # A fresh graph object: no model, so no "active" state styling.
    text = machine.graph_cls(machine).get_graph(title=machine.title).draw(None)
    assert text is not None  # the mermaid backend returns its source when given no file
    return text


def _dot(workflow: CompiledWorkflow) -> str:
    machine = workflow.machine
    markup: Any = machine.get_markup_config()
    node_style: Any = machine.style_attributes["node"]
    rankdir = machine.machine_attributes.get("rankdir", "LR")
    lines = [
        f"digraph {_quote(machine.title)} {{",
        # "directed"/"strict" in machine_attributes are Digraph() options, not DOT attributes.
        f"  graph [{_attrs({'rankdir': rankdir, 'label': machine.title, 'labelloc': 't'})}];",
        f"  node [{_attrs(node_style['default'])}];",
        '  "__start__" [label="", shape=point];',
    ]
    for state in markup["states"]:
        label = state.get("label", state["name"])
        lines.append(f"  {_quote(state['name'])} [label={_quote(label)}];")
    labels: dict[tuple[str, str], list[str]] = defaultdict(list)
    for transition in markup["transitions"]:
        labels[(transition["source"], transition["dest"])].append(transition["trigger"])
    lines.append(f"  \"__start__\" -> {_quote(markup['initial'])};")
    for (source, dest), triggers in labels.items():
        label = " | ".join(triggers)
        lines.append(f"  {_quote(source)} -> {_quote(dest)} [label={_quote(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _attrs(attrs: dict[str, Any]) -> str:
    return ", ".join(f"{key}={_quote(str(value))}" for key, value in attrs.items())


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
