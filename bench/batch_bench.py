"""What-if batch speed: 200 capacity what-ifs against one cold `planner solve`.

For each case (the reference case; a synthetic case of about 110,000 variables):

* cold: `planner solve` in a fresh process, end to end (median of --cold-runs);
* batch: `run_batch` on N scenarios, each multiplying one random Supply row's
  capacity by a factor in [0.5, 1.5], serial (1 process) and parallel (--jobs),
  warm (one persistent HiGHS model per worker, re-solved from its basis) and,
  on a subset, cold (every scenario solved from scratch);
* per scenario = batch wall time / N, and its ratio to the cold solve.

Every warm result is checked against the cold result of the same scenario on the
cold subset. Run from the repository root:

    python bench/batch_bench.py [--scenarios 200] [--jobs 2] [--cold-subset 10]

Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.generate import generate, write  # noqa: E402
from planner.api import options_from  # noqa: E402
from planner.input.validate import load  # noqa: E402
from planner.whatif.batch import run_batch  # noqa: E402
from planner.whatif.scenarios import Change, Scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def capacity_whatifs(inputs, n: int, seed: int = 7) -> list[Scenario]:  # noqa: ANN001
    rng = np.random.default_rng(seed)
    rows = inputs.supply[inputs.supply["capacity_t"] > 0].reset_index(drop=True)
    out = []
    for i in range(n):
        r = rows.iloc[int(rng.integers(len(rows)))]
        f = round(float(rng.uniform(0.5, 1.5)), 3)
        out.append(Scenario(f"{i:03d} {r['site_id']}/{r['product']} x{f}",
                            (Change("Supply", f"{r['site_id']}/{r['product']}", "capacity_t", "multiply", f),)))
    return out


def cold_cli(path: Path, runs: int) -> float:
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "planner", "solve", str(path), "-q", "-o", f"{tmp}/p.xlsx"],
                           check=True)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def timed_batch(inputs, scenarios, jobs: int, warm: bool) -> tuple[float, list]:  # noqa: ANN001
    t0 = time.perf_counter()
    out = run_batch(inputs, scenarios, options_from(inputs), jobs=jobs, warm=warm)
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cold-subset", type=int, default=10)
    ap.add_argument("--cold-runs", type=int, default=3)
    ap.add_argument("--scale", type=int, default=24, help="synthetic case scale (24: about 110k variables)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        syn = Path(tmp) / "synthetic"
        write(generate(args.scale), syn)
        cases = [("reference case", ROOT / "inputs" / "rare_earth_magnets.xlsx"),
                 (f"synthetic scale {args.scale}", syn)]
        print("| case | variables | cold `planner solve` s | mode | scenarios | batch wall s | per scenario s | "
              "per scenario / cold |")
        print("|---|---:|---:|---|---:|---:|---:|---:|")
        for name, path in cases:
            inputs = load(path)
            from planner.optimise.model import build_model  # noqa: PLC0415

            n_vars = build_model(inputs).n_cols
            cold = cold_cli(path, args.cold_runs)
            scenarios = capacity_whatifs(inputs, args.scenarios)
            subset = scenarios[: args.cold_subset]
            wall_c, out_c = timed_batch(inputs, subset, 1, warm=False)
            rows = [("serial, cold (every scenario from scratch)", len(subset), wall_c)]
            for jobs in (1, args.jobs):
                wall, out = timed_batch(inputs, scenarios, jobs, warm=True)
                rows.append((f"{'serial' if jobs == 1 else f'{jobs} processes'}, warm", len(scenarios), wall))
                for a, b in zip(out_c, out, strict=False):  # same scenarios, same costs
                    ca = a.plan.summary["total_cost_usd"] if a.plan else None
                    cb = b.plan.summary["total_cost_usd"] if b.plan else None
                    assert ca == cb or abs(ca - cb) <= 1e-6 * abs(ca), (a.scenario, ca, cb)
            for mode, n, wall in rows:
                per = wall / (n + 1)  # the baseline is planned too
                print(f"| {name} | {n_vars:,} | {cold:.2f} | {mode} | {n} | {wall:.1f} | {per:.3f} | "
                      f"{per / cold:.3f} |", flush=True)


if __name__ == "__main__":
    main()
