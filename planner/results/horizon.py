"""The plan over several periods: each period read with the one-year report, then put together.

A period's plan is ``build_plan`` of its block (its own network and model) on its share of the
solution, so every one-year figure means what it means in v1. What the horizon adds:

* qualification is paid in the period it is decided (the one-year report would charge every
  period a candidate is used in), so each period's ``qualification`` part is replaced by the fees
  of the qualifications started in it;
* the horizon's total is the discounted sum of the periods' totals, and every cost part likewise;
  tonnes are summed undiscounted;
* a roadmap in plain words: when to start each qualification, when each source starts and stops
  supplying, where and when demand goes short.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from planner.optimise.horizon import HorizonModel
from planner.optimise.solve import SolveResult
from planner.results.report import Plan, build_plan

TABLES = ("plants", "flows", "production", "licenses", "sourcing", "candidates", "batches", "shipments")


def _share(result: SolveResult, col0: int, n_cols: int, row0: int, n_rows: int) -> SolveResult:
    """A block's part of the horizon's solution. Its objective is left out: the block alone is not what
    the solver minimised (discounting, qualification), so there is nothing to compare it with."""
    return dataclasses.replace(
        result, objective=None, bound=None,
        x=None if result.x is None else result.x[col0:col0 + n_cols],
        row_dual=None if result.row_dual is None else result.row_dual[row0:row0 + n_rows],
    )


def build_horizon_plan(hm: HorizonModel, result: SolveResult, detail: bool = True) -> Plan:
    assert result.x is not None
    x = result.x
    started = {s: t for (s, t), j in hm.start.items() if x[j] > 0.5}
    per: list[tuple[str, Plan]] = []
    for b in hm.blocks:
        p = build_plan(b.model, _share(result, b.col0, b.model.n_cols, b.row0, b.model.n_rows), detail=detail)
        fees = sum(hm.qualification_cost[s] for s, t in started.items() if t == b.period)
        p.cost_breakdown["qualification"] = float(fees)
        p.summary["total_cost_usd"] = float(sum(p.cost_breakdown.values()))
        cand = p.candidates
        p.candidates = cand.assign(qualify_in=[started.get(s, "") for s in cand["site_id"]])
        per.append((b.period, p))
    discount = {b.period: b.discount for b in hm.blocks}

    parts = {k: float(sum(discount[t] * p.cost_breakdown.get(k, 0.0) for t, p in per)) for k in per[0][1].cost_breakdown}
    total = float(sum(parts.values()))
    tonnes = {k: float(sum(p.summary[k] for _, p in per)) for k in ("shortage_t", "demand_t", "delivered_t", "exposed_t")}
    first = per[0][1].summary
    summary = {
        "status": result.status,
        "total_cost_usd": total,
        **tonnes,
        "exposed_share": tonnes["exposed_t"] / tonnes["delivered_t"] if tonnes["delivered_t"] > 0 else 0.0,
        "expected_license_loss_usd": round(float(sum(discount[t] * p.summary["expected_license_loss_usd"]
                                                     for t, p in per)), 2),
        "risk_weight": first["risk_weight"],
        "gap": result.gap,
        "best_bound_usd": result.bound,
        "solver_objective_usd": result.objective,
        "solver": result.solver_version or result.solver,
        "solve_time_s": round(result.runtime_s, 3),
        "limit_hit": result.limit_hit,
        "discount_rate": float(hm.inputs.settings.get("discount_rate", 0.0)),  # type: ignore[arg-type]
        "periods": len(per),
    }
    tables = {name: pd.concat([getattr(p, name).assign(period=t) for t, p in per], ignore_index=True)
              for name in TABLES}
    tables = {name: f[["period", *[c for c in f.columns if c != "period"]]] for name, f in tables.items()}
    warnings = [w for t, p in per for w in (f"{t}: {w}" for w in p.warnings)]
    if result.objective is not None and abs(result.objective - total) > 1e-6 * max(abs(total), 1.0) + 0.02 * float(
            tables["batches"]["tonnes"].sum() + tables["shipments"]["tonnes"].sum()) * max(discount.values()) + 1.0:
        warnings.append(f"recomputed cost {total:,.2f} differs from the solver's objective {result.objective:,.2f}")
    plan = Plan(status=result.status, summary=summary, cost_breakdown=parts,
                sites=per[0][1].sites, warnings=warnings, **tables)
    plan.periods = per
    plan.qualifications = pd.DataFrame(
        [{"site_id": s, "start_period": t, "qualification_periods": hm.lead[s],
          "usable_from": _usable_from(hm.periods, t, hm.lead[s]), "qualification_cost_usd": hm.qualification_cost[s],
          "discounted_cost_usd": hm.qualification_cost[s] * discount[t]}
         for s, t in sorted(started.items())],
        columns=["site_id", "start_period", "qualification_periods", "usable_from", "qualification_cost_usd",
                 "discounted_cost_usd"])
    plan.roadmap = roadmap(plan, hm)
    return plan


def _usable_from(periods: list[str], start: str, lead: int) -> str:
    k = periods.index(start) + lead
    return periods[k] if k < len(periods) else f"after {periods[-1]}"


def roadmap(plan: Plan, hm: HorizonModel) -> pd.DataFrame:
    """What to do when, in plain words, in period order: qualifications to start, sources that start or stop
    supplying, demand that goes short."""
    periods = hm.periods
    order = {t: k for k, t in enumerate(periods)}
    rows: list[dict] = []
    prod = plan.production
    made = prod[prod["made_t"] > 0]
    first_use = made.groupby("site_id")["period"].agg(lambda s: min(s, key=order.__getitem__)).to_dict()
    names = plan.sites.set_index("site_id")["name"].to_dict() if "name" in plan.sites else {}
    for q in plan.qualifications.itertuples(index=False):
        used = first_use.get(q.site_id)
        when = f"first used in {used}" if used else "not used within the horizon"
        wait = f"{q.qualification_periods} period{'s' * (q.qualification_periods != 1)}"
        rows.append({"period": q.start_period, "action": "start qualification", "site_id": q.site_id,
                     "product": "", "tonnes": np.nan,
                     "note": f"start qualifying {names.get(q.site_id, q.site_id)} in {q.start_period} "
                             f"({wait} to qualify): usable from {q.usable_from}, {when}; "
                             f"{q.qualification_cost_usd:,.0f} USD"})
    by = {(r.site_id, r.product): {} for r in prod.itertuples(index=False)}
    for r in prod.itertuples(index=False):
        by[(r.site_id, r.product)][r.period] = float(r.made_t)
    for (s, q), series in sorted(by.items()):
        for k, t in enumerate(periods[1:], start=1):
            before, now = series.get(periods[k - 1], 0.0), series.get(t, 0.0)
            if before <= 1e-6 < now:
                rows.append({"period": t, "action": "starts supplying", "site_id": s, "product": q, "tonnes": now,
                             "note": f"{names.get(s, s)} starts supplying {q} in {t}: {now:,.1f} t"})
            elif now <= 1e-6 < before:
                rows.append({"period": t, "action": "stops supplying", "site_id": s, "product": q, "tonnes": before,
                             "note": f"{names.get(s, s)} stops supplying {q} in {t} (was {before:,.1f} t)"})
    short = plan.plants[plan.plants["shortage_t"] > 1e-6]
    for r in short.itertuples(index=False):
        rows.append({"period": r.period, "action": "short", "site_id": r.site_id, "product": r.product,
                     "tonnes": float(r.shortage_t),
                     "note": f"{names.get(r.site_id, r.site_id)} is {r.shortage_t:,.1f} t short of {r.product} "
                             f"in {r.period} ({r.demand_t:,.1f} t needed)"})
    out = pd.DataFrame(rows, columns=["period", "action", "site_id", "product", "tonnes", "note"])
    rank = {"start qualification": 0, "starts supplying": 1, "stops supplying": 2, "short": 3}
    if len(out):
        out = out.assign(_k=out["period"].map(order), _a=out["action"].map(rank)).sort_values(
            ["_k", "_a", "site_id", "product"], kind="mergesort").drop(columns=["_k", "_a"]).reset_index(drop=True)
    return out
