"""Why the plan is what it is: suppliers in and out, the limits that bind, and findings in words (pure).

* **Price to win.** For a supplier not in the mix, the cost of making it ship a
  little, per kg, found by re-solving the plan's LP from its basis: how much
  cheaper per kg it would have to be to enter. (One-step reduced costs are not
  enough: a processor whose inputs sit idle has degenerate duals there.) A site with no lane that can
  meet a lead-time limit, a candidate not worth qualifying, or a site that
  cannot make or deliver its product is reported with that reason instead.
* **Binding limits.** Rows with a non-zero dual, in business units: one more
  kg/yr of capacity, one more point of allowed exposure or supplier share, one
  more tonne of demand. One more day of lead time is measured by re-solving
  (small models only), since a limit in days is not one row.
* **Findings.** Plain sentences built from those numbers for the front sheet.

For a MIP the duals come from the LP with the qualification decisions fixed, so
they price changes that keep the same suppliers qualified.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from planner.optimise.model import LinearModel
from planner.optimise.solve import SolveResult
from planner.results.report import Plan

RESOLVE_BELOW = 50_000  # columns: re-solve for lead-time values only on models this small
TOL = 1e-6
# The explanations are bounded by work, never by wall time, so that the same input gives the same workbook
# on any machine, loaded or not: at most this many re-solves of each kind (a re-solve of the reference case
# takes well under a second; these bounds keep a large case's explanations to minutes).
PRICE_LIMIT = 400  # suppliers priced by re-solve per plan; beyond that, "not evaluated"
CANDIDATE_LIMIT = 50  # unqualified candidates re-solved qualified
LEAD_TIME_LIMIT = 25  # plants whose next day of lead time is valued
ZERO_EXPOSURE_LIMIT = 25  # exposed plants re-solved with no exposure allowed
# Re-solves of a model this small (columns, and yes/no decisions) run in the calling thread: each is a
# millisecond's hot-started LP (or a few of them), so Ctrl-C waits no longer than that; handing each to a
# worker thread (planner.optimise.solve.run_interruptible) cost more than the re-solve itself on a loaded
# machine (the reference case's ~60 re-solves: 0.1-0.4 s in threads at a load of 2-3 on 2 cores, 6 ms here).
IN_THREAD_BELOW = 10_000
IN_THREAD_INTEGERS = 4


@dataclass
class Explanation:
    suppliers: pd.DataFrame
    limits: pd.DataFrame
    findings: list[str]
    notes: list[str] = field(default_factory=list)  # what was not evaluated, and why
    # the plan's tiers.by_country table the findings were written from (the workbook's Made where sheet reads
    # it instead of tracing again), and the sourcing frame it is of
    made_where: tuple[pd.DataFrame, pd.DataFrame] | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, object]:
        """Suppliers (price to win, value of capacity, why), binding limits and findings; NaN as null."""
        def records(f: pd.DataFrame, cols: list[str]) -> list[dict]:
            f = f[[c for c in cols if c in f.columns]] if len(f) else pd.DataFrame(columns=cols)
            return [{k: (None if isinstance(v, float) and v != v else v.item() if hasattr(v, "item") else v)
                     for k, v in r.items()} for r in f.to_dict("records")]

        return {"suppliers": records(self.suppliers, ["site_id", "product", "status", "in_mix", "made_t", "capacity_t",
                                                      "capacity_value_usd_per_kg", "price_to_win_usd_per_kg", "why"]),
                "limits": records(self.limits, ["limit", "where", "value", "unit"]),
                "findings": list(self.findings)}


@dataclass
class Priced:
    """What a period of a plan over periods brings to ``explain``, found on the horizon's model: prices to win
    (USD/kg, undiscounted), suppliers that cannot ship, the reason a supplier is out that takes precedence
    (a candidate not yet qualified), values of capacity that replace the capacity rows' duals (a reserved
    volume's row binds instead), limits of the links between periods, and notes."""

    prices: dict[tuple[str, str], float] = field(default_factory=dict)
    blocked: set[tuple[str, str]] = field(default_factory=set)
    reasons: dict[tuple[str, str], str] = field(default_factory=dict)
    capacity_value: dict[tuple[str, str], float] = field(default_factory=dict)
    limits: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _usd(v: float) -> str:
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:,.2f} bn USD"
    if a >= 1e6:
        return f"{v / 1e6:,.1f} M USD"
    if a >= 1e3:
        return f"{v / 1e3:,.0f} k USD"
    return f"{v:,.0f} USD"


def _resolve(h, integers: int = 0) -> None:  # noqa: ANN001 - a highspy.Highs holding a loaded model
    """Re-solve ``h`` (``integers``: its yes/no decisions): in this thread if it is small enough
    (``IN_THREAD_BELOW``), else in a worker thread that Ctrl-C can cancel. The same HiGHS calls either way."""
    if h.getNumCol() <= IN_THREAD_BELOW and integers <= IN_THREAD_INTEGERS:
        # no HandleUserInterrupt here: nothing can cancel a run in this thread, and setting it subscribes one
        # more Python callback that HiGHS calls at every interrupt check (highspy adds it again each time)
        h.run()
        return
    from planner.optimise.solve import run_interruptible  # noqa: PLC0415

    run_interruptible(h)


class _At:
    """``frame.at[label, column]`` as a mapping: what ``_lookup`` falls back on when labels repeat."""

    def __init__(self, frame: pd.DataFrame, column: str) -> None:
        self.frame, self.column = frame, column

    def __contains__(self, label: object) -> bool:
        return label in self.frame.index

    def __getitem__(self, label: object) -> object:
        return self.frame.at[label, self.column]


def _lookup(frame: pd.DataFrame, column: str) -> dict | _At:
    """``frame[column]`` by index label, as ``frame.at`` reads it, one dict for the whole column when the labels
    are unique (validated inputs' keys are): ``.at`` on a (site, product) index took 40-60 us a call, hundreds
    of calls an explanation."""
    if not frame.index.is_unique:
        return _At(frame, column)
    return dict(zip(frame.index.tolist(), frame[column].tolist(), strict=True))


def explain(model: LinearModel, result: SolveResult, plan: Plan, options=None,  # noqa: ANN001, C901
            period: Priced | None = None) -> Explanation:
    """Explain ``plan``. Re-solves are bounded by counts and model size (``*_LIMIT``, ``RESOLVE_BELOW``), never
    by time; what is left out is said in ``notes`` and on the Findings sheet.

    ``period``: a period of a plan over periods (planner.results.horizon.explain_horizon), with its prices and
    reasons found on the horizon's model; ``result.row_dual`` then holds that period's duals, undiscounted.
    No re-solve is made here for it: a re-solve of the period's model alone would drop the links between
    periods."""
    notes: list[str] = [] if period is None else list(period.notes)
    net, inputs = model.net, model.inputs
    y = result.row_dual
    sites = net.sites
    prod = plan.production.set_index(["site_id", "product"]) if len(plan.production) else pd.DataFrame()
    flows = plan.flows

    # ---- suppliers not in the mix: what it would take (re-solves on the plan's LP)
    ship_cols: dict[tuple[str, str], list[int]] = {}
    si = model.ship_info
    if si is not None and len(si):
        for (f, p), cols in si.groupby(["from_site", "product"], sort=False)["col"]:
            ship_cols[(f, p)] = sorted(int(j) for j in cols)
    shipped_now = {(r.from_site, r.product) for r in flows.itertuples(index=False) if r.tonnes > TOL} \
        if len(flows) else set()
    unused = [k for k in sorted(ship_cols) if k not in shipped_now]
    if period is None:
        prices, blocked, cand_delta, lp = _what_it_would_take(model, result, ship_cols, unused, plan, notes)
    else:
        prices, blocked, cand_delta, lp = period.prices, period.blocked, {}, None
    cap_dual = {}
    if y is not None:
        for i, k in enumerate(model.rows["key"]):
            if k[0] == "capacity":
                cap_dual[(k[1], k[2])] = -y[i] / 1000.0
    if period is not None:
        cap_dual.update(period.capacity_value)
    unusable = {}
    if net.warnings:
        pairs = list(zip(inputs.supply["site_id"].tolist(), inputs.supply["product"].tolist(), strict=True))
        for w in net.warnings:
            for (s, q) in pairs:
                if f" {s} cannot make {q}:" in w or f" {s}'s {q} cannot reach" in w:
                    unusable[(s, q)] = w.split(": ", 1)[1]
    customers_of: dict[tuple[str, str], str] = {}
    if len(flows):
        by = flows.groupby(["from_site", "product", "to_site"])["tonnes"].sum().reset_index()
        by = by.sort_values(["from_site", "product", "tonnes"], ascending=[True, True, False], kind="mergesort")
        for (fs, fp), g in by.groupby(["from_site", "product"], sort=False):
            customers_of[(fs, fp)] = ", ".join(f"{t} {v:,.0f} t" for t, v in zip(g["to_site"][:3], g["tonnes"][:3],
                                                                                  strict=True))
    rows = []
    made_of, shipped_of = (_lookup(prod, c) for c in ("made_t", "shipped_t")) if len(prod) else ({}, {})
    status_of, stage_of, country_of = (_lookup(sites, c) for c in ("status", "stage", "country"))
    for r in inputs.supply.itertuples(index=False):
        s, q = r.site_id, r.product
        made = float(made_of[(s, q)]) if (s, q) in made_of else 0.0
        shipped = float(shipped_of[(s, q)]) if (s, q) in shipped_of else 0.0
        cap = float(r.capacity_t)
        status = str(status_of[s]) if s in status_of else ""
        customers = customers_of.get((s, q), "")
        row = {"site_id": s, "product": q, "stage": stage_of[s], "country": country_of[s],
               "status": status, "in_mix": shipped > TOL, "made_t": made, "capacity_t": cap,
               "utilisation": made / cap if cap > 0 else 0.0, "supplies": customers,
               "capacity_value_usd_per_kg": cap_dual.get((s, q), 0.0), "price_to_win_usd_per_kg": None,
               "why": ""}
        if shipped <= TOL and period is not None and (s, q) in period.reasons:
            row["why"] = period.reasons[(s, q)]
        elif shipped > TOL:
            if cap_dual.get((s, q), 0.0) > TOL and made >= cap - 1e-6:
                row["why"] = (f"in the mix at full capacity: one more kg/yr here would save "
                              f"{cap_dual[(s, q)]:,.2f} USD")
            else:
                row["why"] = "in the mix"
        elif cap <= 0:
            row["why"] = "no capacity"
        elif (s, q) in unusable:
            row["why"] = unusable[(s, q)]
        elif (s, q) not in ship_cols:
            row["why"] = "every route from it is too slow for the plants' lead-time limits"
        elif s in cand_delta:
            qc = float(sites.at[s, "qualification_cost_usd"])
            delta = cand_delta[s]
            row["why"] = ("not qualified: qualifying it (" + _usd(qc) + ") would " +
                          (f"add {_usd(delta)} a year to the total" if delta >= 0 else
                           f"save {_usd(-delta)} a year") if delta is not None else
                          f"not qualified (qualification {_usd(qc)})")
        elif (s, q) in blocked:
            row["why"] = "cannot be used within the plan's limits (exposure caps, lead times or share caps)"
        elif (s, q) in prices:
            ptw = prices[(s, q)]
            row["price_to_win_usd_per_kg"] = ptw
            row["why"] = (f"too dear: it would enter {ptw:,.2f} USD/kg cheaper" if ptw > 0.005 else
                          "as cheap as the mix at the margin: it could enter at no extra cost")
        else:
            row["why"] = "not evaluated (the note at the end of Findings says why)" if notes else \
                "not evaluated (the re-solve did not finish optimal)"
        rows.append(row)
    suppliers = pd.DataFrame(rows)

    # ---- binding limits
    lim = []
    if y is not None:
        dem = inputs.demand.set_index(["site_id", "product"])
        ship_tot: dict[tuple, float] = {}
        if len(flows):
            st_map = sites["stage"].to_dict()
            for r in flows.itertuples(index=False):
                k = (st_map[r.from_site], r.product)
                ship_tot[k] = ship_tot.get(k, 0.0) + r.tonnes
        for i, k in enumerate(model.rows["key"]):
            dual = y[i]
            if abs(dual) < 1e-6:
                continue
            kind = k[0]
            if kind == "capacity":
                lim.append({"limit": "capacity", "where": f"{k[1]} {k[2]}", "value": -dual / 1000.0,
                            "unit": "USD per extra kg/yr of capacity"})
            elif kind == "exposure":
                qty = float(dem.at[(k[1], k[2]), "quantity_t"])
                lim.append({"limit": "exposure cap", "where": f"{k[1]} {k[2]}", "value": -dual * qty * 0.01,
                            "unit": "USD/yr per extra percentage point of allowed exposure", "_row": i, "_qty": qty})
            elif kind == "supplier_share":
                qty = float(dem.at[(k[1], k[2]), "quantity_t"])
                lim.append({"limit": "supplier share cap", "where": f"{k[1]} {k[2]} from {k[3]}",
                            "value": -dual * qty * 0.01, "unit": "USD/yr per extra percentage point"})
            elif kind == "country_share":
                tot = ship_tot.get((k[1], k[2]), 0.0)
                lim.append({"limit": "country share cap", "where": f"{k[1]} {k[2]} from {k[3]}",
                            "value": -dual * tot * 0.01, "unit": "USD/yr per extra percentage point"})
            elif kind == "demand":
                lim.append({"limit": "demand", "where": f"{k[1]} {k[2]}", "value": dual / 1000.0,
                            "unit": "USD per extra kg/yr delivered (marginal cost)"})
            elif kind == "min_volume":
                lim.append({"limit": "minimum volume", "where": k[1], "value": dual / 1000.0,
                            "unit": "USD per kg/yr less take-or-pay"})
    if period is None:
        lim = _loosened_caps(lim, model, result, lp)
        lim.extend(_lead_time_values(model, plan, options, notes))
        lim.extend(_zero_exposure_costs(model, plan, result, options, notes, lp))
    else:
        lim.extend(period.limits)
    limits = pd.DataFrame(lim, columns=["limit", "where", "value", "unit", "shortage_t"])
    if len(limits):
        limits = limits.sort_values(["limit", "value"], ascending=[True, False], kind="mergesort").reset_index(
            drop=True)
    missing = _unmakeable(model, plan)
    for w in missing.values():
        plan.warnings.append(w)
    from planner.results import tiers  # noqa: PLC0415

    table = tiers.by_country(plan.sourcing)
    found = findings(plan, suppliers, limits, net, missing, table)
    return Explanation(suppliers, limits, found + notes, notes, made_where=(plan.sourcing, table))


def _unmakeable(model: LinearModel, plan: Plan) -> dict[tuple[str, str], str]:
    """Demanded products no site makes, or no lane brings to the plant: usually a typo in Demand."""
    inputs, net = model.inputs, model.net
    made = sorted(set(inputs.supply["product"]))
    served = set(zip(net.lanes["to_site"], net.lanes["product"], strict=True)) if len(net.lanes) else set()
    out = {}
    for r in inputs.demand.itertuples(index=False):
        cell = f"Demand!B{int(r._row)}" if getattr(r, "_row", 0) else "Demand"
        if r.product not in made:
            import difflib  # noqa: PLC0415 - only for a product no site makes

            near = difflib.get_close_matches(r.product, made, n=1)
            hint = f' (did you mean "{near[0]}"?)' if near else ""
            out[(r.site_id, r.product)] = (f"{cell}: no site makes {r.product}, which {r.site_id} demands{hint}: "
                                           f"all {float(r.quantity_t):,.1f} t are short")
        elif (r.site_id, r.product) not in served:
            out[(r.site_id, r.product)] = (f"{cell}: no lane brings {r.product} to {r.site_id}: all "
                                           f"{float(r.quantity_t):,.1f} t are short (add a Lanes row)")
    return out


def fixed_lp(model: LinearModel, x: np.ndarray):  # noqa: ANN201
    """HiGHS holding ``model``'s LP with its integer decisions fixed at ``x``, solved, and its objective; or
    None if it does not solve to optimality. Re-solves change a bound on it and hot-start from its basis."""
    import highspy  # noqa: PLC0415

    from planner.input.data import SolveOptions  # noqa: PLC0415
    from planner.optimise.solve import _highs_lp, _new_highs, bound_by_work, run_interruptible  # noqa: PLC0415

    lo, hi = model.col_lo.copy(), model.col_hi.copy()
    ints = np.flatnonzero(model.integer)
    lo[ints] = hi[ints] = np.round(x[ints])
    lp_model = replace(model, integer=np.zeros_like(model.integer), col_lo=lo, col_hi=hi)
    h = _new_highs(SolveOptions())
    bound_by_work(h, lp_model)  # its prices go into the workbook: bounded by work, not by the clock
    h.passModel(_highs_lp(lp_model))
    run_interruptible(h)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return h, h.getInfo().objective_function_value


def prices_to_win(h, base: float, targets: list[tuple]) -> tuple[dict, set]:  # noqa: ANN001
    """Price to win by re-solving: ``targets`` are (key, ship columns, eps, scale, fixed) with ``fixed`` a list
    of (column, value, value after) held at value for that re-solve only. For each, one row "these columns
    ship at least eps" is added (at 0) and raised to eps in turn; the cost increase per kg, divided by
    ``scale`` (a period's discount factor: the objective counts a period's USD discounted), is how much
    cheaper per kg the supplier would have to be. Returns {key: USD/kg} and the keys that cannot ship at
    all (infeasible)."""
    import highspy  # noqa: PLC0415

    prices: dict = {}
    blocked: set = set()
    first_row = h.getNumRow()
    for _, cols, *_ in targets:
        cols = np.asarray(cols, dtype=np.int32)
        h.addRow(0.0, highspy.kHighsInf, len(cols), cols, np.ones(len(cols)))
    for i, (key, _, eps, scale, fixed) in enumerate(targets):
        r = first_row + i
        for j, v, _ in fixed:
            h.changeColBounds(j, v, v)
        h.changeRowBounds(r, eps, highspy.kHighsInf)
        _resolve(h)
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            prices[key] = max(h.getInfo().objective_function_value - base, 0.0) / eps / 1000.0 / scale
        elif status == highspy.HighsModelStatus.kInfeasible:
            blocked.add(key)
        h.changeRowBounds(r, 0.0, highspy.kHighsInf)
        for j, _, after in fixed:
            h.changeColBounds(j, after, after)
    return prices, blocked


def _what_it_would_take(model: LinearModel, result: SolveResult, ship_cols: dict, unused: list, plan: Plan,  # noqa: ANN001, ANN202
                        notes: list[str]):
    """Price to win per unused (site, product), those that cannot be used at all, candidates' net effect, and
    the HiGHS model they were re-solved on (or None).

    On the plan's LP (qualification decisions fixed at the plan's), one extra row
    per unused supplier, "ships at least 0", is added; each in turn is raised to
    a small epsilon and the model re-solved from the plan's basis: the cost
    increase per kg is exactly how much cheaper the supplier would have to be.
    An unqualified candidate is instead re-solved qualified (its yes/no fixed
    at 1, its qualification cost included).
    """
    import highspy  # noqa: PLC0415

    prices: dict[tuple, float] = {}
    blocked: set[tuple] = set()
    cand: dict[str, float | None] = {}
    if result.x is None:
        return prices, blocked, cand, None
    if model.n_cols > RESOLVE_BELOW:
        notes.append(f"Not evaluated: suppliers' price to win and candidates' net effect: the model has "
                     f"{model.n_cols:,} variables, more than the {RESOLVE_BELOW:,} below which they are re-solved")
        return prices, blocked, cand, None
    if len(unused) > PRICE_LIMIT:
        notes.append(f"Not evaluated: suppliers' price to win: {len(unused):,} suppliers are out of the mix, more "
                     f"than the {PRICE_LIMIT:,} priced by re-solving")
        return prices, blocked, cand, None
    x = result.x
    solved = fixed_lp(model, x)
    if solved is None:
        return prices, blocked, cand, None
    h, base = solved
    targets = []
    cap_of = _lookup(model.net.supply, "capacity_t")
    for key in unused:
        cap = float(cap_of[key]) if key in cap_of else 1.0
        targets.append((key, ship_cols[key], min(1.0, max(cap, 1e-6) / 2), 1.0, []))
    prices, blocked = prices_to_win(h, base, targets)
    # candidates not qualified: the plan with that one qualified (its fixed cost counted)
    use_col = {k[1]: j for j, k in enumerate(model.cols["key"]) if k[0] == "use"}
    closed = [(site, j) for site, j in sorted(use_col.items())
              if round(x[j]) < 1 and model.net.sites.at[site, "status"] == "candidate"]
    if len(closed) > CANDIDATE_LIMIT:
        notes.append(f"Not evaluated: the net effect of qualifying {len(closed) - CANDIDATE_LIMIT:,} of "
                     f"{len(closed):,} unqualified candidates (at most {CANDIDATE_LIMIT} are re-solved; the first "
                     "by site id are)")
    for site, j in closed[:CANDIDATE_LIMIT]:
        h.changeColBounds(j, 1.0, 1.0)
        _resolve(h)
        cand[site] = (h.getInfo().objective_function_value - base
                      if h.getModelStatus() == highspy.HighsModelStatus.kOptimal else None)
        h.changeColBounds(j, 0.0, 0.0)
    return prices, blocked, cand, h


def _cost_with_demand_cell(model: LinearModel, site: str, product: str, column: str, value: object,  # noqa: ANN001
                           options) -> float | None:
    """The total cost (as the plan reports it) with one Demand cell changed, or None if it is not solved to
    optimality. The network is built again: a lead-time limit moves the buckets, so the model's shape changes;
    of the plan only its cost is read."""
    from planner.optimise.model import build_model  # noqa: PLC0415
    from planner.optimise.solve import OPTIMAL, options_from, solve  # noqa: PLC0415
    from planner.results.report import plan_cost  # noqa: PLC0415

    inputs = model.inputs
    dem = inputs.demand.copy()
    dem.loc[(dem["site_id"] == site) & (dem["product"] == product), column] = value
    changed = build_model(replace(inputs, demand=dem))
    # only its cost is read: no fixed-LP duals after a MIP (the plan, x, is found before them and is the same)
    res = solve(changed, replace(options or options_from(inputs), verbose=False, duals=False))
    if res.status != OPTIMAL or res.x is None:
        return None
    return plan_cost(changed, res.x)[0]


def _lead_time_values(model: LinearModel, plan: Plan, options, notes: list[str]) -> list[dict]:  # noqa: ANN001
    """What one more day of each plant's lead-time limit is worth (re-solves; small models only)."""
    if not len(plan.plants):
        return []
    most = RESOLVE_BELOW // 5 if model.is_mip else RESOLVE_BELOW
    # only where the limit is reached or demand is short: elsewhere a day more changes nothing
    todo = [r for r in plan.plants[plan.plants["lead_time_limit_days"].notna()].itertuples(index=False)
            if r.shortage_t > TOL or (r.max_lead_time_days is not None
                                      and r.max_lead_time_days >= r.lead_time_limit_days)]
    if todo and model.n_cols > most:
        notes.append(f"Not evaluated: the value of a day of lead time: the model has {model.n_cols:,} variables, "
                     f"more than the {most:,} below which it is re-solved")
        return []
    if len(todo) > LEAD_TIME_LIMIT:
        notes.append(f"Not evaluated: the value of a day of lead time at {len(todo) - LEAD_TIME_LIMIT:,} of "
                     f"{len(todo):,} plants (at most {LEAD_TIME_LIMIT} are re-solved; the first in Demand order are)")
    out = []
    for r in todo[:LEAD_TIME_LIMIT]:
        total = _cost_with_demand_cell(model, r.site_id, r.product, "max_lead_time_days",
                                       int(r.lead_time_limit_days) + 1, options)
        saving = plan.summary["total_cost_usd"] - total if total is not None else 0.0
        if saving > 1.0:
            out.append({"limit": "lead time", "where": f"{r.site_id} {r.product}", "value": saving,
                        "unit": "USD/yr saved by one more day of allowed lead time"})
    return out


def _loosened_caps(lim: list[dict], model: LinearModel, result: SolveResult, lp) -> list[dict]:  # noqa: ANN001
    """The exposure caps' values, re-solved: a dual is one side's rate, and at a degenerate optimum a cap's
    dual can be far from zero while allowing one more point of exposure saves nothing (the bundled case's
    defence plant read 1.25 M USD a point, and dropping every cap changes nothing). Each binding cap is
    loosened by one percentage point of its plant's demand on the plan's LP (hot-started) and the value is
    what that saves; a cap that saves under 1 USD is not reported as binding."""
    import highspy  # noqa: PLC0415

    caps = [e for e in lim if e["limit"] == "exposure cap"]
    if not caps or result.x is None or model.n_cols > RESOLVE_BELOW:
        return lim
    h = lp if lp is not None else (fixed_lp(model, result.x) or (None,))[0]
    if h is None:
        return lim
    _resolve(h)  # at the plan's own bounds (the price re-solves left them as they were)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return lim
    base = h.getInfo().objective_function_value
    keep = []
    for e in lim:
        if e["limit"] != "exposure cap":
            keep.append(e)
            continue
        row = e["_row"]
        lo, hi = float(model.row_lo[row]), float(model.row_hi[row])
        h.changeRowBounds(row, lo, hi + 0.01 * e["_qty"])
        _resolve(h)
        ok = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        saved = base - h.getInfo().objective_function_value if ok else None
        h.changeRowBounds(row, lo, hi)
        if saved is None:
            keep.append(e)  # not re-solved: the dual's reading stands
        elif saved >= 1.0:
            keep.append({**e, "value": saved})
    return keep


def _zero_exposure_costs(model: LinearModel, plan: Plan, result: SolveResult, options, notes: list[str],  # noqa: ANN001
                         lp=None) -> list[dict]:  # noqa: ANN001
    """For each plant with exposed deliveries: the extra cost (and shortage) of allowing it none.

    Allowing a plant no exposure is its exposure row's bound at 0 (a row "its exposed deliveries <= 0" is added
    where its cap left it none), so the model is not built again: one HiGHS model is re-solved with that bound
    changed, plant by plant. An LP is re-solved on ``lp`` (``fixed_lp``'s HiGHS, at the plan's basis), so each
    re-solve hot-starts from it; a MIP is re-solved as a MIP, so that the qualification decisions may change
    as they would in a plan made with that cap."""
    import highspy  # noqa: PLC0415

    from planner.optimise.network import EXPOSED  # noqa: PLC0415
    from planner.optimise.solve import _highs_lp, _new_highs, limit_from_now, options_from  # noqa: PLC0415
    from planner.results.report import PlanCost  # noqa: PLC0415

    if not len(plan.plants) or result.x is None:
        return []
    todo = list(plan.plants[plan.plants["exposed_t"] > TOL].itertuples(index=False))
    if todo and model.n_cols > RESOLVE_BELOW:
        notes.append(f"Not evaluated: what allowing each exposed plant no exposure would cost: the model has "
                     f"{model.n_cols:,} variables, more than the {RESOLVE_BELOW:,} below which it is re-solved")
        return []
    if len(todo) > ZERO_EXPOSURE_LIMIT:
        notes.append(f"Not evaluated: the cost of no exposure at {len(todo) - ZERO_EXPOSURE_LIMIT:,} of {len(todo):,} "
                     f"exposed plants (at most {ZERO_EXPOSURE_LIMIT} are re-solved; the first in Demand order are)")
    todo = todo[:ZERO_EXPOSURE_LIMIT]
    if not todo:
        return []
    options = options or options_from(model.inputs)
    if model.is_mip:
        h = _new_highs(replace(options, verbose=False))
        h.passModel(_highs_lp(model))
    else:
        h = lp if lp is not None else (fixed_lp(model, result.x) or (None,))[0]
        if h is None:
            return []
    exposure_row = {k: i for i, k in enumerate(model.rows["key"].tolist()) if k[0] == "exposure"}
    si = model.ship_info
    exposed_in: dict[tuple[str, str], list[int]] = {}  # (plant, product) -> its exposed ship columns, in order
    for t, p, c, j in zip(si["to_site"].tolist(), si["product"].tolist(), si["arr_cls"].tolist(), si["col"].tolist(),
                          strict=True):
        if c & EXPOSED:
            exposed_in.setdefault((t, p), []).append(j)
    out = []
    cost = PlanCost(model)  # the model's tables read once for every plant's re-solve
    # (site, product) -> its row of Demand (the first, as a mask's .iloc[0] read it from the plants table)
    at = {(d, p): i for i, (d, p, _) in reversed(list(enumerate(cost.demand)))}
    for r in todo:
        row = exposure_row.get(("exposure", r.site_id, r.product))
        if row is None:  # no cap below 1 here: the row the model would have with one
            cols = np.asarray(exposed_in.get((r.site_id, r.product), []), dtype=np.int32)
            h.addRow(-highspy.kHighsInf, highspy.kHighsInf, len(cols), cols, np.ones(len(cols)))
            row, lo, hi = h.getNumRow() - 1, -highspy.kHighsInf, highspy.kHighsInf
        else:
            lo, hi = float(model.row_lo[row]), float(model.row_hi[row])
        h.changeRowBounds(row, lo, 0.0)
        if model.is_mip:  # the LP's HiGHS is bounded by work (``fixed_lp``); this one by the user's time limit
            limit_from_now(h, options.time_limit_s)
        _resolve(h, int(model.integer.sum()))
        optimal = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        x = np.asarray(h.getSolution().col_value, dtype=float)[:model.n_cols] if optimal else None
        h.changeRowBounds(row, lo, hi)
        if x is None:
            continue
        total, shortage = cost(x)
        out.append({"limit": "no exposure", "where": f"{r.site_id} {r.product}",
                    "value": total - plan.summary["total_cost_usd"],
                    "unit": "USD/yr to allow it no license-exposed supply",
                    "shortage_t": float(shortage[at[(r.site_id, r.product)]])})
    return out


def cost_sentence(summary: dict, parts: dict[str, float]) -> str:
    """'1.42 bn USD a year: 1.14 bn USD cash, 192.0 M USD expected license loss and 86.0 M USD shortage penalty'."""
    cash = sum(v for k, v in parts.items() if k not in ("shortage", "license_risk"))
    risk = parts.get("license_risk", 0.0)
    rw = float(summary.get("risk_weight", 1.0))
    loss = "expected license loss" if rw == 1 else f"expected license loss x risk_weight {rw:g}"
    return (f"{_usd(summary['total_cost_usd'])} a year: {_usd(cash)} cash (production, freight, duty, tariffs"
            f"{', qualification' if parts.get('qualification') else ''}), {_usd(risk)} {loss} and "
            f"{_usd(parts.get('shortage', 0.0))} shortage penalty")


def findings(plan: Plan, suppliers: pd.DataFrame, limits: pd.DataFrame, net,  # noqa: ANN001, C901
             missing: dict[tuple[str, str], str] | None = None, table: pd.DataFrame | None = None) -> list[str]:
    """The findings in words (``table``: ``tiers.by_country(plan.sourcing)``, if the caller has it)."""
    from planner.results import tiers  # noqa: PLC0415

    s = plan.summary
    out = []
    missing = missing or {}
    names = net.sites["name"].to_dict()

    def n(site: str) -> str:  # a manager reads names; the id is in every table
        return str(names.get(site, site))

    def nn(where: str) -> str:  # "SITE PRODUCT" -> "Name PRODUCT"
        site, _, rest = where.partition(" ")
        return f"{n(site)} {rest}".strip()

    parts = plan.cost_breakdown
    biggest = max(parts, key=lambda k: parts[k]) if parts else ""
    for text in missing.values():  # an input mistake first: it explains a shortage better than its price
        out.append(f"Check the input: {text}.")
    out.append(
        f"The plan costs {cost_sentence(s, parts)} ({s['shortage_t']:,.1f} t unmet), for "
        f"{s['delivered_t']:,.1f} t delivered of {s['demand_t']:,.1f} t needed; the largest part is "
        f"{biggest.replace('_', ' ')} ({_usd(parts.get(biggest, 0))})."
    )
    if table is None:
        table = tiers.by_country(plan.sourcing)
    if len(table):
        out.append(f"Made in China, of what is delivered: {tiers.headline(table)} ({tiers.METHOD}); exactly "
                   f"{100 * s['exposed_share']:.1f} % of delivered tonnes contain material that needs an export "
                   "license.")
    if s["exposed_t"] > TOL:
        out.append(
            f"{100 * s['exposed_share']:.1f} % of deliveries ({s['exposed_t']:,.0f} t) depend on an export license; "
            f"the expected license loss is {_usd(s['expected_license_loss_usd'])} a year."
        )
    else:
        out.append("No delivery depends on an export license.")
    p = plan.plants
    marginal = {r.where: r.value for r in limits[limits["limit"] == "demand"].itertuples(index=False)} \
        if len(limits) else {}
    for r in p[p["shortage_t"] > TOL].itertuples(index=False) if len(p) else []:
        if (r.site_id, r.product) in missing:
            continue
        text = (f"{n(r.site_id)} is short {r.shortage_t:,.1f} t of its {r.demand_t:,.1f} t of {r.product} "
                f"({100 * r.shortage_t / r.demand_t:.0f} %)")
        cost = marginal.get(f"{r.site_id} {r.product}")
        if cost is not None:
            text += (f": more supply would cost over {cost:,.0f} USD/kg, the shortage cost set for it "
                     "(raise Demand.shortage_cost_usd_per_kg to buy it anyway)")
        out.append(text + ".")
    zero = {r.where: r for r in limits[limits["limit"] == "no exposure"].itertuples(index=False)} \
        if len(limits) else {}
    f = plan.flows
    # only the suppliers whose lanes into a plant carry exposed tonnes: a clean one is not to blame
    exposed_from: dict[tuple, set] = {}
    if len(f):
        hot = f[f["exposed_t"] > TOL]
        for site, product, sender in zip(hot["to_site"], hot["product"], hot["from_site"], strict=True):
            exposed_from.setdefault((site, product), set()).add(sender)
    for r in p[p["exposed_t"] > TOL].itertuples(index=False) if len(p) else []:
        blamed = sorted(exposed_from.get((r.site_id, r.product), ()))
        text = (f"{n(r.site_id)}'s {r.exposed_t:,.0f} t of {r.product} are license-exposed "
                f"(from {', '.join(n(x) for x in blamed)})")
        z = zero.get(f"{r.site_id} {r.product}")
        if z is not None and abs(z.value) < 1.0 and z.shortage_t <= TOL:
            text += "; allowing it none would cost nothing more (an equally cheap clean supply exists)"
        elif z is not None:
            text += f"; allowing it none would cost {_usd(z.value)} a year more"
            if z.shortage_t > TOL:
                text += f" and leave {z.shortage_t:,.0f} t short"
        out.append(text + ".")
    caps = limits[(limits["limit"] == "capacity") & (limits["value"] >= 0.5)].sort_values(
        "value", ascending=False) if len(limits) else limits
    for r in caps.head(3).itertuples(index=False):
        site, product = r.where.split(" ", 1)
        sup = suppliers[(suppliers["site_id"] == site) & (suppliers["product"] == product)]
        cap = float(sup["capacity_t"].iloc[0]) if len(sup) else float("nan")
        out.append(f"{n(site)}'s {product} capacity ({cap:,.0f} t/yr) is a bottleneck: one more kg/yr would save "
                   f"{r.value:,.2f} USD.")
    lt = limits[limits["limit"] == "lead time"] if len(limits) else limits
    for r in lt.itertuples(index=False):
        out.append(f"One more day of allowed lead time at {nn(r.where)} would save {_usd(r.value)} a year.")
    exp = limits[limits["limit"] == "exposure cap"] if len(limits) else limits
    for r in exp.itertuples(index=False):
        out.append(f"The exposure cap binds at {nn(r.where)}: each extra point of allowed exposure would save "
                   f"{_usd(r.value)} a year.")
    cands = suppliers[suppliers["status"] == "candidate"] if len(suppliers) else suppliers
    used = sorted(set(cands.loc[cands["in_mix"], "site_id"]))
    if used:
        out.append("Qualify " + ", ".join(n(u) for u in used) + ": the plan uses "
                   + ("it." if len(used) == 1 else "them."))
    # "would win if it were 0.00 USD/kg cheaper" reads as nonsense: those are as cheap as the mix (Suppliers says so)
    close = suppliers[(~suppliers["in_mix"]) & (suppliers["price_to_win_usd_per_kg"].astype(float) > 0.005)] \
        if len(suppliers) else suppliers
    close = close.sort_values("price_to_win_usd_per_kg").head(3) if len(close) else close
    for r in close.itertuples(index=False):
        out.append(f"{n(r.site_id)} ({r.country}) would win {r.product} business if it were "
                   f"{r.price_to_win_usd_per_kg:,.2f} USD/kg cheaper.")
    return out
