"""Running the installed ``dealflow`` console script in a scratch folder, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["DEALFLOW", "dealflow", "environment", "snapshot"]

DEALFLOW = str(Path(sys.executable).parent / "dealflow")


def environment(**env: str) -> dict[str, str]:
    """This process's environment without DEALFLOW_* settings, plus ``env``."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("DEALFLOW_")}, **env}


def dealflow(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the console script in ``folder``, with no DEALFLOW_* settings but ``env``."""
    return subprocess.run([DEALFLOW, *args], cwd=folder, env=environment(**env), text=True,
                          capture_output=True, check=False)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder`` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}
