"""What the escalation ladder costs the SLA view and timer, beside a ladder-free baseline
measured in the same run.

    .venv/bin/python bench/sla_ladder.py [--deals 3000] [--at 2026-04-30T00:00:00+08:00]

1. Fill a fresh SQLite store with a demo quarter (--deals deals), then copy the file, so
   that both runs start from the same log.
2. Baseline: the shipped workflows as a version 2 without escalation steps (the ladder is
   read from the latest version, so the store's version 1 deals get none): rebuild the
   ``sla`` view (best of --repeat), then one timer tick at --at judging every deal
   (breaches only).
3. The shipped ladder (first_contact owner+0h and manager+9h, thank_you_email owner+0h) on
   the copy: the same rebuild and tick (breaches and steps).
Prints seconds, events appended, due rows, and the ladder/baseline ratios.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import datetime
from importlib.resources import files
from pathlib import Path

import yaml
from sqlalchemy import func, select

from engine.bootstrap import bootstrap
from engine.demo import generate
from engine.ingest.batch import RawInput
from engine.settings import Settings
from projections.sla import SlaProjection


def ladder_free(folder: Path) -> Path:
    """Definitions: the shipped workflows as version 2, their ladders removed."""
    out = folder / "workflows"
    out.mkdir(parents=True)
    for name in ("standard", "channel"):
        data = yaml.safe_load(files("workflows").joinpath("definitions", f"{name}.yaml")
                              .read_text(encoding="utf-8"))
        data["version"] = 2
        for rule in data["sla"]:
            rule.pop("escalation", None)
        (out / f"{name}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return folder


def run(db: str, definitions: Path | None, at: datetime, repeat: int) -> dict[str, float]:
    """Rebuild the SLA view (best of ``repeat``) and tick once; seconds and counts."""
    engine = bootstrap(Settings(db=db, definitions=definitions))
    try:
        runner = engine.runner([SlaProjection.name])
        runner.catch_up()
        rebuilt = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            runner.rebuild([SlaProjection.name])
            rebuilt = min(rebuilt, time.perf_counter() - started)
        view = runner.live[SlaProjection.name]
        assert isinstance(view, SlaProjection)
        with engine.sql.connect() as conn:
            due = int(conn.execute(select(func.count()).select_from(view.due)).scalar() or 0)
        timer = engine.sla_timer(runner)
        started = time.perf_counter()
        appended = timer.tick(at)
        ticked = time.perf_counter() - started
        timer.stop()
        runner.stop()
        return {"rebuild_s": rebuilt, "tick_s": ticked, "appended": appended, "due_rows": due,
                "judged": timer.judged_deals}
    finally:
        engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=3000)
    parser.add_argument("--at", default="2026-04-30T00:00:00+08:00")
    parser.add_argument("--repeat", type=int, default=3, help="rebuilds per run (best kept)")
    args = parser.parse_args()
    at = datetime.fromisoformat(args.at)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        first = folder / "store.db"
        engine = bootstrap(Settings(db=f"sqlite:///{first}"))
        lines = list(generate(7, deals=args.deals))
        for start in range(0, len(lines), 1000):
            engine.ingestor.ingest([RawInput(raw, f"b:{start + i}")
                                    for i, raw in enumerate(lines[start:start + 1000])])
        engine.close()
        second = folder / "copy.db"
        shutil.copyfile(first, second)
        print(f"{len(lines):,} facts, {args.deals:,} deals; tick at {at.isoformat()}")
        base = run(f"sqlite:///{first}", ladder_free(folder / "defs"), at, args.repeat)
        ladder = run(f"sqlite:///{second}", None, at, args.repeat)
    for name, figures in (("baseline (no ladder)", base), ("shipped ladder", ladder)):
        print(f"{name:>22}: rebuild {figures['rebuild_s']:.2f} s, due rows "
              f"{figures['due_rows']:,.0f}; tick {figures['tick_s']:.2f} s judging "
              f"{figures['judged']:,.0f} deals, {figures['appended']:,.0f} events appended")
    print(f"ratios ladder/baseline: rebuild {ladder['rebuild_s'] / base['rebuild_s']:.2f}x, "
          f"tick {ladder['tick_s'] / base['tick_s']:.2f}x, events "
          f"{ladder['appended'] / max(base['appended'], 1):.2f}x")


if __name__ == "__main__":
    main()
