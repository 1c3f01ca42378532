"""Planning against licence regimes (issue 13, "Scale"): how the run grows with the number of regimes.

Cases, each planned in a fresh process (cold: imports included) as ``planner solve CASE -o OUT -q``, the
cases in turn, ``--repeat`` rounds; wall time from outside, min / median / max over the rounds:

* ``one-year``: the bundled one-year case (``inputs/rare_earth_magnets.xlsx``), the issue's yardstick;
* ``five-year``: the bundled five-year case, deterministic;
* ``R regimes``: the five-year case against R regimes (``--regimes 1 4 16``). With
  ``inputs/regimes_2026_2030.xlsx`` present, its regimes when R equals their number; otherwise (and for
  other R) synthetic regimes: regime 0 as is, regime w bans (or, odd w, cuts to 0.2 approval) China's
  exports of one of six controlled products from one of 2027-2030 on. Each run adds ``--regimes FILE``.

Also, in-process once per case: the model size (columns, rows, nonzeros) and the solver's own time, so
that the ratio to HiGHS on the same model is visible (``solve_s`` against the total).

The issue's target: 16 regimes over five periods end to end in at most 10x the one-period deterministic
run. The plan with regimes also evaluates the deterministic plan in every regime (VSS) and every regime
alone (EVPI): 2 + R solves more; ``--no-detail`` is not offered by the command line, so both are counted.

    python bench/regimes_bench.py [--repeat 3] [--regimes 1 4 16]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
ONE_YEAR = ROOT / "inputs" / "rare_earth_magnets.xlsx"
FIVE_YEAR = ROOT / "inputs" / "rare_earth_magnets_2026_2030.xlsx"
BUNDLED_REGIMES = ROOT / "inputs" / "regimes_2026_2030.xlsx"
PRODUCTS = ["DYTB_METAL", "DYTB_OXIDE", "NDFEB_HT", "SMCO_MAGNET", "SM_METAL", "SM_OXIDE"]
YEARS = ["2027", "2028", "2029", "2030"]


def synthetic(n: int, folder: Path) -> Path:
    """A CSV folder of n synthetic regimes for the five-year case (see the module's docstring)."""
    folder.mkdir(parents=True, exist_ok=True)
    reg = [{"scenario": f"r{w}", "probability": round(1.0 / n, 12) if w else 1.0 - (n - 1) * round(1.0 / n, 12),
            "question": "as is" if w == 0 else f"shock {w}"} for w in range(n)]
    changes = []
    for w in range(1, n):
        product, start = PRODUCTS[w % len(PRODUCTS)], YEARS[w % len(YEARS)]
        for y in YEARS[YEARS.index(start):]:
            changes.append({"scenario": f"r{w}", "sheet": "Controls", "key": f"CN/{product}",
                            "column": "approval_probability", "operation": "set", "value": 0.0 if w % 2 else 0.2,
                            "period": y})
    pd.DataFrame(reg).to_csv(folder / "Regimes.csv", index=False)
    pd.DataFrame(changes, columns=["scenario", "sheet", "key", "column", "operation", "value", "period"]).to_csv(
        folder / "RegimeChanges.csv", index=False)
    return folder


def regime_set(n: int, tmp: Path) -> Path:
    if BUNDLED_REGIMES.exists():
        from planner.input.validate import load_regimes  # noqa: PLC0415

        if len(load_regimes(BUNDLED_REGIMES)[0]) == n:
            return BUNDLED_REGIMES
    return synthetic(n, tmp / f"regimes_{n}")


def size(case: Path, regimes: Path | None) -> dict:
    """Model size and solver time, in-process."""
    from dataclasses import replace  # noqa: PLC0415

    from planner.api import plan  # noqa: PLC0415
    from planner.input.validate import load, load_regimes  # noqa: PLC0415

    inputs = load(case)
    if regimes is not None:
        r, c = load_regimes(regimes)
        inputs = replace(inputs, regimes=r, regime_changes=c)
    p = plan(inputs)
    ri = p.run_info
    return {"columns": ri["variables"], "rows": ri["constraints"], "nonzeros": ri["nonzeros"],
            "build_s": ri["build_s"], "solve_s": ri["solve_s"], "report_s": ri["report_s"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--regimes", type=int, nargs="+", default=[1, 4, 16])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cases: list[tuple[str, Path, Path | None]] = [("one-year", ONE_YEAR, None), ("five-year", FIVE_YEAR, None)]
        cases += [(f"{n} regimes x 5 periods", FIVE_YEAR, regime_set(n, tmp)) for n in args.regimes]
        times: dict[str, list[float]] = {name: [] for name, _, _ in cases}
        for _ in range(args.repeat):
            for name, case, reg in cases:
                cmd = [sys.executable, "-m", "planner", "solve", str(case), "-o", str(tmp / "out.xlsx"), "-q"]
                if reg is not None:
                    cmd += ["--regimes", str(reg)]
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, cwd=tmp, env={**os.environ, "PYTHONHASHSEED": "0"})
                times[name].append(time.perf_counter() - t0)
        base = statistics.median(times["one-year"])
        print(f"load average {os.getloadavg()[0]:.2f}; {args.repeat} rounds; cold processes\n")
        print("| case | columns | rows | nonzeros | solver (s) | wall min / median / max (s) | x one-year |")
        print("|---|---:|---:|---:|---:|---|---:|")
        for name, case, reg in cases:
            s = size(case, reg)
            t = times[name]
            print(f"| {name} | {s['columns']:,} | {s['rows']:,} | {s['nonzeros']:,} | {s['solve_s']:.2f} | "
                  f"{min(t):.2f} / {statistics.median(t):.2f} / {max(t):.2f} | {statistics.median(t) / base:.1f} |")


if __name__ == "__main__":
    main()
