"""Warm what-ifs against cold solves, serially, with the model's size (issue 16, item 4).

For each case (the reference case; a synthetic case, scale 24 by default, 67k columns), three runs:

* cold: one scenario planned from scratch in this process (``run_one`` without a warm solver): apply and
  validate, build, solve, report, closest plan;
* warm: ``run_chunk`` on the baseline and N capacity what-ifs (one random Supply row's capacity x 0.5-1.5
  each, as bench/batch_bench.py), one persistent HiGHS model. Per scenario, timed inside the chunk: (from the
  baseline's outcome to the last scenario's, plus the delta path's one-off base model) / N. Also, as this
  benchmark measured it before: (chunk - a chunk of the baseline alone) / N, in which the spread of the
  baseline's cold solve (7-8 s, +-0.5 s on a shared machine) shows up divided by N only.

Wall and CPU (this process) times, min / median / max of the runs, and warm / cold per scenario; how many
scenarios moved nothing and took the baseline's plan without a solve (``WarmClosest.hits``: the ratio depends
on that share of the draw). Ratios of
one run matter, not absolute times (the machine is shared). Run from the repository root:

    python bench/warm_bench.py [--scenarios 10] [--runs 3] [--scale 24]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.batch_bench import capacity_whatifs  # noqa: E402
from bench.generate import generate, write  # noqa: E402
from planner.api import options_from  # noqa: E402
from planner.input.validate import load  # noqa: E402
from planner.optimise.model import build_model  # noqa: E402
from planner.whatif import batch  # noqa: E402
from planner.whatif.scenarios import Scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


TAKEN = [0]  # scenarios planned on the delta path
BASE = [0.0, 0.0]  # wall and CPU seconds of the delta path's base model (DeltaBase), in the latest chunk


def _counted(fn):  # noqa: ANN001, ANN202
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        TAKEN[0] += 1
        return fn(*args, **kwargs)
    return wrapper


class _TimedBase(batch.DeltaBase):
    def __init__(self, inputs) -> None:  # noqa: ANN001
        w, c = time.perf_counter(), time.process_time()
        super().__init__(inputs)
        BASE[0], BASE[1] = time.perf_counter() - w, time.process_time() - c


CLOSEST: list = []  # the chunk's WarmClosest, for how many scenarios moved nothing (its hits)


class _SeenClosest(batch.WarmClosest):
    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        CLOSEST.append(self)


batch.plan_delta = _counted(batch.plan_delta)
batch.DeltaBase = _TimedBase
batch.WarmClosest = _SeenClosest


def _timed(inputs, scenarios: list[Scenario], options, warm: bool) -> tuple[float, float, float, float]:  # noqa: ANN001
    """Wall and CPU seconds of one chunk (the baseline, then ``scenarios``), and of its scenarios alone: from
    the baseline's outcome to the end, plus the delta path's base model if one was made."""
    marks: list[tuple[float, float]] = []
    BASE[0] = BASE[1] = 0.0
    w, c = time.perf_counter(), time.process_time()
    batch.run_chunk(inputs, [Scenario(batch.BASELINE), *scenarios], options, warm=warm,
                    progress=lambda _o: marks.append((time.perf_counter(), time.process_time())))
    w1, c1 = time.perf_counter(), time.process_time()
    return w1 - w, c1 - c, w1 - marks[0][0] + BASE[0], c1 - marks[0][1] + BASE[1]


def _fmt(xs: list[float]) -> str:
    return f"{min(xs):.3f} / {statistics.median(xs):.3f} / {max(xs):.3f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scale", type=int, default=24)
    ap.add_argument("--no-delta", action="store_true", help="the full path for every warm scenario (before)")
    args = ap.parse_args()
    if args.no_delta:
        batch.eligible = lambda _inputs: False
    with tempfile.TemporaryDirectory() as tmp:
        syn = Path(tmp) / "synthetic"
        write(generate(args.scale), syn)
        cases = [("reference case", ROOT / "inputs" / "rare_earth_magnets.xlsx"),
                 (f"synthetic scale {args.scale}", syn)]
        print("| case | columns | rows | nonzeros | cold per scenario s, wall (min / median / max) | CPU | "
              "warm per scenario s, wall | CPU | warm / cold (median wall) | warm / cold (median CPU) | "
              "before: (chunk - baseline chunk) / N, wall | its warm / cold | scenarios on the delta path | "
              "of them the baseline's plan reused (moved nothing) | load average (1 min) at start / end |")
        print("|---|---:|---:|---:|---|---|---|---|---:|---:|---|---:|---:|---:|---|")
        for name, path in cases:
            inputs = load(path)
            model = build_model(inputs)
            options = options_from(inputs)
            scenarios = capacity_whatifs(inputs, args.scenarios)
            cold_w, cold_c, warm_w, warm_c, diff_w = [], [], [], [], []
            load0 = os.getloadavg()[0]
            reference = batch.lane_flows(batch.plan(inputs, options, detail=False))
            for run in range(args.runs):
                # one scenario from scratch, as a batch without a warm solver plans it (the difference of two
                # chunks, with and without it, drowned in the baseline solve's own spread)
                w, c = time.perf_counter(), time.process_time()
                batch.run_one(inputs, scenarios[run % len(scenarios)], options, None, reference)
                cold_w.append(time.perf_counter() - w)
                cold_c.append(time.process_time() - c)
                # less the baseline's own plan; the delta path's base model is counted in the scenarios
                w0, _, _, _ = _timed(inputs, [], options, warm=True)
                TAKEN[0] = 0
                CLOSEST.clear()
                w, _, ws, cs = _timed(inputs, scenarios, options, warm=True)
                reused = sum(getattr(c, "hits", 0) for c in CLOSEST)
                warm_w.append(ws / len(scenarios))
                warm_c.append(cs / len(scenarios))
                diff_w.append((w - w0) / len(scenarios))
                taken = TAKEN[0]
            ratio = statistics.median(warm_w) / statistics.median(cold_w)
            ratio_c = statistics.median(warm_c) / statistics.median(cold_c)
            ratio_d = statistics.median(diff_w) / statistics.median(cold_w)
            print(f"| {name} | {model.n_cols:,} | {model.n_rows:,} | {len(model.a_val):,} | {_fmt(cold_w)} | "
                  f"{_fmt(cold_c)} | {_fmt(warm_w)} | {_fmt(warm_c)} | {ratio:.3f} | {ratio_c:.3f} | {_fmt(diff_w)} | "
                  f"{ratio_d:.3f} | {taken} of {len(scenarios)} | {reused} | {load0:.2f} / {os.getloadavg()[0]:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
