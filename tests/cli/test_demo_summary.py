"""The demo's "Generated vs. what the engine decided" table: late deliveries are accepted
facts, so they are counted under accepted, never under the rejected bad inputs."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli.helpers import dealflow


def test_late_deliveries_are_shown_under_accepted(tmp_path: Path) -> None:
    done = dealflow(tmp_path, "demo", "--deals", "40", "--quiet", "--workers", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    table = done.stdout.split("Generated vs. what the engine decided", 1)[1]
    rows = [label.strip() for label in re.findall(r"^│ ([^│]+?)\s*│", table, re.MULTILINE)]
    assert rows[:4] == ["good facts -> accepted", "of which delivered late",
                        "re-sent -> duplicates", "bad inputs -> rejected"]
    late = re.search(r"of which delivered late\s*│\s*([\d,]+)", table)
    assert late is not None and int(late.group(1).replace(",", "")) > 0
