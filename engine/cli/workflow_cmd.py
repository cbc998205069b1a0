"""``dealflow workflow ...`` (placeholder, replaced by the workflows work)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Inspect the workflow definitions (stages, transitions, SLA rules).")
