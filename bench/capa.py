"""OR-Library capa (100 candidate suppliers x 1,000 plants, a MIP) end to end, against its published optimum.

Converts ``tests/data/orlib/capa.txt`` to contract input and runs ``planner
solve --json`` on it in a fresh process, timing the whole command (start-up,
read, build, solve, report, write). The solver's time limit is set below the
120 s target so that what surrounds the solve fits too. For comparison it also
runs HiGHS alone on the planner's own model (``--write-mps``) with the whole
120 s, which is what the planner did before its LP-guided MIP path.

    python bench/capa.py [--time-limit 100] [--repeat 3] [--raw] [--load N]

``--load N`` runs N more capa solves at the same time as each measured one (a
loaded machine: on 2 cores, one more solve halves the CPU each gets). Prints
a Markdown table for bench/RESULTS.md, and each run's LP-guided phases (from
the workbook's Run info).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from planner.input.orlib import PUBLISHED_OPTIMA, read_cap, write_csv_folder  # noqa: E402

OPTIMUM = PUBLISHED_OPTIMA["capa"]

RAW = r'''
import json, sys, time
sys.path.insert(0, {root!r})
from planner.input.data import SolveOptions
from planner.optimise.solve import _new_highs
h = _new_highs(SolveOptions(time_limit_s={limit}))
h.readModel({mps!r})
t = time.perf_counter(); h.run(); s = time.perf_counter() - t
info = h.getInfo()
print(json.dumps({{"solve_s": s, "objective": info.objective_function_value, "bound": info.mip_dual_bound,
                  "status": h.modelStatusToString(h.getModelStatus())}}))
'''


def _command(case: Path, out: Path, limit: float) -> list[str]:
    return [sys.executable, "-m", "planner", "solve", str(case), "-o", str(out), "--json", "--time-limit", str(limit)]


def planner_run(case: Path, out: Path, limit: float, mps: Path | None = None, load: int = 0) -> dict:
    cmd = _command(case, out, limit)
    if mps is not None:
        cmd += ["--write-mps", str(mps)]
    others = [subprocess.Popen(_command(case, out.with_name(f"load{i}.xlsx"), limit), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, cwd=ROOT) for i in range(load)]
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    wall = time.perf_counter() - t
    for proc in others:
        proc.wait()
    payload = json.loads(res.stdout)
    payload["wall_s"] = wall
    payload["exit"] = res.returncode
    payload["phases"] = _phases(out)
    return payload


def _phases(workbook: Path) -> list[str]:
    """The LP-guided phases the run reported in its Run info sheet."""
    import openpyxl  # noqa: PLC0415

    wb = openpyxl.load_workbook(workbook, read_only=True)
    try:
        for key, value, *_ in wb["Run info"].iter_rows(values_only=True):
            if key == "solve_phases" and value:
                return str(value).split(" | ")
    finally:
        wb.close()
    return []


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-limit", type=float, default=100.0, help="planner's solver time limit, s")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--raw", action="store_true", help="also time HiGHS alone on the model for 120 s")
    ap.add_argument("--load", type=int, default=0, help="capa solves run alongside each measured one")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        case = Path(tmp) / "capa"
        write_csv_folder(read_cap(ROOT / "tests" / "data" / "orlib" / "capa.txt"), case)
        runs = [planner_run(case, Path(tmp) / "plan.xlsx", args.time_limit, load=args.load)
                for _ in range(args.repeat)]
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print("| run | time limit s | end to end s | status | cost | above optimum | reported gap | peak RSS MB |")
        print("|---|---:|---:|---|---:|---:|---:|---:|")
        for i, r in enumerate(runs, 1):
            cost = r["total_cost_usd"]
            above = (cost - OPTIMUM) / OPTIMUM
            above = 0.0 if abs(above) < 5e-7 else above  # the report rounds costs to cents
            print(f"| planner {i} | {args.time_limit:g} | {r['wall_s']:.1f} | {r['status']} | {cost:,.3f} | "
                  f"{100 * above:.4f} % | {100 * (r.get('gap') or 0):.2f} % | {peak:.0f} |")
        walls = [r["wall_s"] for r in runs]
        print(f"\nmedian end to end {statistics.median(walls):.1f} s; published optimum {OPTIMUM:,.3f}; "
              f"{args.load} more capa solve(s) alongside each run")
        for i, r in enumerate(runs, 1):
            for phase in r["phases"]:
                print(f"- planner {i}: {phase}")
        if args.raw:
            mps = Path(tmp) / "capa.mps"
            planner_run(case, Path(tmp) / "plan2.xlsx", 1.0, mps)
            code = RAW.format(root=str(ROOT), limit=120.0, mps=str(mps))
            raw = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                            check=True).stdout.strip().splitlines()[-1])
            print(f"\nHiGHS alone, 120 s: {raw['status']}, cost {raw['objective']:,.3f} "
                  f"({100 * (raw['objective'] - OPTIMUM) / OPTIMUM:.2f} % above the optimum), "
                  f"bound {raw['bound']:,.3f}, solve {raw['solve_s']:.1f} s")


if __name__ == "__main__":
    main()
