#!/usr/bin/env python3
"""Set up and run dealflow from a fresh clone with nothing but python3.

    python3 dev.py demo [DEMO OPTIONS]   # create .venv if missing, install, run `dealflow demo`
    python3 dev.py test [PYTEST ARGS]    # create .venv if missing, install, ruff + mypy +
                                         # lint-imports + pytest
    python3 dev.py bench NAME [ARGS]     # run bench/NAME.py in the project's .venv

The virtual environment is .venv beside this file; it is (re)installed when pyproject.toml
changes. Only the standard library is used here, on purpose.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def _run(*cmd: str | Path, check: bool = True) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, check=check).returncode


def ensure_env(extras: str) -> None:
    """Create .venv if missing; install the project with ``extras`` if anything changed."""
    if not PY.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{extras or 'base'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    _run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    _run(PY, "-m", "pip", "install", "--quiet", "-e", target)
    stamp.write_text(digest)


def demo(args: list[str]) -> int:
    ensure_env("")
    return _run(BIN / "dealflow", "demo", *args, check=False)


def test(args: list[str]) -> int:
    ensure_env("dev")
    failed = False
    for step in (
        (BIN / "ruff", "check", "engine", "projections", "workflows", "tests", "bench"),
        (BIN / "mypy", "--strict", "engine", "projections", "workflows"),
        (BIN / "lint-imports",),  # the layer contracts in pyproject.toml
    ):
        if _run(*step, check=False) != 0:
            failed = True
    code = _run(PY, "-m", "pytest", *args, check=False)
    if code == 5:
        print("dev.py: pytest collected no tests: that is a failure, not a pass", flush=True)
        return 1
    if failed and code == 0:
        print("dev.py: tests passed, but ruff or mypy failed (see above)", flush=True)
        return 1
    return code


def bench(args: list[str]) -> int:
    ensure_env("dev")
    if not args:
        print("usage: python3 dev.py bench NAME [ARGS]; NAME is a file in bench/ without .py")
        return 2
    return _run(PY, ROOT / "bench" / f"{args[0]}.py", *args[1:], check=False)


def main() -> int:
    commands = {"demo": demo, "test": test, "bench": bench}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
