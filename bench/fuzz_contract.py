"""Coverage-guided fuzzing of the contract parser and the ingest path (the long run; the
suite's short run is tests/engine/ingest/test_hostile_input.py).

    python3 dev.py bench fuzz_contract [--seconds 3600] [--runs 1000000] [--out DIR]
                                       [--db URL] [--engine atheris|hypothesis]

With atheris (libFuzzer, instrumenting engine.contract, engine.ingest, engine.handlers,
engine.domain and engine.translate), every input goes through the parser
(``parse_fact``) and the HTTP batch splitter, and is ingested into a fresh store in batches
of 64 (``--db``: default a SQLite file under --out), each batch checked as the property test
checks it (tests/engine/hostile.py): each input accepted, a duplicate, or rejected with a
reason and stored, never an exception. The corpus starts from demo facts and the pinned
regression inputs; a dictionary of contract tokens helps the mutator. Without atheris (or
with ``--engine hypothesis``) the same checks run over the Hypothesis generators.

A finding is an exception other than a refusal, or a failed check; each distinct one
(exception type and where it was raised) is saved under DIR/findings/ with the input that
raised it, and the run goes on. Prints (and writes DIR/summary.json every 10,000
executions and at the end): executions, executions/s, batches ingested, outcomes by status,
findings. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_TOKENS = [
    '"id"', '"type"', '"source"', '"time"', '"subject"', '"actor"', '"data"', '"amount"',
    '"currency"', '"workflow"', '"owner"', '"splits"', '"share"', '"rep"', '"to"', '"kind"',
    '"purpose"', '"reason"', '"stage"', '"capacity"', '"period"', '"category"',
    '"expected_close"', '"deal.opened"', '"deal.stage_changed"', '"contract.signed"',
    '"activity.logged"', '"rep.profile_set"', '"forecast.submitted"', '"deal.forecast_set"',
    '"2026-01-05T10:00:00+08:00"', '"2026-Q1"', '"CNY"', '"standard"', '"channel"',
    "1e400", "-0", "NaN", "Infinity", "1E-400", "99999999999999999999999999999",
    "\\ud800", "\\u0000", "\\udc00", "null", "true", "[]", "{}",
]


class Fuzz:
    """The target: parse, split, and ingest in batches with the property test's checks."""

    def __init__(self, out: Path, db: str | None, batch: int = 64, *,
                 runs: int | None = None, seconds: float | None = None) -> None:
        from engine.bootstrap import bootstrap
        from engine.settings import Settings
        from tests.engine.hostile import BatchChecker

        self.out = out
        (out / "findings").mkdir(parents=True, exist_ok=True)
        url = db or f"sqlite:///{out / 'fuzz.db'}"
        self.engine = bootstrap(Settings(db=url))
        self.checker = BatchChecker(self.engine)
        self.batch = batch
        self.pending: list[bytes] = []
        self.executions = 0
        self.outcomes: Counter[str] = Counter()
        self.findings: dict[str, dict[str, Any]] = {}
        self.started = time.perf_counter()
        self.runs = runs
        self.deadline = None if seconds is None else time.monotonic() + seconds

    def one(self, raw: bytes) -> None:
        """One execution."""
        from tests.engine.hostile import check_parse

        self.executions += 1
        try:
            check_parse(raw)
            check_parse(raw, "application/x-ndjson")
        except Exception as exc:  # a finding: keep it and go on
            self._finding("parse", exc, [raw])
        self.pending.append(raw)
        if len(self.pending) >= self.batch:
            self.flush()
        if self.executions % 10_000 == 0:
            self.report(final=False)
        # libFuzzer ends the process without running Python's exit handlers: the target
        # itself notices the end and prints the summary.
        if (self.runs is not None and self.executions >= self.runs) or (
                self.deadline is not None and time.monotonic() >= self.deadline):
            self.report(final=True)
            sys.stdout.flush()
            os._exit(0)

    def flush(self) -> None:
        """Ingest and check the pending inputs; on a failure find the input(s) at fault."""
        batch, self.pending = self.pending, []
        if not batch:
            return
        try:
            self.outcomes.update(self.checker.check(batch))
        except Exception:
            for raw in batch:  # alone, to name the input at fault
                try:
                    self.outcomes.update(self.checker.check([raw]))
                except Exception as exc:
                    self._finding("ingest", exc, [raw])

    def _finding(self, stage: str, exc: BaseException, inputs: list[bytes]) -> None:
        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        where = f"{frame.filename}:{frame.lineno}" if frame else "?"
        key = f"{stage}:{type(exc).__name__}:{where}"
        found = self.findings.setdefault(key, {"count": 0, "example": None})
        found["count"] += 1
        if found["example"] is None:
            name = hashlib.sha256(key.encode()).hexdigest()[:12]
            path = self.out / "findings" / f"{name}.bin"
            path.write_bytes(inputs[0])
            (self.out / "findings" / f"{name}.txt").write_text(
                "".join(traceback.format_exception(exc)))
            found["example"] = str(path)
            print(f"FINDING {key} (input saved in {path})", flush=True)

    def report(self, *, final: bool) -> dict[str, Any]:
        """Write (and at the end print) the summary."""
        if final:
            self.flush()
        seconds = time.perf_counter() - self.started
        summary = {"executions": self.executions, "seconds": round(seconds, 1),
                   "executions_per_second": round(self.executions / max(seconds, 1e-9), 1),
                   "batches": self.checker.batches, "outcomes": dict(self.outcomes),
                   "findings": len(self.findings), "by_finding": self.findings,
                   "final": final}
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2))
        if final:
            print(json.dumps(summary, indent=2), flush=True)
        return summary


def _seed_corpus(out: Path) -> Path:
    from engine.demo import generate_lines

    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for i, line in enumerate(generate_lines(7, deals=60)):
        if i % 7 == 0:
            (corpus / f"demo-{i}").write_bytes(line.raw)
    regressions = [
        b'{"id":"x","type":"deal.opened","source":"s","time":"2026-01-05T10:00:00Z",'
        b'"subject":"F-9","data":{"amount":1e400}}',
        b'{"id":"\\ud800","type":"deal.opened"}',
    ]
    for i, raw in enumerate(regressions):
        (corpus / f"regression-{i}").write_bytes(raw)
    return corpus


def _run_atheris(args: argparse.Namespace, out: Path) -> None:
    import atheris  # type: ignore[import-untyped]

    with atheris.instrument_imports(include=["engine.contract", "engine.ingest",
                                             "engine.handlers", "engine.domain",
                                             "engine.translate", "engine.api.facts"]):
        import engine.api.facts
        import engine.ingest.batch  # noqa: F401
    fuzz = Fuzz(out, args.db, runs=args.runs, seconds=args.seconds)
    corpus = _seed_corpus(out)
    dictionary = out / "contract.dict"
    dictionary.write_text("".join(f"{json.dumps(t)}\n" for t in _TOKENS))
    argv = [sys.argv[0], str(corpus), f"-dict={dictionary}", f"-runs={args.runs + 1000}",
            f"-max_total_time={args.seconds + 120}", "-max_len=4096",
            "-print_final_stats=1"]
    atheris.Setup(argv, fuzz.one)
    atheris.Fuzz()


def _run_hypothesis(args: argparse.Namespace, out: Path) -> None:
    from hypothesis import HealthCheck, given, settings

    from tests.engine.hostile import hostile_inputs

    fuzz = Fuzz(out, args.db)
    deadline = time.monotonic() + args.seconds

    @settings(max_examples=args.runs, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(hostile_inputs())
    def run(raw: bytes) -> None:
        if time.monotonic() < deadline:
            fuzz.one(raw)

    run()
    fuzz.report(final=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=3600)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/dealflow-fuzz"))
    parser.add_argument("--db", default=None, help="store URL (default: SQLite under --out)")
    parser.add_argument("--engine", choices=["atheris", "hypothesis"], default=None)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    engine = args.engine
    if engine is None:
        try:
            import atheris  # noqa: F401
            engine = "atheris"
        except ImportError:
            engine = "hypothesis"
    print(f"fuzzing with {engine} for up to {args.seconds} s or {args.runs} executions; "
          f"output in {args.out}", flush=True)
    if engine == "atheris":
        _run_atheris(args, args.out)
    else:
        _run_hypothesis(args, args.out)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
