"""End-to-end time and memory by phase at growing sizes, against the raw solver on the same model.

For each synthetic case (bench/generate.py at a scale giving about the target
number of variables) it runs, each in a fresh process:

* the planner end to end, phase by phase: read + validate, build (network and
  model), solve, report (recompute, explanations), write the workbook; wall
  time and peak memory (RSS) of the process;
* the raw solver on the planner's own model written as MPS (`planner solve
  --write-mps`): HiGHS reading the file and solving it with the same options,
  timed around the solve only;

and prints the ratio of end to end to raw solve. Run from the repository root:

    python bench/scale.py [--targets 10000 100000 1000000] [--repeat 1]

Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# generator scale -> variables, measured: 13 -> 11k, 14 -> 18k, 23 -> 83k, 41 -> 504k, 53 -> 973k, 66 -> 1.8M
SCALE_FOR = {10_000: 14, 100_000: 23, 500_000: 41, 1_000_000: 53}

PHASES = r'''
import json, resource, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
t0 = time.perf_counter()
from planner.input.validate import load
from planner.optimise.network import build_network
from planner.optimise.model import build_model
from planner.optimise.solve import solve, write_mps
from planner.api import options_from
from planner.results.report import build_plan
from planner.results.explain import explain
from planner.output.sheets import recommendation_tables
from planner.output.write import write_workbook
out = {{}}
t = time.perf_counter(); inp = load({case!r}); out["read_validate_s"] = time.perf_counter() - t
t = time.perf_counter(); net = build_network(inp); model = build_model(inp, net)
out["build_s"] = time.perf_counter() - t
t = time.perf_counter(); write_mps(model, {mps!r}); mps_s = time.perf_counter() - t  # not part of a run
opts = options_from(inp)
t = time.perf_counter(); res = solve(model, opts); out["solve_s"] = time.perf_counter() - t
t = time.perf_counter(); plan = build_plan(model, res); plan.explanation = explain(model, res, plan, opts)
out["report_s"] = time.perf_counter() - t
t = time.perf_counter(); write_workbook({xlsx!r}, recommendation_tables(plan)); out["write_s"] = time.perf_counter() - t
out["total_s"] = time.perf_counter() - t0 - mps_s
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["variables"] = model.n_cols
out["rows"] = model.n_rows
out["nonzeros"] = len(model.a_val)
out["status"] = res.status
out["objective"] = res.objective
print(json.dumps(out))
'''

RAW = r'''
import json, sys, time
sys.path.insert(0, {root!r})
import highspy
from planner.input.data import SolveOptions
from planner.optimise.solve import IPM_ABOVE, _new_highs
h = _new_highs(SolveOptions(time_limit_s=3600))
h.readModel({mps!r})
if h.getNumCol() > IPM_ABOVE and h.getLp().integrality_ == []:
    h.setOptionValue("solver", "ipm")
t = time.perf_counter(); h.run(); s = time.perf_counter() - t
print(json.dumps({{"raw_solve_s": s, "objective": h.getInfo().objective_function_value,
                  "status": h.modelStatusToString(h.getModelStatus())}}))
'''


def run(code: str) -> dict:
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, nargs="*", default=[10_000, 100_000])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--scales", type=int, nargs="*", default=None,
                    help="generator scales instead of targets (the table's first column is then the scale)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.generate import generate, write  # noqa: PLC0415

    print("| target | variables | rows | nonzeros | read+validate s | build s | solve s | report s | write s | "
          "total s | raw HiGHS s | total / raw | peak RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for target in args.scales if args.scales is not None else args.targets:
        with tempfile.TemporaryDirectory() as tmp:
            case, mps, xlsx = Path(tmp) / "case", Path(tmp) / "m.mps", Path(tmp) / "plan.xlsx"
            write(generate(target if args.scales is not None else SCALE_FOR.get(target, 23)), case)
            runs, raws = [], []
            for _ in range(args.repeat):
                runs.append(run(PHASES.format(root=str(ROOT), case=str(case), mps=str(mps), xlsx=str(xlsx))))
                raws.append(run(RAW.format(root=str(ROOT), mps=str(mps))))
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if isinstance(runs[0][k], float)}
            raw = statistics.median(r["raw_solve_s"] for r in raws)
            r0 = runs[0]
            assert abs(r0["objective"] - raws[0]["objective"]) <= 1e-6 * abs(r0["objective"]), (r0, raws[0])
            print(f"| {target:,} | {r0['variables']:,} | {r0['rows']:,} | {r0['nonzeros']:,} | "
                  f"{med['read_validate_s']:.2f} | {med['build_s']:.2f} | {med['solve_s']:.2f} | "
                  f"{med['report_s']:.2f} | {med['write_s']:.2f} | {med['total_s']:.2f} | {raw:.2f} | "
                  f"{med['total_s'] / raw:.2f} | {med['peak_rss_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
