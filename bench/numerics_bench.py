"""Does HiGHS's interior point converge on every benchmark case? (issue 16, item 2)

Usage: python bench/numerics_bench.py [--scales 13 23 30] [--once 41] [--repeat 3] [--no-periods]

Each case's model is built once and solved ``--repeat`` times (``--once`` scales: one run) by HiGHS's
interior point with crossover, through planner.optimise.solve's own option plumbing (``_new_highs``, the
``solver = ipm`` the planner sets above IPM_ABOVE columns, ``_run_highs``), also for cases the planner
itself would give to dual simplex, and for MIPs on their LP relaxation (what the LP-guided path solves by
interior point). HiGHS's log (``log_file``) gives the split: interior point time (its last iteration's
clock, to 0.1 s), crossover (IPX's runtime less that), and the clean-up after postsolve (HiGHS's run time
less IPX's: postsolve and any simplex iterations it needed). A run whose interior point stalled on the presolved
model and was run again without presolve (``solve.run_guarded``) is marked; its clocks then count from the
first run's start. Cases: bench/generate.py's representative and legacy
profiles, the five-year case, the five-year case against the bundled 16 regimes. Prints a Markdown table:
size, iterations, times (min / median / max wall, median CPU), the objective.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import generate  # noqa: E402
from bench.regimes_bench import BUNDLED_REGIMES, FIVE_YEAR  # noqa: E402
from planner.input.data import SolveOptions  # noqa: E402
from planner.input.validate import load, load_regimes, tables_to_inputs  # noqa: E402
from planner.optimise.model import build_model  # noqa: E402
from planner.optimise.solve import RETRIED, _highs_lp, _new_highs, _run_highs  # noqa: E402

NUMBER = r"\s+[-+0-9.e]+"
ITERATION = re.compile(r"^\s*(\d+)\*?" + NUMBER * 5 + r"\s+([0-9.]+)s?\s*$")  # IPX: iteration, 5 figures, clock
IPX_RUNTIME = re.compile(r"^\s*Runtime:\s+([0-9.]+)s")


def one_run(model, log: Path, time_limit: float = 3600.0) -> dict:  # noqa: ANN001
    """One interior-point solve; the split of its time from HiGHS's log."""
    lp = dataclasses.replace(model, integer=np.zeros_like(model.integer)) if model.is_mip else model
    h = _new_highs(SolveOptions(time_limit_s=time_limit))
    h.setOptionValue("solver", "ipm")
    h.setOptionValue("output_flag", True)
    h.setOptionValue("log_to_console", False)
    h.setOptionValue("log_file", str(log))
    h.passModel(_highs_lp(lp))
    w0, c0 = time.perf_counter(), time.process_time()
    result = _run_highs(h, lp, w0)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    info = h.getInfo()
    run_time = h.getRunTime()
    h.setOptionValue("log_file", "")
    text = log.read_text().splitlines()
    ipm = [float(m.group(2)) for line in text if (m := ITERATION.match(line))]
    ipx = [float(m.group(1)) for line in text if (m := IPX_RUNTIME.match(line))]
    ipm_s = ipm[-1] if ipm else float("nan")
    ipx_s = ipx[-1] if ipx else float("nan")
    return {"status": result.status, "objective": result.objective, "wall": wall, "cpu": cpu,
            "ipm_iter": info.ipm_iteration_count, "crossover_iter": info.crossover_iteration_count,
            "simplex_iter": info.simplex_iteration_count, "ipm_s": ipm_s, "crossover_s": max(ipx_s - ipm_s, 0.0),
            "cleanup_s": run_time - ipx_s, "no_progress": any("no progress" in line.lower() for line in text),
            "retried": RETRIED in result.message}


def cases(scales: list[int], once: list[int], periods: bool,
          profiles: tuple[str, ...] = ("representative", "legacy")) -> list[tuple[str, object, bool]]:
    out = []
    for s in [*scales, *once]:
        for profile in profiles:
            out.append((f"scale {s}, {profile}", lambda s=s, p=profile: build_model(
                tables_to_inputs(generate(s, profile=p))), s in once))
    if periods:
        from planner.optimise.horizon import build_horizon  # noqa: PLC0415
        from planner.optimise.regimes import build_regimes  # noqa: PLC0415

        out.append(("five-year case (5 periods)", lambda: build_horizon(load(FIVE_YEAR)).lp, False))

        def regimes():  # noqa: ANN202
            inputs = load(FIVE_YEAR)
            r, c = load_regimes(BUNDLED_REGIMES)
            return build_regimes(replace(inputs, regimes=r, regime_changes=c)).lp

        out.append(("five-year case x 16 bundled regimes", regimes, False))
    return out


def spread(xs: list[float]) -> str:
    return f"{min(xs):.2f} / {statistics.median(xs):.2f} / {max(xs):.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=int, nargs="*", default=[13, 23, 30])
    ap.add_argument("--once", type=int, nargs="*", default=[])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-periods", action="store_true")
    ap.add_argument("--profiles", nargs="*", default=["representative", "legacy"])
    ap.add_argument("--time-limit", type=float, default=3600.0, help="HiGHS's limit per run, seconds")
    ap.add_argument("--logs", type=Path, default=None, help="keep HiGHS's logs in this folder")
    args = ap.parse_args()
    print("| case | columns | rows | nonzeros | MIP | IPM iterations | crossover iterations | simplex iterations "
          "| IPM s | crossover s | clean-up s | wall s (min / med / max) | CPU s (med) | runs | objective USD |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        logs = args.logs or Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        for name, make, single in cases(args.scales, args.once, not args.no_periods, tuple(args.profiles)):
            model = make()
            stem = re.sub(r"\W+", "_", name)
            runs = [one_run(model, logs / f"{stem}_{k}.txt", args.time_limit)
                    for k in range(1 if single else args.repeat)]
            if not all(r["status"] == "optimal" for r in runs):  # a result too: say so, do not stop the run
                print(f"| {name} | {model.n_cols:,} | {model.n_rows:,} | {len(model.a_val):,} | "
                      f"not solved: {', '.join(r['status'] for r in runs)} after "
                      f"{spread([r['wall'] for r in runs])} s wall, {statistics.median(r['cpu'] for r in runs):.2f} s "
                      f"CPU; IPM iterations {runs[0]['ipm_iter']}, no progress logged: {runs[0]['no_progress']} |",
                      flush=True)
                continue
            med = {k: statistics.median(r[k] for r in runs) for k in ("ipm_iter", "crossover_iter", "simplex_iter",
                                                                      "ipm_s", "crossover_s", "cleanup_s", "cpu")}
            retried = sum(r["retried"] for r in runs)
            stall = (f" (stalled, run again without presolve: {retried} of {len(runs)}; IPM s from the start)"
                     if retried else " (no progress logged)" if any(r["no_progress"] for r in runs) else "")
            print(f"| {name}{stall} | {model.n_cols:,} | {model.n_rows:,} | {len(model.a_val):,} | "
                  f"{'relaxation' if model.is_mip else 'no'} | {med['ipm_iter']:.0f} | {med['crossover_iter']:.0f} | "
                  f"{med['simplex_iter']:.0f} | {med['ipm_s']:.2f} | {med['crossover_s']:.2f} | "
                  f"{med['cleanup_s']:.2f} | {spread([r['wall'] for r in runs])} | {med['cpu']:.2f} | {len(runs)} | "
                  f"{runs[0]['objective']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
