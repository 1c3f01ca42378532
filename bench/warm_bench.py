"""Warm what-ifs against cold solves, serially, with the model's size (issue 16, item 4).

For each case (the reference case; a synthetic case, scale 24 by default, about 110k columns), three runs:

* cold: one scenario planned from scratch in this process (``run_one`` without a warm solver): apply and
  validate, build, solve, report, closest plan;
* warm: ``run_chunk`` on the baseline and N capacity what-ifs (one random Supply row's capacity x 0.5-1.5
  each, as bench/batch_bench.py), one persistent HiGHS model; per scenario = (chunk - baseline) / N, where
  "baseline" is the chunk's set-up (the baseline plan, the delta path's base model).

Wall and CPU (this process) times, min / median / max of the runs, and warm / cold per scenario. Ratios of
one run matter, not absolute times (the machine is shared). Run from the repository root:

    python bench/warm_bench.py [--scenarios 10] [--runs 3] [--scale 24]
"""

from __future__ import annotations

import argparse
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


def _counted(fn):  # noqa: ANN001, ANN202
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        TAKEN[0] += 1
        return fn(*args, **kwargs)
    return wrapper


batch.plan_delta = _counted(batch.plan_delta)


def _timed(inputs, scenarios: list[Scenario], options, warm: bool) -> tuple[float, float]:  # noqa: ANN001
    """Wall and CPU seconds of one chunk: the baseline, then ``scenarios``."""
    w, c = time.perf_counter(), time.process_time()
    batch.run_chunk(inputs, [Scenario(batch.BASELINE), *scenarios], options, warm=warm)
    return time.perf_counter() - w, time.process_time() - c


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
              "warm per scenario s, wall | CPU | warm / cold (median wall) | scenarios on the delta path |")
        print("|---|---:|---:|---:|---|---|---|---|---:|---:|")
        for name, path in cases:
            inputs = load(path)
            model = build_model(inputs)
            options = options_from(inputs)
            scenarios = capacity_whatifs(inputs, args.scenarios)
            cold_w, cold_c, warm_w, warm_c = [], [], [], []
            reference = batch.lane_flows(batch.plan(inputs, options, detail=False))
            for run in range(args.runs):
                # one scenario from scratch, as a batch without a warm solver plans it (the difference of two
                # chunks, with and without it, drowned in the baseline solve's own spread)
                w, c = time.perf_counter(), time.process_time()
                batch.run_one(inputs, scenarios[run % len(scenarios)], options, None, reference)
                cold_w.append(time.perf_counter() - w)
                cold_c.append(time.process_time() - c)
                # less the baseline's own plan; the delta path's base model is counted in the scenarios
                w0, c0 = _timed(inputs, [], options, warm=True)
                TAKEN[0] = 0
                w, c = _timed(inputs, scenarios, options, warm=True)
                warm_w.append((w - w0) / len(scenarios))
                warm_c.append((c - c0) / len(scenarios))
                taken = TAKEN[0]
            ratio = statistics.median(warm_w) / statistics.median(cold_w)
            print(f"| {name} | {model.n_cols:,} | {model.n_rows:,} | {len(model.a_val):,} | {_fmt(cold_w)} | "
                  f"{_fmt(cold_c)} | {_fmt(warm_w)} | {_fmt(warm_c)} | {ratio:.3f} | {taken} of {len(scenarios)} |",
                  flush=True)


if __name__ == "__main__":
    main()
