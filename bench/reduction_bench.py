"""The model before and after the latest-departure reduction, side by side in one run (issue 16).

Usage: python bench/reduction_bench.py [--scales 13 23 30] [--repeat 3] [--profile representative legacy]

For each bench/generate.py case: columns, rows and nonzeros of both models, HiGHS solve time
(min / median / max of ``--repeat`` runs, wall and CPU of this process), and both objectives, which
must agree. ``--repeat 0`` builds only: the sizes and the ratio of columns (reduced / before), cheap
enough for the largest scales. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.generate import generate  # noqa: E402
from planner.input.data import SolveOptions  # noqa: E402
from planner.input.validate import tables_to_inputs  # noqa: E402
from planner.optimise.model import build_model  # noqa: E402
from planner.optimise.network import build_network  # noqa: E402
from planner.optimise.solve import solve  # noqa: E402


def timed(model, repeat: int) -> tuple[list[float], list[float], float]:  # noqa: ANN001
    wall, cpu, obj = [], [], float("nan")
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        r = solve(model, SolveOptions(time_limit_s=3600))
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
        assert r.status == "optimal", r.status
        obj = r.objective
    return wall, cpu, obj


def fmt(xs: list[float]) -> str:
    return f"{min(xs):.2f} / {statistics.median(xs):.2f} / {max(xs):.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=int, nargs="*", default=[13, 23, 30])
    ap.add_argument("--repeat", type=int, default=3, help="solves per model; 0: sizes only")
    ap.add_argument("--profile", nargs="*", default=["representative"], choices=["representative", "legacy"])
    args = ap.parse_args()
    if args.repeat == 0:
        print("| case | columns before | reduced | reduced / before | rows before | reduced | "
              "nonzeros before | reduced |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
    else:
        print("| case | model | columns | rows | nonzeros | HiGHS wall s (min / med / max) | CPU s (med) | objective |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
    for s in args.scales:
        for profile in args.profile:
            inputs = tables_to_inputs(generate(s, profile=profile))
            models = [build_model(inputs, build_network(inputs, latest_departures=latest)) for latest in (False, True)]
            if args.repeat == 0:
                b, r = models
                print(f"| scale {s}, {profile} | {b.n_cols:,} | {r.n_cols:,} | {r.n_cols / b.n_cols:.2f} | "
                      f"{b.n_rows:,} | {r.n_rows:,} | {len(b.a_val):,} | {len(r.a_val):,} |", flush=True)
                continue
            objs = []
            for name, m in zip(("before", "reduced"), models, strict=True):
                wall, cpu, obj = timed(m, args.repeat)
                objs.append(obj)
                print(f"| scale {s}, {profile} | {name} | {m.n_cols:,} | {m.n_rows:,} | {len(m.a_val):,} | "
                      f"{fmt(wall)} | {statistics.median(cpu):.2f} | {obj:,.2f} |", flush=True)
            assert abs(objs[0] - objs[1]) <= 1e-6 * abs(objs[0]), objs


if __name__ == "__main__":
    main()
