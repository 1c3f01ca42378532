"""Trade-off sweeps: one parameter stepped over a range, one plan per point (pure).

The parameter is a ``Settings`` key (``max_exposed_share``, ``risk_weight``,
``max_supplier_share``, ...) or a cell given as ``Sheet:key:column`` (for
example ``Supply:SP_MY_LYNAS/DYTB_OXIDE:capacity_t``; ``*`` matches any value
in a key part). Each point is a scenario that sets the parameter, so the
sweep runs through the batch machinery and reports like it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.errors import UsageError, visible
from planner.input import schema
from planner.input.read import NUMBER, Cell
from planner.input.validate import coerce
from planner.whatif.batch import Outcome, cost_split
from planner.whatif.scenarios import Change, Scenario


def parse_param(param: str) -> tuple[str, str, str]:
    """(sheet, key, column) of a sweep parameter."""
    if not param.isprintable():  # it becomes a sheet title, chart titles and every point's name
        raise UsageError(f'--param "{visible(param)}" contains an invisible or control character')
    if param in schema.SETTING_BY_KEY:
        return "Settings", param, "value"
    parts = param.split(":")
    if len(parts) == 3 and parts[0] in schema.SHEET_BY_NAME:
        return parts[0], parts[1], parts[2]
    raise UsageError(
        f"unknown sweep parameter {param!r}: give a Settings key ({', '.join(s.key for s in schema.SETTINGS_KEYS)}) "
        "or a cell as Sheet:key:column, e.g. Supply:SP_MY_LYNAS/DYTB_OXIDE:capacity_t"
    )


def points(param: str, start: float, stop: float, steps: int) -> list[Scenario]:
    if steps < 2:
        raise UsageError("a sweep needs --steps 2 or more")
    sheet, key, column = parse_param(param)
    if sheet == "Settings":
        target = schema.SETTING_BY_KEY[key].as_column()
    elif column in schema.SHEET_BY_NAME[sheet].names:
        target = schema.SHEET_BY_NAME[sheet].column(column)
    else:
        names = ", ".join(schema.SHEET_BY_NAME[sheet].names)
        raise UsageError(f"unknown column {column!r} in {sheet} (one of {names})")
    if target.kind not in ("number", "days"):
        raise UsageError(f"{sheet}.{column} is {target.kind}, not a number: it cannot be swept")
    for option, value in (("--from", start), ("--to", stop)):  # every point lies between the two
        _, problem = coerce(Cell(value, NUMBER), target)
        if problem:
            raise UsageError(f"{option} {value:g}: {param}: {problem}")
    values = np.linspace(start, stop, steps)
    out = []
    for v in values:
        v = float(round(v, 12))
        out.append(Scenario(f"{param} = {v:g}", (Change(sheet, key, column, "set", v),)))
    return out


def sweep_frame(outcomes: list[Outcome], values: list[float]) -> pd.DataFrame:
    """One row per point (the baseline first, then each value)."""
    rows = []
    prev: set[str] | None = None
    first_cost = None
    for o, v in zip(outcomes, [None, *values], strict=True):
        row: dict[str, object] = {"point": o.scenario, "value": v, "status": o.status, "message": o.message}
        if o.plan is not None:
            s = o.plan.summary
            sup = set(o.plan.flows.loc[o.plan.flows["tonnes"] > 1e-6, "from_site"]) if len(o.plan.flows) else set()
            if v is not None and first_cost is None:
                first_cost = s["total_cost_usd"]
            split = cost_split(o.plan)
            row.update({
                "total_cost_usd": s["total_cost_usd"],
                "delta_from_first_point_usd": s["total_cost_usd"] - first_cost if first_cost is not None else None,
                "cash_usd": split["cash"], "shortage_penalty_usd": split["shortage"],
                "license_risk_usd": split["license_risk"],
                "exposed_share": s["exposed_share"], "exposed_t": s["exposed_t"], "shortage_t": s["shortage_t"],
                "expected_license_loss_usd": s["expected_license_loss_usd"],
            })
            if "expected_cost_usd" in s:  # against licence regimes: the point's place on the frontier
                row.update({"expected_cost_usd": s["expected_cost_usd"], "cvar_usd": s["cvar_usd"]})
            if v is not None:
                row["suppliers_in"] = ", ".join(sorted(sup - prev)) if prev is not None else ""
                row["suppliers_out"] = ", ".join(sorted(prev - sup)) if prev is not None else ""
                prev = sup
        rows.append(row)
    cols = ["point", "value", "status", "total_cost_usd", "delta_from_first_point_usd", "exposed_share",
            "exposed_t", "shortage_t", "expected_license_loss_usd", "suppliers_in", "suppliers_out", "message",
            "cash_usd", "shortage_penalty_usd", "license_risk_usd"]
    if any("expected_cost_usd" in r for r in rows):
        cols += ["expected_cost_usd", "cvar_usd"]
    return pd.DataFrame(rows).reindex(columns=cols)


def headline(frame: pd.DataFrame, param: str) -> str:
    """The sentence a manager takes to a board, from the first and last solved points."""
    pts = frame[frame["value"].notna() & frame["total_cost_usd"].notna()]
    if len(pts) < 2:
        return f"Sweep of {param}: fewer than two points could be planned."
    a, b = pts.iloc[0], pts.iloc[-1]
    diff = b["total_cost_usd"] - a["total_cost_usd"]
    if "expected_cost_usd" in frame.columns and pd.notna(a["expected_cost_usd"]) and pd.notna(b["expected_cost_usd"]):
        de, dc = b["expected_cost_usd"] - a["expected_cost_usd"], b["cvar_usd"] - a["cvar_usd"]
        verdict = ("the price of the insurance against the worst regimes." if de > 0.5 and dc < -0.5 else
                   "no insurance is bought over this range." if abs(de) <= 0.5 and abs(dc) <= 0.5 else
                   "see the frontier chart.")
        return (f"Going from {param} = {a['value']:g} to {b['value']:g} changes the expected cost over the licence "
                f"regimes by {de / 1e6:+,.2f} M USD and its CVaR (the cost of the worst outcomes) by "
                f"{dc / 1e6:+,.2f} M USD: {verdict}")

    def d(col: str) -> str:
        return f"{(b[col] - a[col]) / 1e6:+,.1f} M"

    return (f"Going from {param} = {a['value']:g} to {b['value']:g} changes the total cost by "
            f"{diff / 1e6:+,.1f} M USD a year: cash {d('cash_usd')}, shortage penalty {d('shortage_penalty_usd')}, "
            f"expected license loss {d('license_risk_usd')} (license-exposed share {100 * a['exposed_share']:.1f} % "
            f"-> {100 * b['exposed_share']:.1f} %, shortage {a['shortage_t']:,.1f} t -> {b['shortage_t']:,.1f} t).")
