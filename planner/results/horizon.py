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

import copy
import dataclasses

import numpy as np
import pandas as pd

from planner.input.data import Inputs
from planner.optimise.horizon import HorizonModel, contract_columns, contract_periods
from planner.optimise.network import EXPOSED, INF
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


def build_horizon_plan(hm: HorizonModel, result: SolveResult, detail: bool = True, cache: dict | None = None) -> Plan:
    """``cache``: period plans already read, by (model, solution): the regimes of a plan against regimes
    share a period's model and, before a shock, its solution, so its plan is read once and copied."""
    assert result.x is not None
    x = result.x
    started = {s: t for (s, t), j in hm.start.items() if x[j] > 0.5}
    per: list[tuple[str, Plan]] = []
    for b in hm.blocks:
        key = (id(b.model), x[b.col0:b.col0 + b.model.n_cols].tobytes(), detail) if cache is not None else None
        if key is not None and key in cache:
            p = copy.deepcopy(cache[key])
        else:
            p = build_plan(b.model, _share(result, b.col0, b.model.n_cols, b.row0, b.model.n_rows), detail=detail)
            if key is not None:
                cache[key] = copy.deepcopy(p)
        fees = sum(hm.qualification_cost[s] for s, t in started.items() if t == b.period)
        p.cost_breakdown["qualification"] = float(fees)
        p.summary["total_cost_usd"] = float(sum(p.cost_breakdown.values()))
        cand = p.candidates
        p.candidates = cand.assign(qualify_in=[started.get(s, "") for s in cand["site_id"]])
        per.append((b.period, p))
    stock = _stock_table(hm, x)
    holding = {} if hm.inputs.stock is None else {
        (r.site_id, r.product): float(r.holding_cost_usd_per_kg_yr) for r in hm.inputs.stock.itertuples(index=False)}
    days = dict(zip(hm.inputs.periods["period"], hm.inputs.periods["days"], strict=True))
    for k, (t, p) in enumerate(per):
        _with_stock(p, stock[stock["period"] == t], hm.blocks[k].model.inputs, holding, int(days[t]))
    contracts = _contract_table(hm, x)
    if hm.inputs.contracts is not None:
        for t, p in per:
            p.cost_breakdown["take_or_pay"] = float(contracts.loc[contracts["period"] == t, "take_or_pay_usd"].sum())
            p.summary["total_cost_usd"] = float(sum(p.cost_breakdown.values()))
    reservations = _reservation_table(hm, x, per)
    if hm.inputs.reservations is not None:
        _with_reservations(hm, result, per, reservations)
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
    plan.stock = stock
    plan.contracts = contracts
    plan.reservations = reservations
    plan.roadmap = roadmap(plan, hm)
    return plan


def _contract_table(hm: HorizonModel, x: np.ndarray) -> pd.DataFrame:
    """Per contract and period in force: its bounds, what the plan buys under it, and take-or-pay paid for
    tonnes not taken."""
    cols = ["contract_row", "site_id", "product", "plant", "period", "min_t", "max_t", "take_or_pay", "shipped_t",
            "unused_t", "take_or_pay_usd"]
    if hm.inputs.contracts is None:
        return pd.DataFrame(columns=cols)
    by = {b.period: b for b in hm.blocks}
    rows = []
    for i, r in hm.inputs.contracts.reset_index(drop=True).iterrows():
        for t in contract_periods(hm.inputs, r):
            b = by[t]
            shipped = float(x[contract_columns(b, r)].sum())
            j = hm.take_or_pay.get((i, t))
            unused = float(x[j]) if j is not None else 0.0
            sup = b.model.net.supply
            key = (r["site_id"], r["product"])
            price = float(sup.at[key, "unit_cost_usd_per_kg"]) if key in sup.index else 0.0
            rows.append({"contract_row": int(r["_row"]), "site_id": r["site_id"], "product": r["product"],
                         "plant": r["plant"], "period": t, "min_t": float(r["min_t"] or 0.0),
                         "max_t": None if r["max_t"] is None or pd.isna(r["max_t"]) else float(r["max_t"]),
                         "take_or_pay": bool(r["take_or_pay"]), "shipped_t": _clean(shipped),
                         "unused_t": _clean(unused), "take_or_pay_usd": _clean(unused * price * 1000.0)})
    return pd.DataFrame(rows, columns=cols)


RESERVATION_COLUMNS = ["reservation_row", "site_id", "product", "period", "max_t", "reserved_t", "available_t",
                       "taken_t", "fee_usd_per_kg_yr", "fee_usd"]


def _reservation_table(hm: HorizonModel, x: np.ndarray, per: list[tuple[str, Plan]]) -> pd.DataFrame:
    """Per reservation and period it runs: tonnes a year reserved (one figure for all its periods), tonnes
    available in the period, tonnes taken under it, and its fee for the period (undiscounted).

    Taken is what the site makes beyond its Supply capacity, given to the site's reservations in row order:
    the solver's own split between reservations (and its slack) is arbitrary where it is not binding."""
    if hm.inputs.reservations is None:
        return pd.DataFrame(columns=RESERVATION_COLUMNS)
    days = dict(zip(hm.periods, hm.inputs.periods["days"].astype(int).tolist(), strict=True))
    made = {(t, r.site_id, r.product): float(r.made_t) for t, p in per for r in p.production.itertuples(index=False)}
    sup = hm.inputs.supply
    cap = {(r.period, r.site_id, r.product): float(r.capacity_t) * days[r.period] / 365.0
           for r in sup.itertuples(index=False)}
    left: dict[tuple[str, str, str], float] = {}
    rows = []
    for i, r in hm.inputs.reservations.reset_index(drop=True).iterrows():
        reserved = _clean(float(x[hm.reserve[i]]))
        for t in hm.inputs.in_force(r):
            key = (t, r["site_id"], r["product"])
            available = reserved * days[t] / 365.0
            if key not in left:
                left[key] = max(made.get(key, 0.0) - cap.get(key, 0.0), 0.0)
            taken = min(available, left[key])
            left[key] -= taken
            rows.append({"reservation_row": int(r["_row"]), "site_id": r["site_id"], "product": r["product"],
                         "period": t, "max_t": float(r["max_t"]), "reserved_t": reserved,
                         "available_t": available, "taken_t": _clean(taken),
                         "fee_usd_per_kg_yr": float(r["fee_usd_per_kg_yr"]),
                         "fee_usd": 1000.0 * float(r["fee_usd_per_kg_yr"]) * available})
    return pd.DataFrame(rows, columns=RESERVATION_COLUMNS)


def _with_reservations(hm: HorizonModel, result: SolveResult, per: list[tuple[str, Plan]],
                       table: pd.DataFrame) -> None:
    """Each period's plan counts its reservations' fees, and its Production table the capacity they add:
    a site's capacity is its Supply capacity plus what it has reserved (the period's model was built with the
    most reservable, so its own figures would overstate it), with the value of the row that binds."""
    rows = hm.lp.rows
    dual = {}
    if result.row_dual is not None:
        for n in np.flatnonzero((rows["kind"] == "reserved_capacity").to_numpy()):
            k = rows.at[n, "key"]
            dual[(k[1], k[2], k[3])] = _clean(-float(result.row_dual[n])) / 1000.0
    days = dict(zip(hm.periods, hm.inputs.periods["days"].astype(int).tolist(), strict=True))
    sup = hm.inputs.supply
    for t, p in per:
        mine = table[table["period"] == t]
        p.cost_breakdown["reservation"] = float(mine["fee_usd"].sum())
        p.summary["total_cost_usd"] = float(sum(p.cost_breakdown.values()))
        extra = mine.groupby(["site_id", "product"])["available_t"].sum()
        if extra.empty or p.production.empty:
            continue
        prod = p.production.copy()
        own = sup[sup["period"] == t].set_index(["site_id", "product"])["capacity_t"] * days[t] / 365.0
        for n, r in prod.iterrows():
            key = (r["site_id"], r["product"])
            if key not in extra.index:
                continue
            cap = float(own.get(key, 0.0)) + float(extra[key])
            prod.at[n, "capacity_t"] = cap
            prod.at[n, "utilisation"] = _clean(float(r["made_t"]) / cap) if cap > 0 else 0.0
            prod.at[n, "capacity_value_usd_per_kg"] = dual.get((t, *key), float("nan"))
        p.production = prod


def _stock_table(hm: HorizonModel, x: np.ndarray) -> pd.DataFrame:
    """Opening and closing stock per period, plant, product, exposure class and lead-time bound."""
    periods = hm.periods
    terms = _initial(hm)
    rows = []
    for (t, plant, product, c, b), j in sorted(hm.stock.items(), key=lambda kv: (periods.index(kv[0][0]), kv[0][1:])):
        k = periods.index(t)
        prev = hm.stock.get((periods[k - 1], plant, product, c, b)) if k else None
        opening = float(x[prev]) if prev is not None else (terms.get((plant, product), 0.0) if (c, b) == (0, 0) else 0.0)
        closing = float(x[j])
        rows.append({"period": t, "site_id": plant, "product": product, "cls": c, "bound_days": b,
                     "exposed": bool(c & EXPOSED), "opening_t": _clean(opening), "closing_t": _clean(closing)})
    out = pd.DataFrame(rows, columns=["period", "site_id", "product", "cls", "bound_days", "exposed", "opening_t",
                                      "closing_t"])
    return out


def _initial(hm: HorizonModel) -> dict[tuple[str, str], float]:
    st = hm.inputs.stock
    if st is None:
        return {}
    return {(r.site_id, r.product): float(r.initial_stock_t) for r in st.itertuples(index=False)}


def _clean(v: float) -> float:
    return 0.0 if abs(v) < 1e-9 else v


def _with_stock(p: Plan, stock: pd.DataFrame, inputs: Inputs, holding: dict, days: int) -> None:
    """A period's plan with its plants' stock: what a plant uses is what arrived plus the opening stock less
    the closing stock (of the lead-time bounds it may use); shortage, exposure and costs follow."""
    p.stock = stock
    if stock.empty:
        return
    st = inputs.settings
    dem = inputs.demand.set_index(["site_id", "product"])
    plants = p.plants.copy()
    for col in ("received_t", "stock_opening_t", "stock_closing_t"):
        plants[col] = 0.0
    plants["received_t"] = plants["delivered_t"]
    shortage_cost = 0.0
    for i, r in plants.iterrows():
        # r["product"]: a Series' .product is its product() method, not the column
        g = stock[(stock["site_id"] == r["site_id"]) & (stock["product"] == r["product"])]
        lim = r.lead_time_limit_days
        lim = INF if lim is None or pd.isna(lim) else int(lim)
        if len(g):
            usable = g[g["bound_days"] <= lim]
            delta = float(usable["opening_t"].sum() - usable["closing_t"].sum())
            delta_exposed = float(usable.loc[usable["exposed"], "opening_t"].sum()
                                  - usable.loc[usable["exposed"], "closing_t"].sum())
            delivered = r.delivered_t + delta
            plants.at[i, "delivered_t"] = _clean(delivered)
            plants.at[i, "shortage_t"] = _clean(r.demand_t - delivered)
            plants.at[i, "exposed_t"] = _clean(r.exposed_t + delta_exposed)
            plants.at[i, "exposed_share"] = _clean(plants.at[i, "exposed_t"] / delivered) if delivered > 0 else 0.0
            plants.at[i, "stock_opening_t"] = float(g["opening_t"].sum())
            plants.at[i, "stock_closing_t"] = float(g["closing_t"].sum())
        key = (r["site_id"], r["product"])
        c = dem.at[key, "shortage_cost_usd_per_kg"] if key in dem.index else None
        c = float(st["shortage_cost_usd_per_kg"]) if c is None or pd.isna(c) else float(c)
        shortage_cost += max(float(plants.at[i, "shortage_t"]), 0.0) * c * 1000.0
    p.plants = plants
    hold = float(sum(1000.0 * holding.get((r.site_id, r.product), 0.0) * days / 365.0 * r.closing_t
                     for r in stock.itertuples(index=False)))
    p.cost_breakdown["shortage"] = shortage_cost
    p.cost_breakdown["holding"] = hold
    p.summary["total_cost_usd"] = float(sum(p.cost_breakdown.values()))
    for k in ("delivered_t", "shortage_t", "exposed_t"):
        p.summary[k] = float(plants[k].sum())
    p.summary["exposed_share"] = p.summary["exposed_t"] / p.summary["delivered_t"] if p.summary["delivered_t"] else 0.0


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
    if plan.stock is not None and len(plan.stock):
        held = plan.stock.groupby(["period", "site_id", "product"], sort=False)[["opening_t", "closing_t"]].sum()
        for (t, s, q), r in held.iterrows():
            change = float(r["closing_t"] - r["opening_t"])
            if abs(change) <= 1e-6:
                continue
            verb = "builds up" if change > 0 else "draws down"
            rows.append({"period": t, "action": "stock " + ("build-up" if change > 0 else "draw-down"),
                         "site_id": s, "product": q, "tonnes": abs(change),
                         "note": f"{names.get(s, s)} {verb} {abs(change):,.1f} t of {q} stock in {t} "
                                 f"(closing {float(r['closing_t']):,.1f} t)"})
    c = plan.contracts
    if c is not None and len(c):
        for r in c.itertuples(index=False):
            to = f" to {names.get(r.plant, r.plant)}" if r.plant else ""
            if r.unused_t > 1e-6:
                rows.append({"period": r.period, "action": "contract", "site_id": r.site_id, "product": r.product,
                             "tonnes": r.unused_t,
                             "note": f"pay for {r.unused_t:,.1f} t of {r.product} from {names.get(r.site_id, r.site_id)}"
                                     f"{to} not taken in {r.period} (take-or-pay: {r.min_t:,.1f} t contracted, "
                                     f"{r.shipped_t:,.1f} t bought)"})
            elif r.max_t is not None and r.shipped_t >= r.max_t - 1e-6 and r.shipped_t > 1e-6:
                rows.append({"period": r.period, "action": "contract", "site_id": r.site_id, "product": r.product,
                             "tonnes": r.shipped_t,
                             "note": f"buy the contract's maximum of {r.product} from {names.get(r.site_id, r.site_id)}"
                                     f"{to} in {r.period}: {r.shipped_t:,.1f} t (more would be cheaper: raise it)"})
        for (i, s_, q), g in c.groupby(["contract_row", "site_id", "product"], sort=False):
            last = max(g["period"], key=order.__getitem__)
            k = order[last]
            if k + 1 < len(periods):
                nxt = periods[k + 1]
                before = float(g.loc[g["period"] == last, "shipped_t"].sum())
                f = plan.flows
                after = float(f.loc[(f["period"] == nxt) & (f["from_site"] == s_) & (f["product"] == q), "tonnes"].sum())
                if abs(after - before) > 1e-6:
                    rows.append({"period": nxt, "action": "contract ends", "site_id": s_, "product": q,
                                 "tonnes": after - before,
                                 "note": f"after its contract (Contracts row {i}) ends in {last}, "
                                         f"{names.get(s_, s_)}'s {q} goes from {before:,.1f} t to {after:,.1f} t in "
                                         f"{nxt}"})
    res = plan.reservations
    if res is not None and len(res):
        for i, g in res.groupby("reservation_row", sort=False):
            first = g.iloc[0]
            if first["reserved_t"] <= 1e-6:
                continue
            runs = f"{g['period'].iloc[0]}-{g['period'].iloc[-1]}" if len(g) > 1 else f"{g['period'].iloc[0]}"
            taken = float(g["taken_t"].sum())
            idle = ", ".join(g.loc[g["taken_t"] <= 1e-6, "period"].astype(str))
            rows.append({"period": first["period"], "action": "reserve", "site_id": first["site_id"],
                         "product": first["product"], "tonnes": float(first["reserved_t"]),
                         "note": f"reserve {first['reserved_t']:,.1f} t/yr of {first['product']} at "
                                 f"{names.get(first['site_id'], first['site_id'])} for {runs} (Reservations row {i}; "
                                 f"up to {first['max_t']:,.1f} t/yr): {first['fee_usd_per_kg_yr']:g} USD/kg/yr, "
                                 f"{float(g['fee_usd'].sum()):,.0f} USD in all, paid whether taken or not; "
                                 f"{taken:,.1f} t taken" + (f", none in {idle}" if idle else "")})
    short = plan.plants[plan.plants["shortage_t"] > 1e-6]
    for r in short.itertuples(index=False):
        rows.append({"period": r.period, "action": "short", "site_id": r.site_id, "product": r.product,
                     "tonnes": float(r.shortage_t),
                     "note": f"{names.get(r.site_id, r.site_id)} is {r.shortage_t:,.1f} t short of {r.product} "
                             f"in {r.period} ({r.demand_t:,.1f} t needed)"})
    out = pd.DataFrame(rows, columns=["period", "action", "site_id", "product", "tonnes", "note"])
    rank = {"start qualification": 0, "reserve": 1, "contract ends": 2, "contract": 3, "starts supplying": 4,
            "stops supplying": 5, "stock build-up": 6, "stock draw-down": 7, "short": 8}
    if len(out):
        out = out.assign(_k=out["period"].map(order), _a=out["action"].map(rank)).sort_values(
            ["_k", "_a", "site_id", "product"], kind="mergesort").drop(columns=["_k", "_a"]).reset_index(drop=True)
    return out
