#!/usr/bin/env python3
"""Set up and run dealflow from a fresh clone with nothing but python3.

    python3 dev.py demo [DEMO OPTIONS]   # create .venv if missing, install, run `dealflow demo`
    python3 dev.py test [PYTEST ARGS]    # create .venv if missing, install, ruff + mypy +
                                         # lint-imports + pytest (and Debian's prometheus
                                         # package, for the Prometheus tests, if missing)
    python3 dev.py bench NAME [ARGS]     # run bench/NAME.py in the project's .venv

The virtual environment is .venv beside this file; it is (re)installed when pyproject.toml
changes. Only the standard library is used here, on purpose.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def _run(*cmd: str | Path, check: bool = True, env: dict[str, str] | None = None) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, check=check,
                          env=None if env is None else {**os.environ, **env}).returncode


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


def ensure_prometheus() -> None:
    """promtool and the Prometheus server, which the deploy tests run: Debian's
    ``prometheus`` package, installed when missing if this runs as root with apt-get.
    Otherwise those tests skip, and fail under CI=true (tests/api/conftest.py)."""
    if shutil.which("promtool") and shutil.which("prometheus"):
        return
    apt = shutil.which("apt-get")
    if apt is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        print("dev.py: promtool/prometheus not found and not installable here (needs root "
              "and apt-get): the Prometheus tests will skip (and fail under CI=true); "
              "install Debian's prometheus package to run them", flush=True)
        return
    print("dev.py: promtool/prometheus not found: installing Debian's prometheus package "
          "(promtool and the server, for the deploy tests; its service is not started)",
          flush=True)
    quiet = {"DEBIAN_FRONTEND": "noninteractive"}
    if _run(apt, "update", check=False, env=quiet) != 0:
        print("dev.py: apt-get update failed; trying the install anyway", flush=True)
    if _run(apt, "install", "-y", "--no-install-recommends", "prometheus", check=False,
            env=quiet) != 0 or not shutil.which("promtool"):
        print("dev.py: installing prometheus failed: the Prometheus tests will skip (and "
              "fail under CI=true)", flush=True)
        return
    print(f"dev.py: installed {shutil.which('prometheus')} and {shutil.which('promtool')}",
          flush=True)


def demo(args: list[str]) -> int:
    ensure_env("")
    return _run(BIN / "dealflow", "demo", *args, check=False)


def test(args: list[str]) -> int:
    ensure_env("dev")
    ensure_prometheus()
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
