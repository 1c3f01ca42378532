"""The planner end to end against the fastest raw solver on the same (reduced) model (issue 16, items 3-4).

For each generated case (bench/generate.py, representative profile by default) the planner's own model is
written as MPS once; then, each in a fresh process and interleaved round by round:

* every raw LP algorithm at hand on that file, timed around the solve alone (the file read excluded):
  HiGHS's interior point with crossover (what ``solver = auto`` picks above ``IPM_ABOVE`` columns), its
  dual simplex and its primal simplex, through highspy with the planner's options (1 thread); CLP's
  primal simplex, dual simplex and barrier through the CBC binary PuLP ships (``cbc FILE -primalS``), timed
  by CLP's own solve clock (its "Optimal objective ... time" line: CPU seconds, presolve included, reading
  excluded; it stands in the wall column too, so on a loaded machine compare CPU);
* ``planner solve CASE -o OUT -q``: the whole command, start-up and imports, read and validate, build,
  solve, the explanations and the workbook.

Every algorithm gets ``--limit`` times the planner's first end-to-end time (a run stopped there is shown as
"> limit", not as a time); objectives are compared with the planner's. Prints a Markdown table with the
model's size, min / median / max wall and median CPU of each, and the planner's end to end over the
fastest raw algorithm (the fastest by median CPU; ratios by median wall and by median CPU). Run from the
repository root:

    python bench/raw_solvers.py [--scales 13 23 30] [--repeat 3] [--profile representative] [--limit 4]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HIGHS = r'''
import json, sys, time
sys.path.insert(0, {root!r})
from planner.input.data import SolveOptions
from planner.optimise.solve import _new_highs
h = _new_highs(SolveOptions(time_limit_s={limit!r}))
h.readModel({mps!r})
h.setOptionValue("solver", {algorithm!r})
if {algorithm!r} != "ipm":
    h.setOptionValue("simplex_strategy", {strategy!r})
w, c = time.perf_counter(), time.process_time()
h.run()
w, c = time.perf_counter() - w, time.process_time() - c
status = h.modelStatusToString(h.getModelStatus())
print(json.dumps({{"wall": w, "cpu": c, "status": status, "objective": h.getInfo().objective_function_value}}))
'''

HIGHS_ALGORITHMS = {  # name -> (HiGHS "solver", simplex_strategy: 1 dual, 4 primal)
    "HiGHS interior point + crossover": ("ipm", 0),
    "HiGHS dual simplex": ("simplex", 1),
    "HiGHS primal simplex": ("simplex", 4),
}
CLP_ALGORITHMS = {"CLP primal simplex": "-primalS", "CLP dual simplex": "-dualS", "CLP barrier": "-barrier"}
# CLP's last line on an LP: "Optimal objective 4916191404 - 980 iterations time 0.252, Presolve 0.01"; its
# time is the solve's (presolve included, the file's reading not)
CLP_DONE = re.compile(r"^(\w[\w ]*?) objective (\S+) - (\d+) iterations time ([0-9.]+)", re.M)


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_highs(mps: Path, name: str, limit: float) -> dict:
    algorithm, strategy = HIGHS_ALGORITHMS[name]
    code = HIGHS.format(root=str(ROOT), mps=str(mps), algorithm=algorithm, strategy=strategy, limit=limit)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["solved"] = r["status"] == "Optimal"
    return r


def run_clp(mps: Path, name: str, limit: float) -> dict:
    from planner.optimise.solve import cbc_path  # noqa: PLC0415

    cmd = [cbc_path(), str(mps), "-threads", "1", CLP_ALGORITHMS[name]]
    c0 = child_cpu()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return {"wall": limit, "cpu": child_cpu() - c0, "status": "stopped", "objective": float("nan"),
                "solved": False}
    done = CLP_DONE.findall(out.stdout)
    if not done:
        raise RuntimeError(f"unexpected CBC output for {name}:\n{out.stdout[-2000:]}")
    status, objective, _, seconds = done[-1]
    # one thread, no waiting: CLP's own solve clock stands for both wall and CPU
    return {"wall": float(seconds), "cpu": float(seconds), "status": status, "objective": float(objective),
            "solved": status.lower() == "optimal"}


def run_planner(case: Path, out: Path) -> dict:
    c0, w0 = child_cpu(), time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "planner", "solve", str(case), "-o", str(out / "plan.xlsx"), "-q",
                          "--json"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    wall, cpu = time.perf_counter() - w0, child_cpu() - c0
    data = json.loads(res.stdout)
    return {"wall": wall, "cpu": cpu, "status": data.get("status"), "objective": data.get("total_cost_usd"),
            "solved": True}


def fmt(values: list[float], solved: list[bool]) -> str:
    if not all(solved):
        return "> limit"
    return " / ".join(f"{v:.2f}" for v in (min(values), statistics.median(values), max(values)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=int, nargs="*", default=[13, 23, 30])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", default="representative")
    ap.add_argument("--limit", type=float, default=4.0, help="each algorithm's limit, times the planner's run")
    ap.add_argument("--only", nargs="*", default=None, help="raw algorithms to run (names as in the table)")
    args = ap.parse_args()
    from bench.generate import generate, write  # noqa: PLC0415
    from planner.input.validate import load  # noqa: PLC0415
    from planner.optimise.model import build_model  # noqa: PLC0415
    from planner.optimise.solve import write_mps  # noqa: PLC0415

    names = [*HIGHS_ALGORITHMS, *CLP_ALGORITHMS]
    if args.only:
        names = [n for n in names if n in args.only]
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    print("| case | columns | rows | nonzeros | run | wall s (min / med / max) | CPU s (med) | objective | "
          "end to end / this, wall | CPU |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for scale in args.scales:
        with tempfile.TemporaryDirectory() as tmp:
            case, mps, out = Path(tmp) / "case", Path(tmp) / "m.mps", Path(tmp)
            write(generate(scale, profile=args.profile), case)
            model = build_model(load(case))
            write_mps(model, mps)
            first = run_planner(case, out)
            limit = args.limit * first["wall"]
            runs: dict[str, list[dict]] = {"planner end to end": [], **{n: [] for n in names}}
            for _ in range(args.repeat):
                runs["planner end to end"].append(run_planner(case, out))
                for n in names:
                    if runs[n] and not runs[n][-1]["solved"]:
                        continue  # stopped at the limit once: once is enough
                    runs[n].append(run_highs(mps, n, limit) if n in HIGHS_ALGORITHMS else run_clp(mps, n, limit))
            end = runs["planner end to end"]
            end_wall = statistics.median(r["wall"] for r in end)
            end_cpu = statistics.median(r["cpu"] for r in end)
            raw = {n: rs for n, rs in runs.items() if n != "planner end to end" and all(r["solved"] for r in rs)}
            # by CPU: CLP reports only its CPU clock, and on a shared machine wall times are the load's
            fastest = min(raw, key=lambda n: statistics.median(r["cpu"] for r in runs[n]))
            label = f"scale {scale}, {args.profile}"
            for n, rs in runs.items():
                wall = [r["wall"] for r in rs]
                cpu = statistics.median(r["cpu"] for r in rs)
                obj = rs[0]["objective"]
                solved = [r["solved"] for r in rs]
                if n != "planner end to end" and all(solved):
                    rel = abs(obj - end[0]["objective"]) / max(1.0, abs(end[0]["objective"]))
                    assert rel < 1e-6, (n, obj, end[0]["objective"])
                ratio_w = f"{end_wall / statistics.median(wall):.2f}" if n in raw else ""
                ratio_c = f"{end_cpu / cpu:.2f}" if n in raw else ""
                mark = " (fastest)" if n == fastest else ""
                print(f"| {label} | {model.n_cols:,} | {model.n_rows:,} | {len(model.a_val):,} | {n}{mark} | "
                      f"{fmt(wall, solved)} | {cpu:.2f} | {obj:,.0f} | {ratio_w} | {ratio_c} |", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
