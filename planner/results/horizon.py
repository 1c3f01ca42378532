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
from planner.results.report import _clean as _tonnes  # the report's 1e-6 t resolution

TABLES = ("plants", "flows", "production", "licenses", "sourcing", "candidates", "batches", "shipments")


def _share(result: SolveResult, col0: int, n_cols: int, row0: int, n_rows: int) -> SolveResult:
    """A block's part of the horizon's solution. Its objective is left out: the block alone is not what
    the solver minimised (discounting, qualification), so there is nothing to compare it with."""
    return dataclasses.replace(
        result, objective=None, bound=None,
        x=None if result.x is None else result.x[col0:col0 + n_cols],
        row_dual=None if result.row_dual is None else result.row_dual[row0:row0 + n_rows],
    )


def build_horizon_plan(hm: HorizonModel, result: SolveResult, detail: bool = True, cache: dict | None = None,
                       narrative: bool = True) -> Plan:
    """``cache``: period plans already read, by (model, solution): the regimes of a plan against regimes
    share a period's model and, before a shock, its solution, so its plan is read once and copied (a plan
    read with ``detail`` serves one asked for without). ``narrative=False`` leaves out the roadmap and the
    contract changes (a regime other than the first: only the first regime's are shown)."""
    assert result.x is not None
    x = result.x
    started = starts_of(hm, x)
    per: list[tuple[str, Plan]] = []
    for b in hm.blocks:
        key = (id(b.model), x[b.col0:b.col0 + b.model.n_cols].tobytes(), detail) if cache is not None else None
        known = None if key is None else cache.get(key, None if detail else cache.get((*key[:2], True)))
        if known is not None:
            p = copy.deepcopy(known)
        else:
            p = build_plan(b.model, _share(result, b.col0, b.model.n_cols, b.row0, b.model.n_rows), detail=detail)
            if key is not None:
                cache[key] = copy.deepcopy(p)
        if len(p.production) and "capacity_value_usd_per_kg" in p.production:
            # the stitched model's duals count a period's USD discounted: a value of capacity is read in the
            # period's own USD (the same as the unit costs beside it)
            p.production = p.production.assign(capacity_value_usd_per_kg=p.production["capacity_value_usd_per_kg"]
                                               / b.discount)
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

    parts = {k: float(sum(discount[t] * p.cost_breakdown.get(k, 0.0) for t, p in per))
             for k in per[0][1].cost_breakdown}
    total = float(sum(parts.values()))
    tonnes = {k: float(sum(p.summary[k] for _, p in per))
              for k in ("shortage_t", "demand_t", "delivered_t", "exposed_t")}
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
    if narrative:
        plan.contract_changes = contract_changes(plan, hm)
        plan.roadmap = roadmap(plan, hm)
    return plan


CHANGE_COLUMNS = ["plant", "product", "from_site", "to_site", "first_period", "last_period", "tonnes", "note"]


def contract_changes(plan: Plan, hm: HorizonModel) -> pd.DataFrame:  # noqa: C901
    """The change from the contracted mix: per plant and product, the tonnes the plan moves away from a
    contracted supplier and to whom, per run of consecutive periods with the same move.

    * What a contract says is bought: its ``min_t`` (or, with no minimum, its ``max_t``; a row with neither
      says nothing about volume), per period, from its first period on. After its last period the most
      recently ended contract of that supplier, plant and product still says it: continuing to buy as
      contracted is what the plan is compared with. Rows in force together add up.
    * A contracted supplier's shortfall in a period: what its contracts say less what the plan buys from it
      for the plant (a blank plant: for every receiver). While a contract is in force the plan honours it, so
      a shortfall then is a take-or-pay minimum not taken, or a maximum (with no minimum) not used.
    * Who takes the shortfall: the suppliers the plan buys more from than in the latest period in which the
      contracted mix held (no shortfall); if it never held, more than their own contracts say (nothing, for a
      supplier without one). The shortfalls (in site order) go to the largest gains first. A shortfall that
      no gain takes is bought nowhere else (demand fell or goes short).
    """
    con = hm.inputs.contracts
    if con is None or not len(con) or not len(plan.flows):
        return pd.DataFrame(columns=CHANGE_COLUMNS)
    periods = hm.periods
    days = dict(zip(hm.periods, hm.inputs.periods["days"].astype(int).tolist(), strict=True))
    names = plan.sites.set_index("site_id")["name"].to_dict() if "name" in plan.sites else {}
    f = plan.flows
    refs: dict[tuple[str, str], dict[str, list[tuple[int, int, float]]]] = {}  # (plant, product) -> site -> rows
    for _, r in con.iterrows():
        lo = float(r["min_t"] or 0.0)
        hi = r["max_t"]
        v = lo if lo > 0 else (None if hi is None or pd.isna(hi) else float(hi))
        if v is None:
            continue
        runs = hm.inputs.in_force(r)
        refs.setdefault((r["plant"] or "", r["product"]), {}).setdefault(r["site_id"], []).append(
            (periods.index(runs[0]), periods.index(runs[-1]), v))
    out = []
    for (plant, q), by_site in sorted(refs.items()):
        g = f[(f["product"] == q) & ((f["to_site"] == plant) if plant else True)]
        bought = g.groupby(["period", "from_site"])["tonnes"].sum().to_dict()
        sellers = sorted(set(g["from_site"]) | set(by_site))
        contracted: list[dict[str, float]] = []  # per period: site -> what its contracts say
        for k in range(len(periods)):
            says = {}
            for s_, rows_ in by_site.items():
                now = [v for a, b, v in rows_ if a <= k <= b]
                ended = [(b, v) for a, b, v in rows_ if b < k]
                if now:
                    says[s_] = sum(now)
                elif ended:
                    last = max(b for b, _ in ended)
                    says[s_] = sum(v for b, v in ended if b == last)
            contracted.append(says)
        moves: dict[tuple[str, str], dict[int, float]] = {}
        held = None  # the latest period in which the contracted mix held
        for k, t in enumerate(periods):
            buy = {s_: float(bought.get((t, s_), 0.0)) for s_ in sellers}
            short = {s_: v - buy[s_] for s_, v in sorted(contracted[k].items()) if v - buy[s_] > 1e-6}
            if not short:
                held = k
                continue
            base = ({s_: float(bought.get((periods[held], s_), 0.0)) for s_ in sellers} if held is not None
                    else {s_: contracted[k].get(s_, 0.0) for s_ in sellers})
            gains = sorted(((buy[s_] - base[s_], s_) for s_ in sellers
                            if s_ not in short and buy[s_] - base[s_] > 1e-6), key=lambda gs: (-gs[0], gs[1]))
            left = [list(gs) for gs in gains]
            for s_, n in short.items():
                for gs in left:
                    take = min(n, gs[0])
                    if take > 1e-6:
                        moves.setdefault((s_, gs[1]), {})[k] = take
                        gs[0] -= take
                        n -= take
                if n > 1e-6:
                    moves.setdefault((s_, ""), {})[k] = n
        for (s_, to), series in sorted(moves.items()):
            ks = sorted(series)
            start = 0
            for i in range(1, len(ks) + 1):  # runs of consecutive periods with the same tonnes
                if i < len(ks) and ks[i] == ks[i - 1] + 1 and abs(series[ks[i]] - series[ks[start]]) <= 0.05:
                    continue
                a, b = ks[start], ks[i - 1]
                out.append(_move(plant, q, s_, to, periods, a, b, series[ks[start]], names,
                                 all(days[periods[j]] == 365 for j in range(a, b + 1))))
                start = i
    return pd.DataFrame(out, columns=CHANGE_COLUMNS)


def _move(plant: str, q: str, frm: str, to: str, periods: list[str], a: int, b: int, tonnes: float,
          names: dict, yearly: bool) -> dict:
    """One move in words: "move 400 t/yr of NDFEB_HT to P from JL Mag (contracted) to Neo from 2027"."""
    n = f"{tonnes:,.1f}".rstrip("0").rstrip(".")
    unit = "t/yr" if yearly else "t a period"
    when = f"from {periods[a]}" if b == len(periods) - 1 else (f"in {periods[a]}" if a == b else
                                                               f"in {periods[a]}-{periods[b]}")
    src = f"{names.get(frm, frm)} (contracted)"
    note = (f"move {n} {unit} of {q}{f' to {names.get(plant, plant)}' if plant else ''} from {src} to "
            f"{names.get(to, to)} {when}" if to else
            f"buy {n} {unit} less {q}{f' for {names.get(plant, plant)}' if plant else ''} from {src} {when}, not "
            "bought elsewhere")
    return {"plant": plant, "product": q, "from_site": frm, "to_site": to, "first_period": periods[a],
            "last_period": periods[b], "tonnes": tonnes, "note": note}


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


def starts_of(hm: HorizonModel, x: np.ndarray) -> dict[str, str]:
    """site -> the period a horizon solution starts its qualification."""
    return {s: t for (s, t), j in hm.start.items() if x[j] > 0.5}


def decisions(hm: HorizonModel, x: np.ndarray) -> tuple[dict[str, str], pd.DataFrame, dict[int, float]]:
    """What a horizon solution decides, without reading its whole plan: qualification starts (site -> period),
    the stock table, and the tonnes a year reserved per Reservations row."""
    rows = [] if hm.inputs.reservations is None else hm.inputs.reservations["_row"].astype(int).tolist()
    return starts_of(hm, x), _stock_table(hm, x), {rows[i]: _clean(float(x[j])) for i, j in hm.reserve.items()}


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
    discount = {b.period: b.discount for b in hm.blocks}
    if result.row_dual is not None:
        for n in np.flatnonzero((rows["kind"] == "reserved_capacity").to_numpy()):
            k = rows.at[n, "key"]
            dual[(k[1], k[2], k[3])] = _clean(-float(result.row_dual[n])) / 1000.0 / discount[k[1]]
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
        own = (sup[sup["period"] == t].set_index(["site_id", "product"])["capacity_t"] * days[t] / 365.0).to_dict()
        more = extra.to_dict()
        # column lists, not a look-up per row: 16 regimes x 5 periods of the bundled case read this
        nan = [float("nan")] * len(prod)
        cap_col, util_col = prod["capacity_t"].tolist(), prod["utilisation"].tolist()
        value_col = prod["capacity_value_usd_per_kg"].tolist() if "capacity_value_usd_per_kg" in prod else nan
        hit = False
        for n, (key, made) in enumerate(zip(zip(prod["site_id"].tolist(), prod["product"].tolist(), strict=True),
                                            prod["made_t"].tolist(), strict=True)):
            if key not in more:
                continue
            hit = True
            cap = float(own.get(key, 0.0)) + float(more[key])
            cap_col[n] = cap
            util_col[n] = _clean(float(made) / cap) if cap > 0 else 0.0
            value_col[n] = dual.get((t, *key), float("nan"))
        if hit:
            prod["capacity_t"], prod["utilisation"], prod["capacity_value_usd_per_kg"] = cap_col, util_col, value_col
        p.production = prod


def _stock_table(hm: HorizonModel, x: np.ndarray) -> pd.DataFrame:
    """Opening and closing stock per period, plant, product, exposure class and lead-time bound."""
    periods = hm.periods
    terms = _initial(hm)
    rows = []
    for (t, plant, product, c, b), j in sorted(hm.stock.items(), key=lambda kv: (periods.index(kv[0][0]), kv[0][1:])):
        k = periods.index(t)
        prev = hm.stock.get((periods[k - 1], plant, product, c, b)) if k else None
        initial = terms.get((plant, product), 0.0) if (c, b) == (0, 0) else 0.0
        opening = float(x[prev]) if prev is not None else initial
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
    # plain arrays: a period of a plan against regimes is read many times, and per-row pandas look-ups
    # were most of it
    s_key = list(zip(stock["site_id"].tolist(), stock["product"].tolist(), strict=True))
    s_bound = stock["bound_days"].to_numpy()
    s_open = stock["opening_t"].to_numpy(dtype=float)
    s_close = stock["closing_t"].to_numpy(dtype=float)
    s_exp = stock["exposed"].to_numpy(dtype=bool)
    rows_of: dict[tuple[str, str], list[int]] = {}
    for n, k in enumerate(s_key):
        rows_of.setdefault(k, []).append(n)
    shortage_cost = 0.0
    default = float(st["shortage_cost_usd_per_kg"])
    cost_of = {}
    for k, c in zip(zip(dem.index.get_level_values(0), dem.index.get_level_values(1), strict=True),
                    dem["shortage_cost_usd_per_kg"].tolist(), strict=True):
        cost_of.setdefault(k, c)
    delivered_col = plants["delivered_t"].tolist()
    out = {c: plants[c].tolist() for c in ("delivered_t", "shortage_t", "exposed_t", "exposed_share")}
    opening_col, closing_col = [0.0] * len(plants), [0.0] * len(plants)
    for i, (site, product, lim, demand, exposed) in enumerate(zip(
            plants["site_id"].tolist(), plants["product"].tolist(), plants["lead_time_limit_days"].tolist(),
            plants["demand_t"].tolist(), plants["exposed_t"].tolist(), strict=True)):
        lim = INF if lim is None or pd.isna(lim) else int(lim)
        at = rows_of.get((site, product))
        if at:
            ix = np.asarray(at)
            ok = ix[s_bound[ix] <= lim]
            delta = float(s_open[ok].sum() - s_close[ok].sum())
            ex = ok[s_exp[ok]]
            delta_exposed = float(s_open[ex].sum() - s_close[ex].sum())
            delivered = delivered_col[i] + delta
            # tonnes at the one-year report's 1e-6 t resolution: a draw that differs from the arrivals it
            # replaces by solver noise (3e-7 t) is no shortage, and at 1e4 USD/t it would be a cost
            out["delivered_t"][i] = _tonnes(delivered)
            out["shortage_t"][i] = _tonnes(demand - delivered)
            out["exposed_t"][i] = _tonnes(exposed + delta_exposed)
            out["exposed_share"][i] = _clean(out["exposed_t"][i] / delivered) if delivered > 0 else 0.0
            opening_col[i] = float(s_open[ix].sum())
            closing_col[i] = float(s_close[ix].sum())
        c = cost_of.get((site, product))
        c = default if c is None or pd.isna(c) else float(c)
        shortage_cost += max(float(out["shortage_t"][i]), 0.0) * c * 1000.0
    plants["received_t"] = delivered_col
    for c, v in out.items():
        plants[c] = v
    plants["stock_opening_t"] = opening_col
    plants["stock_closing_t"] = closing_col
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
                             "note": f"pay for {r.unused_t:,.1f} t of {r.product} from "
                                     f"{names.get(r.site_id, r.site_id)}{to} not taken in {r.period} "
                                     f"(take-or-pay: {r.min_t:,.1f} t contracted, {r.shipped_t:,.1f} t bought)"})
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
                after = float(f.loc[(f["period"] == nxt) & (f["from_site"] == s_) & (f["product"] == q),
                                    "tonnes"].sum())
                if abs(after - before) > 1e-6:
                    rows.append({"period": nxt, "action": "contract ends", "site_id": s_, "product": q,
                                 "tonnes": after - before,
                                 "note": f"after its contract (Contracts row {i}) ends in {last}, "
                                         f"{names.get(s_, s_)}'s {q} goes from {before:,.1f} t to {after:,.1f} t in "
                                         f"{nxt}"})
    moves = plan.contract_changes
    for r in moves.itertuples(index=False) if moves is not None else []:
        rows.append({"period": r.first_period, "action": "contract change", "site_id": r.from_site,
                     "product": r.product, "tonnes": r.tonnes, "note": r.note})
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
    rank = {"start qualification": 0, "reserve": 1, "contract ends": 2, "contract change": 3, "contract": 4,
            "starts supplying": 5, "stops supplying": 6, "stock build-up": 7, "stock draw-down": 8, "short": 9}
    if len(out):
        out = out.assign(_k=out["period"].map(order), _a=out["action"].map(rank)).sort_values(
            ["_k", "_a", "site_id", "product"], kind="mergesort").drop(columns=["_k", "_a"]).reset_index(drop=True)
    return out


# --------------------------------------------------------------------------- explanations per period

LINK_LIMITS = {  # link rows whose dual is a limit of the period, as the one-year Limits name theirs
    "contract": "contract", "contract_min": "contract (take-or-pay)", "contract_max": "contract",
    "stock_capacity": "stock capacity", "stock_cover": "cover days",
}


def explain_horizon(hm: HorizonModel, result: SolveResult, plan: Plan, options=None) -> None:  # noqa: ANN001, C901
    """Each period's one-year explanation (``Plan.periods[k][1].explanation``), found on the horizon's model.

    Every figure is the horizon plan's, read in the period's own USD (undiscounted: the stitched model counts a
    period's USD times its discount factor, so each is divided by it), on the stitched LP with the integer
    decisions (when each qualification starts, which site is used in which period) fixed at the plan's:

    * **Value of capacity** in period t: the dual of t's capacity row (of its reserved-capacity row, where the
      site has reserved volume), per kg, undiscounted. It counts what one more kg/yr in t is worth over the
      horizon: kept as stock for a later period, taken under a contract, or replacing a dearer supplier in t.
    * **Price to win** of a supplier that ships nothing in t: how much cheaper per kg its t cost would have to
      be for the horizon plan to buy from it in t. One row "it ships at least eps in t" is added to the
      stitched LP, raised to eps and re-solved from the plan's basis; the cost increase over eps kg, divided
      by t's discount factor. Stock, contracts, reservations and the qualifications already decided all
      answer in that re-solve, as they would to the cut. A site with a yes/no decision that the plan leaves
      off in t (a qualified candidate it does not use then, a site with a minimum volume) is switched on for
      the re-solve, and eps is its minimum volume: the price at which buying its minimum would pay.
    * **A candidate not qualified** within the horizon: the net effect on the horizon's discounted total of
      starting its qualification in the first period and using it from the period it is ready (its fee
      counted); one re-solve per candidate. A candidate whose qualification is started but not finished in t
      is said so.
    * **Limits** of a period: the one-year rows' duals (undiscounted), and the links' rows in force in t: a
      contract's minimum or maximum, a stock capacity, a cover-days stockpile.

    The one-year re-solves that rebuild a model (the value of a day of lead time, the cost of allowing a plant
    no exposure) are not made: a period's model alone would lose the links between periods.

    The re-solves change a row's or a column's bound on one LP, passed to HiGHS once; they are bounded by
    counts (``explain.PRICE_LIMIT`` per period, ``CANDIDATE_LIMIT``) and the model's size (``RESOLVE_BELOW``
    columns in the stitched model), never by time, as for one year."""
    import highspy  # noqa: PLC0415

    from planner.optimise.solve import run_interruptible  # noqa: PLC0415
    from planner.results.explain import (  # noqa: PLC0415
        CANDIDATE_LIMIT,
        PRICE_LIMIT,
        RESOLVE_BELOW,
        TOL,
        Priced,
        _usd,
        explain,
        fixed_lp,
        prices_to_win,
    )

    if result.x is None or plan.periods is None:
        return
    x, y = result.x, result.row_dual
    periods = hm.periods
    index = {t: k for k, t in enumerate(periods)}
    per = dict(plan.periods)
    priced = {t: Priced() for t in periods}
    started = starts_of(hm, x)
    for t, p in plan.periods:
        prod = p.production
        if len(prod):
            priced[t].capacity_value = {(r.site_id, r.product): float(r.capacity_value_usd_per_kg)
                                        for r in prod.itertuples(index=False)
                                        if not pd.isna(r.capacity_value_usd_per_kg)}
    if y is not None:
        _link_limits(hm, y, priced)

    # ---- prices to win and candidates, on the stitched LP with the integer decisions fixed
    todo: list[tuple] = []
    for b in hm.blocks:
        t, m, p = b.period, b.model, per[b.period]
        si = m.ship_info
        if si is None or not len(si):
            continue
        ship_cols = {k: (b.col0 + g.to_numpy(dtype=np.int64)) for k, g in si.groupby(["from_site", "product"])["col"]}
        f = p.flows
        shipped = set(zip(f.loc[f["tonnes"] > TOL, "from_site"], f.loc[f["tonnes"] > TOL, "product"], strict=True)) \
            if len(f) else set()
        use_col = {k[1]: b.col0 + j for j, k in enumerate(m.cols["key"].tolist()) if k[0] == "use"}
        mine = []
        for key in sorted(k for k in ship_cols if k not in shipped):
            s, q = key
            if s in hm.lead:
                t0 = started.get(s)
                if t0 is None:
                    continue  # not qualified: its net effect below
                ready = _usable_from(periods, t0, hm.lead[s])
                if index[t0] + hm.lead[s] > index[t]:
                    priced[t].reasons[key] = (f"qualifying: started in {t0}, usable from {ready} "
                                              f"({hm.lead[s]} period{'s' * (hm.lead[s] != 1)} to qualify)")
                    continue
            cap = float(m.net.supply.at[key, "capacity_t"]) if key in m.net.supply.index else 1.0
            eps, fixed = min(1.0, max(cap, 1e-6) / 2), []
            j = use_col.get(s)
            if j is not None and round(x[j]) < 1:
                mv = m.net.sites.at[s, "min_volume_t"]
                eps = max(eps, 0.0 if mv is None or pd.isna(mv) else float(mv))
                fixed = [(j, 1.0, 0.0)]
            mine.append(((t, s, q), ship_cols[key], eps, b.discount, fixed))
        if len(mine) > PRICE_LIMIT:
            priced[t].notes.append(f"Not evaluated: suppliers' price to win in {t}: {len(mine):,} suppliers are out "
                                   f"of the mix, more than the {PRICE_LIMIT:,} priced by re-solving")
        else:
            todo += mine
    closed = sorted(s for s in hm.lead if s not in started and (s, periods[0]) in hm.start)
    if hm.lp.n_cols > RESOLVE_BELOW:
        for t in periods:
            priced[t].notes.append(f"Not evaluated: suppliers' price to win and candidates' net effect: the model "
                                   f"over the periods has {hm.lp.n_cols:,} variables, more than the "
                                   f"{RESOLVE_BELOW:,} below which they are re-solved")
        todo, closed = [], []
    solved = fixed_lp(hm.lp, x) if todo or closed else None
    net_effect: dict[str, float | None] = {}
    if solved is not None:
        h, base = solved
        prices, blocked = prices_to_win(h, base, todo)
        for (t, s, q), v in prices.items():
            priced[t].prices[(s, q)] = v
        for t, s, q in blocked:
            priced[t].blocked.add((s, q))
        if len(closed) > CANDIDATE_LIMIT:
            priced[periods[0]].notes.append(
                f"Not evaluated: the net effect of qualifying {len(closed) - CANDIDATE_LIMIT:,} of {len(closed):,} "
                f"unqualified candidates (at most {CANDIDATE_LIMIT} are re-solved; the first by site id are)")
        for s in closed[:CANDIDATE_LIMIT]:
            if hm.lead[s] >= len(periods):
                continue
            on = [hm.start[(s, periods[0])]] + [
                b.col0 + j for b in hm.blocks[hm.lead[s]:]
                for j, k in enumerate(b.model.cols["key"].tolist()) if k == ("use", s)]
            for j in on:
                h.changeColBounds(j, 1.0, 1.0)
            run_interruptible(h)
            net_effect[s] = (h.getInfo().objective_function_value - base
                             if h.getModelStatus() == highspy.HighsModelStatus.kOptimal else None)
            for j in on:
                h.changeColBounds(j, 0.0, 0.0)
    # a candidate with no yes/no column in any period can never supply (no capacity, no route): the one-year
    # reasons say why
    for s in (s for s in hm.lead if s not in started and (s, periods[0]) in hm.start):
        fee = _usd(hm.qualification_cost[s])
        lead = hm.lead[s]
        if lead >= len(periods):
            why = (f"not qualified: qualifying it takes {lead} period{'s' * (lead != 1)}, so it could not supply "
                   f"within the horizon")
        elif s in net_effect and net_effect[s] is None:
            why = (f"not qualified: qualified in {periods[0]} it could not be used at its minimum volume in every "
                   f"period from {periods[lead]} within the plan's limits")
        elif s in net_effect:
            d = float(net_effect[s])  # type: ignore[arg-type]
            why = (f"not qualified: starting its qualification in {periods[0]} ({fee}; usable from "
                   f"{periods[lead]}) and using it from then would "
                   + (f"add {_usd(d)} to" if d >= 0 else f"save {_usd(-d)} of") + " the horizon's discounted total")
        else:
            why = f"not qualified (qualification {fee}, {lead} period{'s' * (lead != 1)})"
        sup = hm.inputs.supply
        for t in periods:
            for q in sup.loc[sup["site_id"] == s, "product"].unique():
                priced[t].reasons[(s, q)] = why
    for b in hm.blocks:
        t = b.period
        n = b.model.n_rows
        share = dataclasses.replace(
            result, objective=None, bound=None, x=x[b.col0:b.col0 + b.model.n_cols],
            row_dual=None if y is None else y[b.row0:b.row0 + n] / b.discount)
        per[t].explanation = explain(b.model, share, per[t], options, period=priced[t])


def _link_limits(hm: HorizonModel, y: np.ndarray, priced: dict) -> None:
    """The limits of the links between periods that bind in each period: contracts' bounds, stock capacity,
    cover days; duals of the stitched LP (integers fixed), undiscounted, per kg."""
    discount = {b.period: b.discount for b in hm.blocks}
    first = sum(b.model.n_rows for b in hm.blocks)
    rows = hm.lp.rows["key"].tolist()
    con = hm.inputs.contracts.reset_index(drop=True) if hm.inputs.contracts is not None else None
    for n in range(first, len(rows)):
        k = rows[n]
        if k[0] not in LINK_LIMITS or abs(y[n]) < 1e-6:
            continue
        t = k[1]
        d = float(y[n]) / discount[t] / 1000.0
        if k[0].startswith("contract"):
            assert con is not None
            r = con.loc[k[2]]
            where = (f"Contracts row {int(r['_row'])}: {r['site_id']} {r['product']} to "
                     f"{r['plant'] or 'any site'}")
            if d > 0:
                priced[t].limits.append({"limit": LINK_LIMITS[k[0]] + " minimum", "where": where, "value": d,
                                         "unit": "USD per kg more of the contracted minimum (its cost over the "
                                                 "cheapest mix)"})
            else:
                priced[t].limits.append({"limit": "contract maximum", "where": where, "value": -d,
                                         "unit": "USD saved per kg more of the contract's maximum"})
        elif k[0] == "stock_capacity":
            priced[t].limits.append({"limit": "stock capacity", "where": f"{k[2]} {k[3]}", "value": -d,
                                     "unit": "USD saved per extra kg of stock capacity at the period's close"})
        elif k[0] == "stock_cover":
            priced[t].limits.append({"limit": "cover days", "where": f"{k[2]} {k[3]}", "value": d,
                                     "unit": "USD per kg of the stockpile the cover days require"})
