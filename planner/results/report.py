"""From a solution to the tables a sourcing manager reads (pure pandas, no I/O).

Every number reported here is recomputed from the flows and the input tables:
costs from tonnes x the input's prices, exposure from the class each tonne
carries, lead time as the longest chain through the flows actually used. The
solver's objective is only compared against, never reported as such.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from planner.optimise.model import LinearModel
from planner.optimise.network import EXPOSED, INF, round_up
from planner.optimise.solve import SolveResult

TOL = 1e-7  # tonnes below this are noise from the solver's tolerances


@dataclass
class Plan:
    """A solved plan: summary figures and the tables of the recommendation."""

    status: str
    summary: dict[str, object]
    cost_breakdown: dict[str, float]
    plants: pd.DataFrame
    flows: pd.DataFrame
    sites: pd.DataFrame
    production: pd.DataFrame
    licenses: pd.DataFrame
    sourcing: pd.DataFrame
    candidates: pd.DataFrame
    batches: pd.DataFrame  # class/bucket-level production and shipments, for the independent checker
    shipments: pd.DataFrame
    run_info: dict[str, object] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    explanation: object = None  # planner.results.explain.Explanation, when computed
    # over a horizon (contract v2): each period's one-year plan, the qualification decisions and the roadmap;
    # the tables above then hold every period's rows with a ``period`` column, and the costs are discounted sums
    periods: list[tuple[str, Plan]] | None = None
    qualifications: pd.DataFrame | None = None
    roadmap: pd.DataFrame | None = None
    stock: pd.DataFrame | None = None  # plants' opening and closing stock per class and lead-time bound
    contracts: pd.DataFrame | None = None  # contracts in force per period: bounds, bought, take-or-pay paid
    reservations: pd.DataFrame | None = None  # reserved volumes per period: reserved, available, taken, fee
    contract_changes: pd.DataFrame | None = None  # moves away from the contracted mix (results.horizon)
    # against licence regimes (a Regimes sheet): this plan is the first regime's; ``regimes`` holds every
    # regime's plan and cost (planner.results.regimes.RegimeAnswer), ``regime_table`` one row per regime,
    # ``hedges`` the decisions taken because of some regimes
    regimes: object = None
    regime_table: pd.DataFrame | None = None
    hedges: pd.DataFrame | None = None
    regime_findings: list[str] | None = None

    def to_json(self) -> dict[str, object]:
        plants = [
            {
                "site_id": r.site_id,
                "product": r.product,
                "demand_t": r.demand_t,
                "delivered_t": r.delivered_t,
                "shortage_t": r.shortage_t,
                "exposed_t": r.exposed_t,
                "exposed_share": r.exposed_share,
                "max_lead_time_days": None if pd.isna(r.max_lead_time_days) else int(r.max_lead_time_days),
                "lead_time_limit_days": None if pd.isna(r.lead_time_limit_days) else int(r.lead_time_limit_days),
            }
            for r in self.plants.itertuples(index=False)
        ]
        s = self.summary
        return {
            "status": self.status,
            "total_cost_usd": s["total_cost_usd"],
            "cost_breakdown_usd": self.cost_breakdown,
            "shortage_t": s["shortage_t"],
            "delivered_t": s["delivered_t"],
            "exposed_t": s["exposed_t"],
            "exposed_share": s["exposed_share"],
            "expected_license_loss_usd": s["expected_license_loss_usd"],
            "gap": s["gap"],
            "best_bound_usd": s["best_bound_usd"],
            "solver": s["solver"],
            "solve_time_s": s["solve_time_s"],
            "plants": plants,
            "warnings": self.warnings,
            **({"discount_rate": s["discount_rate"],
                "qualifications": self.qualifications.to_dict("records"),
                **({"reservations": self.reservations.to_dict("records")}
                   if self.reservations is not None and len(self.reservations) else {}),
                **({"contract_changes": self.contract_changes.to_dict("records")}
                   if self.contract_changes is not None and len(self.contract_changes) else {}),
                "periods": [{"period": t, **{k: v for k, v in p.to_json().items() if k != "warnings"},
                             **({"explanation": p.explanation.to_json()} if p.explanation is not None else {})}
                            for t, p in self.periods]} if self.periods is not None else {}),
            **({"regimes": {
                "expected_cost_usd": s["expected_cost_usd"], "cvar_usd": s["cvar_usd"], "cvar_alpha": s["cvar_alpha"],
                "risk_aversion": s["risk_aversion"], "worst_regime": s["worst_regime"],
                "value_of_stochastic_solution_usd": s["value_of_stochastic_solution_usd"],
                "expected_value_of_perfect_information_usd": s["expected_value_of_perfect_information_usd"],
                "qualifications": self.qualifications.to_dict("records") if self.qualifications is not None else [],
                "by_regime": self.regime_table.to_dict("records"),
                "hedges": self.hedges.to_dict("records") if self.hedges is not None else [],
                "findings": self.regime_findings or []}} if self.regime_table is not None else {}),
        }


def _clean(v: float) -> float:
    """Round solver noise: 1e-6 t resolution, and no -0.0."""
    r = round(float(v), 6)
    return 0.0 if r == 0 else r


def _solution(model: LinearModel, x: np.ndarray) -> tuple[list, list, list, list, list]:
    """The nonzero make, ship and down columns (column order), every short and use column, as tuples."""
    kind = model.cols["kind"].to_numpy()
    keys = model.cols["key"].to_numpy()
    pos = x > 0

    def picked(name: str, nonzero: bool) -> tuple[list[int], list[tuple], list[float]]:
        idx = np.flatnonzero((kind == name) & pos) if nonzero else np.flatnonzero(kind == name)
        return idx.tolist(), keys[idx].tolist(), x[idx].tolist()

    j, k, v = picked("make", True)
    make_rows = [(*kk[1:], vv, jj) for jj, kk, vv in zip(j, k, v, strict=True)]
    j, k, v = picked("ship", True)
    ship_rows = [(kk[1], kk[2], kk[3], vv, jj) for jj, kk, vv in zip(j, k, v, strict=True)]
    _, k, v = picked("down", True)
    down_rows = [(*kk[1:], vv) for kk, vv in zip(k, v, strict=True)]
    _, k, v = picked("short", False)
    short_rows = [(kk[1], kk[2], vv) for kk, vv in zip(k, v, strict=True)]
    _, k, v = picked("use", False)
    use_rows = [(kk[1], round(vv)) for kk, vv in zip(k, v, strict=True)]
    return make_rows, ship_rows, down_rows, short_rows, use_rows


_SHIP_LANE_COLS = ("from_site", "to_site", "product", "transit_days", "freight_usd_per_kg", "duty_usd_per_kg",
                   "tariff_pct", "sender_unit_cost", "lane_row")


def _shipments(model: LinearModel, ship_rows: list) -> pd.DataFrame:
    """The ship columns used, with their arrival, approval days, expected loss and lane."""
    ships = pd.DataFrame(ship_rows, columns=["lane", "cls", "bucket", "tonnes", "col"])
    if len(ships):
        info = model.ship_info.set_index("col").loc[ships["col"]]
        ships["arr_cls"] = info["arr_cls"].to_numpy()
        ships["arr_bucket"] = info["arr_bucket"].to_numpy()
        ships["approval_days"] = info["days"].to_numpy()
        ships["loss_per_t"] = info["loss"].to_numpy()
        lanes = model.net.lanes
        for c in _SHIP_LANE_COLS:
            ships[c] = lanes[c].to_numpy()[ships["lane"].to_numpy()]
    else:
        for c in ("arr_cls", "arr_bucket", "approval_days", "loss_per_t", *_SHIP_LANE_COLS):
            ships[c] = []
    return ships


def _ship_money(ships: pd.DataFrame) -> None:
    ships["freight_usd"] = ships["tonnes"] * ships["freight_usd_per_kg"] * 1000.0
    ships["duty_usd"] = ships["tonnes"] * ships["duty_usd_per_kg"] * 1000.0
    ships["tariff_usd"] = ships["tonnes"] * ships["tariff_pct"] * ships["sender_unit_cost"] * 10.0
    ships["expected_loss_usd"] = ships["tonnes"] * ships["loss_per_t"]


def _production(model: LinearModel, batches: pd.DataFrame, ships: pd.DataFrame,
                duals: np.ndarray | None) -> tuple[pd.DataFrame, pd.Series]:
    """Per supply row: made, shipped, exposed, its cost and the value of its capacity; and made per (site,
    product)."""
    net = model.net
    sites, supply = net.sites, net.supply
    made = batches.groupby(["site_id", "product"])["tonnes"].sum() if len(batches) else pd.Series(dtype=float)
    shipped = ships.groupby(["from_site", "product"])["tonnes"].sum() if len(ships) else pd.Series(dtype=float)
    exposed_made = batches[batches["cls"].astype(int) & EXPOSED > 0].groupby(["site_id", "product"])["tonnes"].sum() \
        if len(batches) else pd.Series(dtype=float)
    cap_value = {}
    cap_rows = np.flatnonzero((model.rows["kind"] == "capacity").to_numpy())
    for r, k in zip(cap_rows.tolist(), model.rows["key"].to_numpy()[cap_rows].tolist(), strict=True):
        cap_value[(k[1], k[2])] = _clean(-duals[r]) / 1000.0 if duals is not None else float("nan")
    if not len(supply):
        return pd.DataFrame(columns=["site_id", "product", "made_t"]), made

    def per_supply(series: pd.Series) -> list[float]:
        return series.reindex(supply.index, fill_value=0.0).tolist() if len(series) else [0.0] * len(supply)

    keys = supply.index.tolist()
    site = [s for s, _ in keys]
    stage, company, country = (sites[c].reindex(site).tolist() for c in ("stage", "company", "country"))
    caps = supply["capacity_t"].astype(float).tolist()
    units = supply["unit_cost_usd_per_kg"].astype(float).tolist()
    prod_rows = []
    for i, (m, sh, ex) in enumerate(zip(per_supply(made), per_supply(shipped), per_supply(exposed_made),
                                        strict=True)):
        s, q = keys[i]
        m, sh, cap, unit = float(m), float(sh), caps[i], units[i]
        prod_rows.append({
            "site_id": s, "product": q, "stage": stage[i], "company": company[i],
            "country": country[i], "made_t": _clean(m), "shipped_t": _clean(sh),
            "surplus_t": _clean(max(m - sh, 0.0)), "capacity_t": cap,
            "utilisation": _clean(m / cap) if cap > 0 else 0.0,
            "exposed_t": _clean(float(ex)),
            "unit_cost_usd_per_kg": unit,
            "production_cost_usd": _clean(m * unit * 1000.0),
            "capacity_value_usd_per_kg": cap_value.get((s, q), 0.0),
        })
    return pd.DataFrame(prod_rows), made


def _plants(model: LinearModel, ships: pd.DataFrame, short_rows: list) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Per Demand row: delivered, short, exposed, lead time; the ships into plants; delivered per plant, unrounded."""
    net, inputs = model.net, model.inputs
    st = inputs.settings
    dem_index = net.demand.set_index(["site_id", "product"]).index
    short = {(a, b): v for a, b, v in short_rows}
    into = ships[ships.set_index(["to_site", "product"]).index.isin(dem_index)] if len(ships) else ships
    at: dict[tuple[str, str], list[int]] = {}
    for i, k in enumerate(zip(into["to_site"].tolist(), into["product"].tolist(), strict=True)):
        at.setdefault(k, []).append(i)
    tonnes, exposed_t = into["tonnes"].to_numpy(dtype=float), into["exposed_t"].to_numpy(dtype=float)
    lead, senders = into["lead_time_days"].to_numpy(), into["from_site"].to_numpy(dtype=object)
    plant_rows = []
    dem = inputs.demand
    for d, p, quantity, lim, cap in zip(*(dem[c].tolist() for c in (
            "site_id", "product", "quantity_t", "max_lead_time_days", "max_exposed_share")), strict=True):
        g = at.get((d, p), [])
        # sums of the plant's rows in ship order, as a masked frame's column sums them (the same floats)
        delivered = float(tonnes[g].sum()) if g else 0.0
        exposed = float(exposed_t[g].sum()) if g else 0.0
        qty = float(quantity)
        cap = float(st["max_exposed_share"]) if cap is None or pd.isna(cap) else float(cap)  # type: ignore[arg-type]
        plant_rows.append({
            "site_id": d, "product": p, "demand_t": qty, "delivered_t": _clean(delivered),
            "shortage_t": _clean(short.get((d, p), qty - delivered if (d, p) not in dem_index else 0.0)),
            "exposed_t": _clean(exposed), "exposed_share": _clean(exposed / delivered) if delivered > 0 else 0.0,
            "exposed_cap_share": cap,
            "max_lead_time_days": int(lead[g].max()) if g and delivered > 0 else None,
            "lead_time_limit_days": None if lim is None or pd.isna(lim) else int(lim),
            "suppliers": ", ".join(sorted({senders[i] for i in g if tonnes[i] > 0})),
        })
    plants = pd.DataFrame(plant_rows)
    delivered_raw = (into.groupby(["to_site", "product"])["tonnes"].sum().to_dict() if len(into) else {})
    if len(plants):
        plants["shortage_t"] = [_clean(d - v) if d > 0 else 0.0 for d, v in
                                zip(plants["demand_t"].tolist(), plants["delivered_t"].tolist(), strict=True)]
    return plants, into, delivered_raw


_MONEY = ("freight_usd", "duty_usd", "tariff_usd")


def _cost_parts(model: LinearModel, production: pd.DataFrame, money: pd.DataFrame, ships: pd.DataFrame,
                plants: pd.DataFrame, delivered_raw: dict, use_rows: list) -> tuple[dict[str, float], set, float]:
    """The cost parts (``money``: freight, duty and tariff per flow), the sites used, the expected loss."""
    inputs, sites = model.inputs, model.net.sites
    st = inputs.settings
    risk_weight = float(st["risk_weight"])  # type: ignore[arg-type]
    dcost = {}
    dem = inputs.demand
    for site, product, c in zip(dem["site_id"].tolist(), dem["product"].tolist(),
                                dem["shortage_cost_usd_per_kg"].tolist(), strict=True):
        dcost[(site, product)] = float(st["shortage_cost_usd_per_kg"]) if c is None or pd.isna(c) else float(c)  # type: ignore[arg-type]
    used = {s for s, v in use_rows if v >= 1}
    used |= set(production.loc[production["made_t"] > 0, "site_id"]) if len(production) else set()
    cand = sites[sites["status"] == "candidate"]
    qual_cost = float(sum(float(cand.at[s, "qualification_cost_usd"]) for s in cand.index if s in used))
    expected_loss = float(ships["expected_loss_usd"].sum()) if len(ships) else 0.0
    parts = {
        "production": float(production["production_cost_usd"].sum()) if len(production) else 0.0,
        "freight": float(money["freight_usd"].sum()),
        "duty": float(money["duty_usd"].sum()),
        "tariff": float(money["tariff_usd"].sum()),
        "qualification": qual_cost,
        # from unrounded tonnes: 1e-6 t of rounding at 10,000 USD/kg would show as dollars
        "shortage": float(sum(max(float(d) - delivered_raw.get((site, product), 0.0), 0.0)
                              * dcost[(site, product)] * 1000.0
                              for site, product, d in zip(plants["site_id"].tolist(), plants["product"].tolist(),
                                                          plants["demand_t"].tolist(), strict=True)))
        if len(plants) else 0.0,
        "license_risk": risk_weight * expected_loss,
    }
    return {k: round(v, 2) for k, v in parts.items()}, used, expected_loss


def _money_by_flow(ships: pd.DataFrame) -> pd.DataFrame:
    return ships.groupby(["from_site", "to_site", "product"], sort=True)[list(_MONEY)].sum() if len(ships) else \
        pd.DataFrame(columns=list(_MONEY), dtype=float)


def _group_sums(keys: list, values: list[float]) -> dict:
    """Per key, the sum of its values in row order, as pandas' groupby sum makes it (compensated summation,
    NaN skipped, a NaN compensation after an infinity reset): the same floats without a DataFrame."""
    total: dict = {}
    comp: dict = {}
    for k, v in zip(keys, values, strict=True):
        s = total.get(k, 0.0)
        if v != v:
            total[k] = s
            continue
        y = v - comp.get(k, 0.0)
        t = s + y
        c = t - s - y
        comp[k] = 0.0 if c != c else c
        total[k] = t
    return total


class PlanCost:
    """What ``build_plan`` reports as the total cost of a solution ``x`` of one model (the same figure, by the
    same arithmetic: the same products, pandas' group sums, numpy's sums over the same arrays in the same
    order), and each Demand row's shortage: for re-solves whose plan is read for its cost alone. The model's
    tables are read once; each call then costs about a millisecond instead of the tens of a pandas pass
    (``build_plan``'s DataFrames and groupbys), nine calls a run of the reference case's explanation."""

    def __init__(self, model: LinearModel) -> None:
        net, inputs = model.net, model.inputs
        st = inputs.settings
        kind = model.cols["kind"].to_numpy()
        keys = model.cols["key"].to_numpy()
        self.n = model.n_cols
        self.make = np.flatnonzero(kind == "make")
        self.make_key = {j: (k[1], k[2]) for j, k in zip(self.make.tolist(), keys[self.make].tolist(), strict=True)}
        self.use = np.flatnonzero(kind == "use")
        self.use_site = [k[1] for k in keys[self.use].tolist()]
        self.ship = np.flatnonzero(kind == "ship")
        n = self.n
        # per column (NaN off the ship columns): its lane's prices, indexed as x is
        lane = np.zeros(n, dtype=np.int64)
        lane[self.ship] = [k[1] for k in keys[self.ship].tolist()]
        lanes = net.lanes
        self.per_t: dict[str, np.ndarray] = {}
        for c in ("freight_usd_per_kg", "duty_usd_per_kg", "tariff_pct", "sender_unit_cost"):
            col = np.full(n, np.nan)
            col[self.ship] = lanes[c].to_numpy()[lane[self.ship]] if len(self.ship) else []
            self.per_t[c] = col
        self.loss = np.full(n, np.nan)
        self.loss[model.ship_info["col"].to_numpy(dtype=np.int64)] = model.ship_info["loss"].to_numpy(dtype=float)
        ends = [lanes[c].to_numpy(dtype=object) for c in ("from_site", "to_site", "product")]
        self.flow: dict[int, tuple] = {}
        self.into: dict[int, tuple] = {}  # ship column -> the (plant, product) of Demand it delivers to
        dem = inputs.demand
        self.demand = list(zip(dem["site_id"].tolist(), dem["product"].tolist(),
                               (float(q) for q in dem["quantity_t"].tolist()), strict=True))
        plants = set(zip(net.demand["site_id"].tolist(), net.demand["product"].tolist(), strict=True))
        for j, ln in zip(self.ship.tolist(), lane[self.ship].tolist(), strict=True):
            f, t, p = (e[ln] for e in ends)
            self.flow[j] = (f, t, p)
            if (t, p) in plants:
                self.into[j] = (t, p)
        self.dcost = {}
        for site, product, c in zip(dem["site_id"].tolist(), dem["product"].tolist(),
                                    dem["shortage_cost_usd_per_kg"].tolist(), strict=True):
            self.dcost[(site, product)] = float(st["shortage_cost_usd_per_kg"]) if c is None or pd.isna(c) \
                else float(c)  # type: ignore[arg-type]
        supply = net.supply
        self.supply = list(zip(supply.index.tolist(), supply["unit_cost_usd_per_kg"].astype(float).tolist(),
                               strict=True))
        sites = net.sites
        cand = sites[sites["status"] == "candidate"]
        self.candidates = list(zip(cand.index.tolist(), cand["qualification_cost_usd"].tolist(), strict=True))
        self.risk_weight = float(st["risk_weight"])  # type: ignore[arg-type]

    def __call__(self, x: np.ndarray) -> tuple[float, list[float]]:
        """The total cost of ``x`` and the shortage of each Demand row (``build_plan``'s plants table's)."""
        x = np.where(np.abs(x) < TOL, 0.0, x)
        pos = x > 0
        make = self.make[pos[self.make]].tolist()
        made = _group_sums([self.make_key[j] for j in make], x[make].tolist())
        used = {s for s, v in zip(self.use_site, x[self.use].tolist(), strict=True) if round(v) >= 1}
        production = []
        for key, unit in self.supply:
            m = float(made.get(key, 0.0))
            production.append(_clean(m * unit * 1000.0))
            if _clean(m) > 0:
                used.add(key[0])
        ship = self.ship[pos[self.ship]]
        tonnes = x[ship]
        per_t = {c: v[ship] for c, v in self.per_t.items()}
        money = {
            "freight": tonnes * per_t["freight_usd_per_kg"] * 1000.0,
            "duty": tonnes * per_t["duty_usd_per_kg"] * 1000.0,
            "tariff": tonnes * per_t["tariff_pct"] * per_t["sender_unit_cost"] * 10.0,
        }
        ships = ship.tolist()
        flows = [self.flow[j] for j in ships]
        by_flow = {k: _group_sums(flows, v.tolist()) for k, v in money.items()}
        order = sorted(by_flow["freight"])  # groupby's sorted groups
        expected_loss = float((tonnes * self.loss[ship]).sum()) if len(ships) else 0.0
        at: dict[tuple, list[int]] = {}
        for i, j in enumerate(ships):
            k = self.into.get(j)
            if k is not None:
                at.setdefault(k, []).append(i)
        raw = {}
        shortage = []
        for d, p, qty in self.demand:
            g = at.get((d, p), [])
            delivered = float(tonnes[g].sum()) if g else 0.0
            shortage.append(_clean(qty - _clean(delivered)) if qty > 0 else 0.0)
        for k, g in at.items():
            raw[k] = _group_sums([k] * len(g), tonnes[g].tolist())[k]
        parts = {
            "production": float(np.array(production, dtype=float).sum()) if self.supply else 0.0,
            **{k: float(np.array([by_flow[k][f] for f in order], dtype=float).sum()) for k in money},
            "qualification": float(sum(float(c) for s, c in self.candidates if s in used)),
            "shortage": float(sum(max(qty - raw.get((d, p), 0.0), 0.0) * self.dcost[(d, p)] * 1000.0
                                  for d, p, qty in self.demand)),
            "license_risk": self.risk_weight * expected_loss,
        }
        return round(sum(round(v, 2) for v in parts.values()), 2), shortage


def plan_cost(model: LinearModel, x: np.ndarray) -> tuple[float, list[float]]:
    """``PlanCost(model)(x)``: the total cost ``build_plan`` reports for ``x``, and each Demand row's shortage."""
    return PlanCost(model)(x)


def build_plan(model: LinearModel, result: SolveResult, detail: bool = True) -> Plan:
    """The plan's tables; ``detail=False`` leaves out the sourcing trace (batches compare without it)."""
    assert result.x is not None
    net = model.net
    st = model.inputs.settings
    risk_weight = float(st["risk_weight"])  # type: ignore[arg-type]
    x = np.where(np.abs(result.x) < TOL, 0.0, result.x)
    sites = net.sites
    proc = sites["processing_days"].astype(int).to_dict()

    # ---- class/bucket-level tables
    make_rows, ship_rows, down_rows, short_rows, use_rows = _solution(model, x)
    batches = pd.DataFrame(make_rows, columns=["site_id", "product", "cls", "bucket", "tonnes", "col"])
    ships = _shipments(model, ship_rows)

    # ---- actual lead times: the longest chain through the flows used
    actual_make: dict[tuple, int] = {}
    actual_buf: dict[tuple, int] = {}
    arrivals_at: dict[tuple, list[int]] = {}
    ship_dep: list[tuple] = list(zip(ships["from_site"], ships["product"], ships["cls"], ships["bucket"], strict=True))
    transit, approval = ships["transit_days"].tolist(), ships["approval_days"].tolist()
    ship_to, arr_cls, arr_bucket = ships["to_site"].tolist(), ships["arr_cls"].tolist(), ships["arr_bucket"].tolist()
    down_by_product: dict[tuple[str, str], list[tuple]] = {}
    for d in down_rows:
        down_by_product.setdefault((d[0], d[1]), []).append(d)
    make_by_sp: dict[tuple[str, str], list[tuple]] = {}
    for r in make_rows:
        make_by_sp.setdefault((r[0], r[1]), []).append(r)
    ships_by_product: dict[str, list[int]] = {}
    for i, p in enumerate(ships["product"]):
        ships_by_product.setdefault(p, []).append(i)
    ship_actual = np.zeros(len(ships), dtype=np.int64)
    for p in net.order:
        for (s, q), rows in sorted((k, v) for k, v in make_by_sp.items() if k[1] == p):
            for (_, _, cls, bk, _v, _j) in rows:
                if (s, q) in net.joint:
                    # only the main batches this coproduct batch comes from: same class (plus the
                    # coproduct's own origin flags) and a bound that rounds to this batch's bound
                    oc = net.origin.get((s, q), 0)
                    th = net.out_buckets.get((s, q), [])
                    src = [actual_make.get((s, m, mc, mb), 0) for m, _ in net.joint[(s, q)]
                           for (_, _, mc, mb, _v2, _j2) in make_by_sp.get((s, m), [])
                           if (mc | oc) == cls and round_up(mb, th) == bk]
                    a = max(src, default=proc[s])
                elif not net.recipe.get((s, q)):
                    a = proc[s]
                else:
                    need = bk - proc[s] if bk < INF else INF
                    a = proc[s] + max((actual_buf.get((s, inp, cls, need), 0) for inp, _ in net.recipe[(s, q)]),
                                      default=0)
                actual_make[(s, q, cls, bk)] = a
        for i in ships_by_product.get(p, []):
            f, _, cls, bk = ship_dep[i]
            dep = actual_make.get((f, p, cls, bk), proc[f])
            arr = dep + int(transit[i]) + int(approval[i])
            ship_actual[i] = arr
            key = (ship_to[i], p, int(arr_cls[i]), int(arr_bucket[i]))
            arrivals_at.setdefault(key, []).append(arr)
        # buffers of input p: arrivals, then carry-overs from cleaner classes / earlier buckets
        buf_keys = sorted({k for k in arrivals_at if k[1] == p}
                          | {(d[0], d[1], d[2], d[3]) for ds in down_by_product.values() for d in ds if d[1] == p}
                          | {(d[0], d[1], d[4], d[5]) for ds in down_by_product.values() for d in ds if d[1] == p},
                          key=lambda k: (k[0], k[3], bin(k[2]).count("1"), k[2]))
        for k in buf_keys:
            actual_buf[k] = max(arrivals_at.get(k, []), default=0)
        for (s, pp), ds in down_by_product.items():
            if pp != p:
                continue
            for d in sorted(ds, key=lambda d: (d[3], bin(d[2]).count("1"), d[5], bin(d[4]).count("1"))):
                src = (s, p, d[2], d[3])
                dst = (s, p, d[4], d[5])
                actual_buf[dst] = max(actual_buf.get(dst, 0), actual_buf.get(src, 0))
    ships["lead_time_days"] = ship_actual

    # ---- lane-level flows
    ships["exposed_t"] = np.where(ships["arr_cls"].astype(int) & EXPOSED, ships["tonnes"], 0.0) if len(ships) else []
    ships["is_event"] = [bool(net.lane_events.get((int(ln), int(c)))) for ln, c in zip(ships["lane"], ships["cls"],
                                                                                       strict=True)]
    _ship_money(ships)
    ships["licensed_t"] = np.where(ships["is_event"], ships["tonnes"], 0.0) if len(ships) else []
    content_cols = []
    for c in net.content_countries:
        col = f"{c}_content_t"
        ships[col] = np.where(ships["cls"].astype(int) & net.content_mask(c), ships["tonnes"], 0.0)
        content_cols.append(col)
    agg = {
        "tonnes": "sum", "exposed_t": "sum", "licensed_t": "sum", "freight_usd": "sum", "duty_usd": "sum",
        "tariff_usd": "sum", "expected_loss_usd": "sum", "lead_time_days": "max", "transit_days": "first",
        "approval_days": "max", "lane_row": "first",
        **{c: "sum" for c in content_cols},
    }
    flows = ships.groupby(["from_site", "to_site", "product"], sort=True).agg(agg).reset_index() if len(ships) else \
        pd.DataFrame(columns=["from_site", "to_site", "product", *agg])
    flows["cost_usd"] = flows["freight_usd"] + flows["duty_usd"] + flows["tariff_usd"]
    for col, side in (("from", "from_site"), ("to", "to_site")):
        flows[f"{col}_country"] = sites["country"].reindex(flows[side]).to_numpy()
    flows["from_company"] = sites["company"].reindex(flows["from_site"]).to_numpy()
    flows["from_stage"] = sites["stage"].reindex(flows["from_site"]).to_numpy()

    # ---- production per site and product
    production, made = _production(model, batches, ships, result.row_dual)

    # ---- plants
    plants, _, delivered_raw = _plants(model, ships, short_rows)

    # ---- costs, recomputed
    parts, used, expected_loss = _cost_parts(model, production, flows, ships, plants, delivered_raw, use_rows)
    total = round(sum(parts.values()), 2)
    cand = sites[sites["status"] == "candidate"]

    # ---- license events
    lic = ships[ships["is_event"]] if len(ships) else ships
    lic_rows = []
    for r in lic.itertuples(index=False):
        for e in net.lane_events.get((int(r.lane), int(r.cls)), []):
            lic_rows.append({
                "from_site": r.from_site, "to_site": r.to_site, "product": r.product, "license_of": e.country,
                "rule": "listed product" if e.kind == "listed" else "content rule", "tonnes": r.tonnes,
                "approval_probability": e.approval_probability, "approval_days": e.approval_days,
                "denial_cost_usd_per_kg": e.denial_cost_usd_per_kg,
                "expected_loss_usd": r.tonnes * 1000.0 * (1 - e.approval_probability) * e.denial_cost_usd_per_kg,
            })
    licenses = pd.DataFrame(lic_rows, columns=[
        "from_site", "to_site", "product", "license_of", "rule", "tonnes", "approval_probability", "approval_days",
        "denial_cost_usd_per_kg", "expected_loss_usd"])
    if len(licenses):
        licenses = licenses.groupby(["from_site", "to_site", "product", "license_of", "rule"], sort=True).agg(
            tonnes=("tonnes", "sum"), approval_probability=("approval_probability", "first"),
            approval_days=("approval_days", "first"), denial_cost_usd_per_kg=("denial_cost_usd_per_kg", "first"),
            expected_loss_usd=("expected_loss_usd", "sum")).reset_index()

    made_at = made.groupby(level=0).sum().to_dict() if len(made) and len(cand) else {}
    candidates = pd.DataFrame([
        {"site_id": s, "name": c.name, "stage": c.stage, "country": c.country,
         "used": s in used, "qualification_cost_usd": float(c.qualification_cost_usd),
         "output_t": _clean(float(made_at.get(s, 0.0))) if len(made) else 0.0,
         "min_volume_t": float(c.min_volume_t)}
        for s, c in zip(cand.index, cand.itertuples(index=False), strict=True)
    ], columns=["site_id", "name", "stage", "country", "used", "qualification_cost_usd", "output_t", "min_volume_t"])

    sourcing = _trace(net, ships, batches, plants) if detail else _trace(net, ships.iloc[0:0], batches, plants)

    delivered = float(plants["delivered_t"].sum()) if len(plants) else 0.0
    exposed_total = float(plants["exposed_t"].sum()) if len(plants) else 0.0
    summary = {
        "status": result.status,
        "total_cost_usd": total,
        "shortage_t": _clean(float(plants["shortage_t"].sum())) if len(plants) else 0.0,
        "demand_t": float(plants["demand_t"].sum()) if len(plants) else 0.0,
        "delivered_t": _clean(delivered),
        "exposed_t": _clean(exposed_total),
        "exposed_share": _clean(exposed_total / delivered) if delivered > 0 else 0.0,
        "expected_license_loss_usd": round(expected_loss, 2),
        "risk_weight": risk_weight,
        "gap": result.gap,
        "best_bound_usd": result.bound,
        "solver_objective_usd": result.objective,
        "solver": result.solver_version or result.solver,
        "solve_time_s": round(result.runtime_s, 3),
        "limit_hit": result.limit_hit,
    }
    warnings = []
    if result.objective is not None:
        # The solver's objective also holds the exposure tie-break (a few cents); anything
        # more is a modelling or solver error worth flagging.
        moved = (float(batches["tonnes"].sum() if len(batches) else 0)
                 + float(ships["tonnes"].sum() if len(ships) else 0))
        slack = 1e-6 * max(abs(total), 1.0) + 0.02 * moved + 1.0
        if abs(result.objective - total) > slack:
            warnings.append(
                f"recomputed cost {total:,.2f} differs from the solver's objective {result.objective:,.2f}"
            )
    return Plan(
        status=result.status, summary=summary, cost_breakdown=parts, plants=plants, flows=flows,
        sites=sites.reset_index(), production=production, licenses=licenses, sourcing=sourcing,
        candidates=candidates, batches=batches, shipments=ships, warnings=warnings,
    )


def _trace(net, ships: pd.DataFrame, batches: pd.DataFrame, plants: pd.DataFrame) -> pd.DataFrame:  # noqa: ANN001
    """Which upstream sites stand behind each plant's deliveries, in tonnes of what they supplied.

    Inputs are attributed in proportion to what each supplier delivered to the
    site (sites blend their receipts), so the tonnes are the material behind the
    delivery; a coproduct's upstream is the feed of the main product it came with.
    """
    cols = ["plant", "product", "tier", "site_id", "stage", "company", "country", "supplies", "tonnes", "share"]
    if not len(ships) or not len(plants):
        return pd.DataFrame(columns=cols)
    recv: dict[tuple[str, str], dict[str, float]] = {}
    for (t, p, f), v in ships.groupby(["to_site", "product", "from_site"])["tonnes"].sum().items():
        recv.setdefault((t, p), {})[f] = float(v)
    recv_tot = {k: sum(v.values()) for k, v in recv.items()}
    made = batches.groupby(["site_id", "product"])["tonnes"].sum().to_dict()
    rank = {p: i for i, p in enumerate(net.order)}
    stage_of, company_of, country_of = (net.sites[c].to_dict() for c in ("stage", "company", "country"))
    joint, recipe = net.joint, net.recipe
    out: dict[str, list] = {c: [] for c in cols}
    for plant, product, delivered in zip(plants["site_id"].tolist(), plants["product"].tolist(),
                                         plants["delivered_t"].tolist(), strict=True):
        if delivered <= 0:
            continue
        need: dict[tuple[str, str], float] = {}
        tier: dict[tuple[str, str], int] = {}
        for f, t in recv.get((plant, product), {}).items():
            need[(f, product)] = need.get((f, product), 0.0) + float(t)
            tier[(f, product)] = 1
        # the keys in order of product rank, downstream first, and in the order they were queued within a rank
        # (as a list sorted stably by rank before every pop would give them: a queued key comes after those
        # of its rank queued before it)
        queue = [(-rank[k[1]], i, k) for i, k in enumerate(need)]
        heapq.heapify(queue)
        seq = len(queue)
        done: set = set()
        while queue:
            key = heapq.heappop(queue)[2]
            if key in done:
                continue
            done.add(key)
            s, q = key
            amount = need[key]
            if key in joint:
                mains = joint[key]
                for m, ratio in mains:
                    if made.get((s, m), 0.0) > 0:
                        mk = (s, m)
                        need[mk] = need.get(mk, 0.0) + amount / ratio / len(mains)
                        tier[mk] = tier[key]
                        heapq.heappush(queue, (-rank[m], seq, mk))
                        seq += 1
                continue
            for inp, f in recipe.get(key, []):
                total_in = float(recv_tot.get((s, inp), 0.0))
                if total_in <= 0:
                    continue
                r_inp = -rank[inp]
                t_next = tier[key] + 1
                for sup, t in recv.get((s, inp), {}).items():
                    k2 = (sup, inp)
                    need[k2] = need.get(k2, 0.0) + amount * f * float(t) / total_in
                    tier[k2] = max(tier.get(k2, 0), t_next)
                    heapq.heappush(queue, (r_inp, seq, k2))
                    seq += 1
        by_prod: dict[str, float] = {}
        for (_site, q), v in need.items():
            by_prod[q] = by_prod.get(q, 0.0) + v
        for (s, q), v in need.items():
            if v <= TOL:
                continue
            out["plant"].append(plant)
            out["product"].append(product)
            out["tier"].append(tier[(s, q)])
            out["site_id"].append(s)
            out["stage"].append(stage_of[s])
            out["company"].append(company_of[s])
            out["country"].append(country_of[s])
            out["supplies"].append(q)
            out["tonnes"].append(_clean(v))
            out["share"].append(_clean(v / by_prod[q]) if by_prod[q] > 0 else 0.0)
    res = pd.DataFrame(out, columns=cols)
    return res.sort_values(["plant", "product", "tier", "supplies", "tonnes"],
                           ascending=[True, True, True, True, False], kind="mergesort").reset_index(drop=True)
