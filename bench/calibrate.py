"""How a case's rules bind: the measure behind bench/generate.py's representative profile (issue 16, item 3).

Usage: python bench/calibrate.py [--scales 13 23] [--seeds 1 2]

For the bundled case (as is, and with the content rule on every Controls row) and generated cases of
both profiles: demand short, the share of the objective that is shortage penalty, capacity rows with a
dual, and what each rule is worth, measured by solving again without it (as ``planner.api.diagnose``
does): the relative fall of the objective without the lead-time limits, the exposure caps, the content
rule. A rule "binds" when that fall is above 1e-6. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import PROFILES, generate  # noqa: E402
from planner.api import _without_exposure_caps, _without_lead_times  # noqa: E402
from planner.input.data import Inputs, SolveOptions  # noqa: E402
from planner.input.validate import load, tables_to_inputs  # noqa: E402
from planner.optimise.model import build_model  # noqa: E402
from planner.optimise.solve import solve  # noqa: E402

BINDS = 1e-6  # a rule whose removal lowers the objective by more than this share binds


@dataclass
class Calibration:
    columns: int
    demand_t: float
    short_t: float
    objective: float  # USD, without tie-breaks
    penalty: float  # USD of shortage penalty
    capacity_rows: int
    capacity_binding: int  # capacity rows with a dual
    lead_times: float  # relative fall of the objective without the lead-time limits
    exposure_caps: float
    content_rule: float
    exposure_rows: int

    @property
    def short_share(self) -> float:
        return self.short_t / self.demand_t

    @property
    def penalty_share(self) -> float:
        return self.penalty / self.objective


def _cost(inputs: Inputs) -> tuple[float, object, object]:
    model = build_model(inputs)
    result = solve(model, SolveOptions(time_limit_s=3600))
    assert result.status == "optimal", result.status
    c = model.c - (model.tiebreak if model.tiebreak is not None else 0.0)
    return float(c @ result.x), model, result


def _without_content_rule(inputs: Inputs) -> Inputs:
    return replace(inputs, controls=inputs.controls.assign(content_rule=False))


def calibration(inputs: Inputs) -> Calibration:
    """The figures of the module's docstring for one case (four solves)."""
    objective, model, result = _cost(inputs)
    kind = model.cols["kind"].to_numpy()
    short = kind == "short"
    rows = model.rows["kind"].to_numpy()
    cap = rows == "capacity"

    def fall(without) -> float:  # noqa: ANN001
        return (objective - _cost(without(inputs))[0]) / objective

    return Calibration(
        columns=model.n_cols, demand_t=float(inputs.demand["quantity_t"].sum()), short_t=float(result.x[short].sum()),
        objective=objective, penalty=float(model.c[short] @ result.x[short]), capacity_rows=int(cap.sum()),
        capacity_binding=int((np.abs(result.row_dual[cap]) > 1e-6).sum()), lead_times=fall(_without_lead_times),
        exposure_caps=fall(_without_exposure_caps), content_rule=fall(_without_content_rule),
        exposure_rows=int((rows == "exposure").sum()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=int, nargs="*", default=[13, 23])
    ap.add_argument("--seeds", type=int, nargs="*", default=[1])
    args = ap.parse_args()
    ref = load(ROOT / "inputs" / "rare_earth_magnets.xlsx")
    cases = [("bundled case", lambda: ref),
             ("bundled case, content rule on every Controls row",
              lambda: replace(ref, controls=ref.controls.assign(content_rule=True)))]
    for s in args.scales:
        for seed in args.seeds:
            for profile in PROFILES:
                cases.append((f"scale {s}, seed {seed}, {profile}",
                              lambda s=s, seed=seed, p=profile: tables_to_inputs(generate(s, seed=seed, profile=p))))
    print("| case | columns | demand t | short t | short % | objective USD | penalty % of it | capacity rows "
          "binding | exposure cap rows | fall without lead times | without exposure caps | without content rule |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, make in cases:
        c = calibration(make())
        print(f"| {name} | {c.columns:,} | {c.demand_t:,.0f} | {c.short_t:,.0f} | {100 * c.short_share:.1f} | "
              f"{c.objective:.3e} | {100 * c.penalty_share:.1f} | {c.capacity_binding} of {c.capacity_rows} | "
              f"{c.exposure_rows} | {c.lead_times:.2e} | {c.exposure_caps:.2e} | {c.content_rule:.2e} |", flush=True)


if __name__ == "__main__":
    main()
