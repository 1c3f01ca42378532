"""Which solver should `solver = auto` pick? Times HiGHS and CBC on the planner's own models.

For each case: model size, then the median of ``--repeat`` solves per solver
(model build excluded, the same built model for both), and the relative
difference of their objectives. Run from the repository root:

    python bench/solver_choice.py [--repeat 3] [--scales 5 15 30]

Prints a Markdown table (paste into bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.generate import generate, write  # noqa: E402
from planner.input.data import SolveOptions  # noqa: E402
from planner.input.orlib import read_cap  # noqa: E402
from planner.input.validate import load, tables_to_inputs  # noqa: E402
from planner.optimise.model import build_model  # noqa: E402
from planner.optimise.solve import solve  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def cases(scales: list[int]):  # noqa: ANN201
    yield "reference case", load(ROOT / "inputs" / "rare_earth_magnets.xlsx")
    for name in ("cap124", "cap82"):
        yield f"OR-Library {name} (MIP)", tables_to_inputs(read_cap(ROOT / "tests" / "data" / "orlib" / f"{name}.txt"))
    for sc in scales:
        with tempfile.TemporaryDirectory() as tmp:
            write(generate(sc), Path(tmp))
            yield f"synthetic scale {sc} (LP)", load(tmp)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scales", type=int, nargs="*", default=[5, 15, 30])
    args = ap.parse_args()
    print("| case | variables | rows | integer | HiGHS s | CBC s | CBC / HiGHS | objective rel. diff |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, inputs in cases(args.scales):
        model = build_model(inputs)
        times: dict[str, list[float]] = {"highs": [], "cbc": []}
        obj: dict[str, float] = {}
        for _ in range(args.repeat):
            for solver in ("highs", "cbc"):
                t0 = time.perf_counter()
                res = solve(model, SolveOptions(solver=solver, time_limit_s=600, mip_gap=1e-9))
                times[solver].append(time.perf_counter() - t0)
                obj[solver] = float(res.objective or 0.0)
        h, c = statistics.median(times["highs"]), statistics.median(times["cbc"])
        diff = abs(obj["highs"] - obj["cbc"]) / max(abs(obj["highs"]), 1.0)
        print(f"| {name} | {model.n_cols:,} | {model.n_rows:,} | {int(model.integer.sum())} | {h:.3f} | {c:.3f} | "
              f"{c / h:.2f} | {diff:.1e} |", flush=True)


if __name__ == "__main__":
    main()
