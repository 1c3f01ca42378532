"""Planning over periods (issue 12, "Speed"): how the run grows with the number of periods.

Two parts, each case in a fresh process (cold: start-up and imports included):

1. **Reference case** (``--part reference``). The bundled one-year case against the five-year case
   (``inputs/rare_earth_magnets_2026_2030.xlsx``), and the one-year case written as N identical
   periods (a Periods sheet of N rows, contract_version 2; N = 1, 2, 5, 10 by default). Each case is
   run as ``python -m planner solve CASE -o OUT -q`` ``--repeat`` times, the cases in turn (round by
   round, so that a drift in the machine's speed touches every case alike), timed from outside as a
   whole process (wall; peak RSS from ``wait4``); the ratio to the one-year case is taken round by
   round. Then each case once more under a probe (the same command line, run in-process with the
   planner's phase functions wrapped by timers) for the phases and the model size: read + validate,
   networks, size guard, model blocks, stitching, solve, report, workbook.
2. **Synthetic case** (``--part synthetic``). ``bench/generate.py`` at the scale whose one-year model
   is closest to ``--target`` columns (counted by building it, as ``bench/model_size.py`` does),
   written as a v2 input of ``--periods-synthetic`` periods (every table's rows blank-period, i.e.
   in every period, and a Demand row per plant, product and later period growing by ``--growth`` a
   period, so that the periods differ). Planned end to end by ``planner solve DIR -o OUT
   --write-mps M.mps`` under the probe (the MPS export timed and left out of the total, as in
   bench/scale.py), then the same MPS solved by HiGHS alone in a fresh process with the planner's
   options (interior point above ``IPM_ABOVE`` columns), timed around the solve. Ratio = planner
   total (start to workbook written, imports included, MPS export excluded) / HiGHS solve.

The machine's 1-minute load average is sampled every 5 s while measuring and printed.

    python bench/horizon_bench.py [--part reference synthetic] [--repeat 3] [--periods 1 2 5 10]
                                  [--target 100000] [--scale S] [--repeat-synthetic 1]
    python bench/horizon_bench.py --profile CASE.xlsx   # cProfile of load + api.plan + workbook, in-process

Temporary inputs and outputs go to a temporary directory (``--tmp`` to choose it). Prints Markdown
tables for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "inputs" / "rare_earth_magnets.xlsx"
REF5 = ROOT / "inputs" / "rare_earth_magnets_2026_2030.xlsx"

# The probe: runs the planner's command line in this process with its phase functions wrapped by timers, and
# writes the phases, the model size and the process's peak RSS to argv[1] at exit. Functions are wrapped where
# the command line and planner.api look them up (module attributes, imported at call time or at module level).
PROBE = r'''
import time
T0 = time.perf_counter()
import atexit, json, resource, sys
out_path, args = sys.argv[1], sys.argv[2:]
import planner.api as api
import planner.cli as cli
import planner.input.validate as validate
import planner.optimise.horizon as horizon
import planner.optimise.solve as solve_mod
import planner.output.sheets as sheets
import planner.output.write as write
import planner.results.horizon as rhorizon
import highspy
ph = {"imports_s": time.perf_counter() - T0}
marks = {}
info = {"highs_runs": []}

_run = highspy.Highs.run
def highs_run(self, *a, **k):  # HiGHS's own solve inside the planner, with its iteration counts
    t = time.perf_counter()
    r = _run(self, *a, **k)
    i = self.getInfo()
    info["highs_runs"].append({"s": time.perf_counter() - t, "ipm_iterations": i.ipm_iteration_count,
                               "crossover_iterations": i.crossover_iteration_count,
                               "simplex_iterations": i.simplex_iteration_count})
    return r
highspy.Highs.run = highs_run

def wrap(mod, name, key, grab=None):
    f = getattr(mod, name)
    def timed(*a, **k):
        t = time.perf_counter()
        marks.setdefault(key + ":first", t)
        try:
            r = f(*a, **k)
            if grab is not None:
                grab(r)
            return r
        finally:
            ph[key] = ph.get(key, 0.0) + time.perf_counter() - t
            marks[key + ":last"] = time.perf_counter()
    setattr(mod, name, timed)

def grab_plan(p):
    ri = p.run_info
    info.update(variables=ri["variables"], rows=ri["constraints"], nonzeros=ri["nonzeros"],
                integer=ri["integer_variables"], solve_phases=ri["solve_phases"], status=p.status)

def grab_solve(r):
    info.update(objective=r.objective)

wrap(validate, "load", "read_validate_s")
wrap(api, "build_network", "network_s")
wrap(api, "check_size", "size_s")
wrap(api, "build_model", "model_s")            # one-year plan
wrap(horizon, "build_model", "model_s")        # each period's block
wrap(horizon, "build_horizon", "horizon_s")    # the blocks and the links
wrap(solve_mod, "write_mps", "mps_s")
wrap(api, "solve", "solve_s", grab_solve)
wrap(api, "plan", "plan_s", grab_plan)
wrap(sheets, "recommendation_tables", "tables_s")
wrap(write, "write_workbook", "write_s")

@atexit.register
def report():
    end = time.perf_counter()
    ph["total_s"] = end - T0 - ph.get("mps_s", 0.0)
    first, last = marks.get("read_validate_s:first"), marks.get("write_s:last")
    if first is not None and last is not None:
        ph["read_to_written_s"] = last - first - ph.get("mps_s", 0.0)
    ph["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(out_path, "w") as fh:
        json.dump({**ph, **info}, fh)

sys.argv = ["planner", *args]
cli.main()
'''

RAW = r'''
import json, resource, sys, time
import highspy
from planner.input.data import SolveOptions
from planner.optimise.solve import IPM_ABOVE, _new_highs
h = _new_highs(SolveOptions(time_limit_s=3600))
t = time.perf_counter(); h.readModel(sys.argv[1]); read_s = time.perf_counter() - t
if h.getNumCol() > IPM_ABOVE and h.getLp().integrality_ == []:
    h.setOptionValue("solver", "ipm")
t = time.perf_counter(); h.run(); s = time.perf_counter() - t
i = h.getInfo()
print(json.dumps({"raw_solve_s": s, "raw_read_s": read_s, "objective": i.objective_function_value,
                  "ipm_iterations": i.ipm_iteration_count, "crossover_iterations": i.crossover_iteration_count,
                  "simplex_iterations": i.simplex_iteration_count,
                  "status": h.modelStatusToString(h.getModelStatus()),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


class Load:
    """The 1-minute load average, sampled every few seconds in a thread while measuring."""

    def __init__(self, every: float = 5.0) -> None:
        self.samples: list[float] = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._t.start()

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> str:
        self._stop.set()
        self._t.join()
        s = self.samples
        return f"load average (1 min) {min(s):.2f}-{max(s):.2f}, median {statistics.median(s):.2f} ({len(s)} samples)"


def cold_measured(cmd: list[str], timeout: float = 900.0) -> dict:
    """As ``cold``, with the child's own CPU seconds and peak RSS from ``os.wait4`` (output to files)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, cwd=ROOT)
        deadline = t + timeout
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise TimeoutError(" ".join(cmd))
            time.sleep(0.005)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        o, e = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {e[-2000:]}")
    return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "peak_mb": ru.ru_maxrss / 1024,
            "stdout": o, "stderr": e}


def probe(args: list[str], tmp: Path, tag: str, timeout: float = 900.0) -> dict:
    """The command line ``planner ARGS`` in a fresh process under the probe: its phases and model size, and the
    whole process's wall time and peak RSS from outside."""
    path = tmp / f"probe_{tag}.json"
    run = cold_measured([sys.executable, "-c", PROBE, str(path), *args], timeout)
    return {**json.loads(path.read_text()), "wall_s": run["wall_s"], "cpu_s": run["cpu_s"], "peak_mb": run["peak_mb"]}


def mmm(values: list[float], fmt: str = "{:.2f}") -> str:
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


# --------------------------------------------------------------------------- inputs


def periods_copy(src: Path, n: int, dest: Path, first: int = 2026) -> Path:
    """The one-year workbook ``src`` written as ``n`` identical periods: a Periods sheet of n years and
    contract_version 2; every periodic row stays blank-period, i.e. holds in every period."""
    import openpyxl  # noqa: PLC0415

    wb = openpyxl.load_workbook(src)
    wb["Settings"].append(["contract_version", 2])
    ws = wb.create_sheet("Periods")
    ws.append(["period", "days"])
    for k in range(n):
        ws.append([str(first + k), None])
    wb.save(dest)
    return dest


def columns_at(scale: int) -> tuple[int, int, int]:
    from bench.generate import generate  # noqa: PLC0415
    from planner.input.validate import tables_to_inputs  # noqa: PLC0415
    from planner.optimise.model import build_model  # noqa: PLC0415

    m = build_model(tables_to_inputs(generate(scale)))
    return m.n_cols, m.n_rows, len(m.a_val)


def scale_for(target: int) -> tuple[int, tuple[int, int, int]]:
    """The generator scale whose one-year model has the column count closest to ``target`` (counted)."""
    lo, hi = 5, 40
    sizes: dict[int, tuple[int, int, int]] = {}
    while (sizes.setdefault(hi, columns_at(hi)))[0] < target:
        lo, hi = hi, 2 * hi
    while hi - lo > 1:  # columns grow with the scale: bisect for the first scale at or above the target
        mid = (lo + hi) // 2
        sizes[mid] = columns_at(mid)
        lo, hi = (mid, hi) if sizes[mid][0] < target else (lo, mid)
    for s in (lo, hi):
        sizes.setdefault(s, columns_at(s))
    best = min((lo, hi), key=lambda s: abs(sizes[s][0] - target))
    return best, sizes[best]


def synthetic_v2(scale: int, n: int, growth: float, folder: Path, first: int = 2026) -> Path:
    """``generate(scale)`` as a v2 folder of CSV files over ``n`` periods: a Periods sheet; every row blank-period
    (in every period) except Demand, written per period with quantities growing by ``growth`` a period."""
    import pandas as pd  # noqa: PLC0415

    from bench.generate import generate, write  # noqa: PLC0415

    tables = generate(scale)
    periods = [str(first + k) for k in range(n)]
    demand = tables["Demand"]
    tables["Demand"] = pd.concat(
        [demand.assign(period=t, quantity_t=(demand["quantity_t"] * (1 + growth) ** k).round(1))
         for k, t in enumerate(periods)], ignore_index=True)
    tables["Periods"] = pd.DataFrame({"period": periods, "days": [None] * n})
    settings = tables["Settings"]
    settings = settings[settings["key"] != "time_limit_s"]
    tables["Settings"] = pd.concat(
        [settings, pd.DataFrame([("contract_version", 2), ("time_limit_s", 3000)], columns=["key", "value"])],
        ignore_index=True)
    write(tables, folder)
    return folder


# --------------------------------------------------------------------------- part 1


def part_reference(tmp: Path, ns: list[int], repeat: int) -> None:
    cases = [("one-year case (v1)", REF, 1), ("five-year case 2026-2030", REF5, 5)]
    cases += [(f"one-year case as {n} identical period{'s' if n > 1 else ''}",
               periods_copy(REF, n, tmp / f"ref_x{n}.xlsx"), n) for n in ns]
    out = tmp / "ref_plan.xlsx"
    load = Load()
    walls: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    peaks: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    for _ in range(repeat):
        for name, path, _ in cases:
            r = cold_measured([sys.executable, "-m", "planner", "solve", str(path), "-o", str(out), "-q"])
            walls[name].append(r["wall_s"])
            peaks[name].append(r["peak_mb"])
    probes = {name: probe(["solve", str(path), "-o", str(out), "-q"], tmp, f"ref{k}")
              for k, (name, path, _) in enumerate(cases)}
    loadtxt = load.stop()
    base = cases[0][0]

    print(f"\n### Reference case, whole process (`planner solve CASE -o OUT -q`, {repeat} rounds, {loadtxt})\n")
    print("| case | periods | columns | rows | nonzeros | wall s (min / med / max) | / one-year, round by round "
          "(min / med / max) | peak RSS MB (med) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, _, nper in cases:
        p = probes[name]
        ratios = [a / b for a, b in zip(walls[name], walls[base], strict=True)]
        print(f"| {name} | {nper} | {p['variables']:,} | {p['rows']:,} | {p['nonzeros']:,} | {mmm(walls[name])} | "
              f"{mmm(ratios)} | {statistics.median(peaks[name]):.0f} |")
    print("\n### Reference case, phases (one probed run each, seconds)\n")
    print("| case | imports | read+validate | networks | size guard | model blocks | stitch | solve | report | "
          "workbook (tables + write) | read -> written | process wall | build / period ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, _, nper in cases:
        p = probes[name]
        stitch = p.get("horizon_s", 0.0) - p.get("model_s", 0.0) if "horizon_s" in p else 0.0
        build = p.get("network_s", 0.0) + p.get("size_s", 0.0) + p.get("model_s", 0.0) + stitch
        report = p["plan_s"] - build - p["solve_s"] - p.get("mps_s", 0.0)
        print(f"| {name} | {p['imports_s']:.2f} | {p['read_validate_s']:.2f} | {p.get('network_s', 0):.3f} | "
              f"{p.get('size_s', 0):.3f} | {p.get('model_s', 0):.3f} | {stitch:.3f} | {p['solve_s']:.2f} | "
              f"{report:.2f} | {p.get('tables_s', 0) + p.get('write_s', 0):.2f} | {p['read_to_written_s']:.2f} | "
              f"{p['wall_s']:.2f} | {1000 * build / nper:.0f} |")
    print("\n(probe JSON: " + json.dumps({k: {kk: vv for kk, vv in v.items() if kk != 'solve_phases'}
                                          for k, v in probes.items()}) + ")")


# --------------------------------------------------------------------------- part 2


def part_synthetic(tmp: Path, target: int, scale: int | None, n: int, growth: float, repeat: int) -> None:
    sys.path.insert(0, str(ROOT))
    if scale is None:
        scale, one = scale_for(target)
    else:
        one = columns_at(scale)
    case = synthetic_v2(scale, n, growth, tmp / f"synthetic_s{scale}_p{n}")
    mps, out = tmp / "synthetic.mps", tmp / "synthetic_plan.xlsx"
    print(f"\nsynthetic: scale {scale}, one-year model {one[0]:,} columns, {one[1]:,} rows, {one[2]:,} nonzeros; "
          f"{n} periods, demand +{100 * growth:g} % a period; case {case}", flush=True)
    load = Load()
    runs, raws = [], []
    for k in range(repeat):
        runs.append(probe(["solve", str(case), "-o", str(out), "--write-mps", str(mps), "-q"], tmp, f"syn{k}"))
        print("planner:", json.dumps(runs[-1]), flush=True)
        r = cold_measured([sys.executable, "-c", RAW, str(mps)])
        raws.append({**json.loads(r["stdout"].strip().splitlines()[-1]), "wall_s": r["wall_s"],
                     "cpu_s": r["cpu_s"], "process_peak_mb": r["peak_mb"]})
        print("HiGHS alone:", json.dumps(raws[-1]), flush=True)
    loadtxt = load.stop()
    p0 = runs[0]
    assert abs(p0["objective"] - raws[0]["objective"]) <= 1e-6 * abs(raws[0]["objective"]), (p0, raws[0])

    def col(key: str) -> list[float]:
        return [r.get(key, 0.0) for r in runs]

    stitch = [r["horizon_s"] - r["model_s"] for r in runs]
    report = [r["plan_s"] - r["network_s"] - r["size_s"] - r["horizon_s"] - r["mps_s"] - r["solve_s"] for r in runs]
    workbook = [r["tables_s"] + r["write_s"] for r in runs]
    raw = [r["raw_solve_s"] for r in raws]
    ratio = [r["total_s"] / x["raw_solve_s"] for r, x in zip(runs, raws, strict=True)]
    inner = [sum(h["s"] for h in r["highs_runs"]) for r in runs]  # HiGHS's run() inside the planner
    own = [r["total_s"] / i for r, i in zip(runs, inner, strict=True)]
    cpu = [r["cpu_s"] / x["cpu_s"] for r, x in zip(runs, raws, strict=True)]
    print(f"\n### Synthetic case, {n} periods (scale {scale}, {repeat} run(s); min / med / max; {loadtxt})\n")
    print("| columns | rows | nonzeros | columns per period | imports s | read+validate s | networks s | size guard s "
          "| "
          "model blocks s | stitch s | solve s | report s | workbook s | total s | HiGHS alone s | total / HiGHS | "
          "peak RSS MB (planner) | peak RSS MB (HiGHS alone) | MPS export s (excluded) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {p0['variables']:,} | {p0['rows']:,} | {p0['nonzeros']:,} | {p0['variables'] / n:,.0f} | "
          f"{mmm(col('imports_s'))} | {mmm(col('read_validate_s'))} | {mmm(col('network_s'))} | {mmm(col('size_s'))} | "
          f"{mmm(col('model_s'))} | {mmm(stitch)} | {mmm(col('solve_s'))} | {mmm(report)} | {mmm(workbook)} | "
          f"{mmm(col('total_s'))} | {mmm(raw)} | {mmm(ratio, '{:.3f}')} | {mmm(col('peak_mb'), '{:.0f}')} | "
          f"{mmm([x['process_peak_mb'] for x in raws], '{:.0f}')} | {mmm(col('mps_s'))} |")
    print("\nCross-checks, robust to the machine's load: HiGHS's own run() inside the planner (same model, same "
          "options) and the planner's total over it; the two processes' CPU seconds (user + system).\n")
    print("| HiGHS run() in the planner s | total / that | HiGHS alone s | planner process CPU s | HiGHS alone process "
          "CPU s | CPU ratio | IPM iterations, planner / alone | crossover iterations, planner / alone |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    its = [(r["highs_runs"][-1]["ipm_iterations"], x["ipm_iterations"], r["highs_runs"][-1]["crossover_iterations"],
            x["crossover_iterations"]) for r, x in zip(runs, raws, strict=True)]
    print(f"| {mmm(inner)} | {mmm(own, '{:.3f}')} | {mmm(raw)} | {mmm(col('cpu_s'), '{:.1f}')} | "
          f"{mmm([x['cpu_s'] for x in raws], '{:.1f}')} | {mmm(cpu, '{:.3f}')} | "
          f"{', '.join(f'{a} / {b}' for a, b, _, _ in its)} | {', '.join(f'{c} / {d}' for _, _, c, d in its)} |")
    print(f"\nstatus {p0['status']}; objective {p0['objective']:,.2f} (HiGHS alone {raws[0]['objective']:,.2f}, "
          f"{raws[0]['status']}); HiGHS runs in the planner: {len(p0['highs_runs'])}")


# --------------------------------------------------------------------------- profile


def profile(path: Path, tmp: Path, top: int) -> None:
    """cProfile of read, plan (api.plan -> plan_horizon for a v2 input) and workbook, in this process."""
    import cProfile  # noqa: PLC0415
    import pstats  # noqa: PLC0415

    from planner.api import options_from, plan  # noqa: PLC0415
    from planner.input.validate import load  # noqa: PLC0415
    from planner.output.sheets import recommendation_tables  # noqa: PLC0415
    from planner.output.write import write_workbook  # noqa: PLC0415

    def go() -> None:
        inputs = load(path)
        result = plan(inputs, options_from(inputs))
        write_workbook(tmp / "profile_plan.xlsx", recommendation_tables(result))

    prof = cProfile.Profile()
    prof.runcall(go)
    stats = pstats.Stats(prof)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", nargs="*", default=["reference", "synthetic"], choices=["reference", "synthetic"])
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the reference cases")
    ap.add_argument("--periods", type=int, nargs="*", default=[1, 2, 5, 10])
    ap.add_argument("--target", type=int, default=100_000, help="columns per period of the synthetic case")
    ap.add_argument("--scale", type=int, default=None, help="generator scale (instead of --target)")
    ap.add_argument("--periods-synthetic", type=int, default=5)
    ap.add_argument("--growth", type=float, default=0.05, help="demand growth per period, synthetic case")
    ap.add_argument("--repeat-synthetic", type=int, default=1)
    ap.add_argument("--tmp", type=Path, default=None)
    ap.add_argument("--profile", type=Path, default=None, help="profile one case in-process and stop")
    ap.add_argument("--top", type=int, default=35)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="horizon-bench-") as scratch:
        tmp = args.tmp or Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        if args.profile is not None:
            profile(args.profile, tmp, args.top)
            return
        print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load {os.getloadavg()}")
        if "reference" in args.part:
            part_reference(tmp, args.periods, args.repeat)
        if "synthetic" in args.part:
            part_synthetic(tmp, args.target, args.scale, args.periods_synthetic, args.growth, args.repeat_synthetic)


if __name__ == "__main__":
    main()
