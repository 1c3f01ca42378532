"""Scenario decomposition against the extensive form (issue 13): the plan against licence regimes solved both ways.

Cases (the five-year case ``inputs/rare_earth_magnets_2026_2030.xlsx``):

* ``16 bundled``: against the bundled 16 regimes (``inputs/regimes_2026_2030.xlsx``);
* ``64 synthetic``: against 64 synthetic regimes (bench/regimes_bench.py's: regime 0 as is, regime w bans or
  cuts China's exports of one of six products from one of 2027-2030 on), a case four times the regimes.

Each case is read and its stitched model built once (not timed here: bench/regimes_bench.py times the build).
Then, ``--repeat`` rounds, in this process: the extensive form (``solve(rm.lp)``, HiGHS, the Settings' gap
1e-4), and the decomposition (``solve_decomposed``, ``--workers`` processes, the same gap target, ``--max-iter``
iterations at most). Wall and CPU time (the decomposition's CPU includes its worker processes'), min / median
/ max over the rounds; the bounds, gap and iterations (the same every round: the method is deterministic);
the ratio of the decomposition's median wall time to the extensive form's.

    python bench/decompose_bench.py [--repeat 3] [--workers 2] [--max-iter 30] [--regimes 16 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.regimes_bench import BUNDLED_REGIMES, FIVE_YEAR, synthetic  # noqa: E402


def regime_model(n: int, tmp: Path):  # noqa: ANN201
    from planner.input.validate import load, load_regimes  # noqa: PLC0415
    from planner.optimise.regimes import build_regimes  # noqa: PLC0415

    source = BUNDLED_REGIMES if n == 16 and BUNDLED_REGIMES.exists() else synthetic(n, tmp / f"regimes_{n}")
    inputs = load(FIVE_YEAR)
    r, c = load_regimes(source)
    inputs = replace(inputs, regimes=r, regime_changes=c)
    return inputs, build_regimes(inputs), "bundled" if source == BUNDLED_REGIMES else "synthetic"


def timed(fn):  # noqa: ANN001, ANN201
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def spread(values: list[float]) -> str:
    return f"{min(values):.1f} / {statistics.median(values):.1f} / {max(values):.1f}"


def _usd(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-iter", type=int, default=30)
    ap.add_argument("--regimes", type=int, nargs="+", default=[16, 64])
    args = ap.parse_args()

    from planner.optimise.decompose import solve_decomposed, split  # noqa: PLC0415
    from planner.optimise.solve import options_from, solve  # noqa: PLC0415

    rows = []
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as d:
        for n in args.regimes:
            inputs, rm, kind = regime_model(n, Path(d))
            options = options_from(inputs)
            lp = rm.lp
            subs = split(rm).subs
            biggest = max(subs, key=lambda s: len(s.cols))
            ext_wall, ext_cpu, dec_wall, dec_cpu = [], [], [], []
            ext = res = None
            for _ in range(args.repeat):
                ext, w, c = timed(partial(solve, lp, options))
                ext_wall.append(w)
                ext_cpu.append(c)
                res, w, _ = timed(partial(solve_decomposed, rm, workers=args.workers, max_iter=args.max_iter,
                                          gap=options.mip_gap, options=options))
                dec_wall.append(w)
                dec_cpu.append(res.cpu_s)
                loads.append(os.getloadavg()[0])
            assert ext is not None and res is not None
            rows.append((f"{n} {kind}", lp, biggest, ext, res, ext_wall, ext_cpu, dec_wall, dec_cpu))
            print(f"{n} regimes: extensive {ext.status} {ext.objective:,.0f} (bound {ext.bound:,.0f}); decomposed "
                  f"{res.describe()}, upper {_usd(res.upper)}, lower {res.lower:,.0f}, {res.iterations} iterations, "
                  f"{res.priced_groups} priced groups, {res.relaxed_groups} relaxed", flush=True)
            for h in res.history:
                print(f"  it {h.k}: bound {h.bound:,.0f}, best {h.best_bound:,.0f}, upper "
                      f"{_usd(h.upper)}, subproblems {h.subproblem_s:.2f} s", flush=True)

    print(f"\nload average {min(loads):.2f}-{max(loads):.2f}; {args.repeat} rounds; {args.workers} workers; "
          f"max {args.max_iter} iterations; wall and CPU min / median / max (s)\n")
    print("| case | columns | rows | nonzeros | largest subproblem (cols / rows / nonzeros) | extensive wall | "
          "extensive CPU | decomposed wall | decomposed CPU | x extensive | decomposition's status | upper | lower | "
          "iterations | extensive optimum |")
    print("|---|---:|---:|---:|---|---|---|---|---|---:|---|---:|---:|---:|---:|")
    for name, lp, big, ext, res, ew, ec, dw, dc in rows:
        ratio = statistics.median(dw) / statistics.median(ew)
        print(f"| {name} | {lp.n_cols:,} | {lp.n_rows:,} | {len(lp.a_val):,} | {len(big.cols):,} / "
              f"{len(big.row_lo):,} / {len(big.a_val):,} | {spread(ew)} | {spread(ec)} | {spread(dw)} | {spread(dc)} | "
              f"{ratio:.1f} | {res.describe()} | {_usd(res.upper)} | {res.lower:,.0f} | {res.iterations} | "
              f"{ext.objective:,.0f} |")


if __name__ == "__main__":
    main()
