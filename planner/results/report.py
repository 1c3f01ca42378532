"""From a solution to the tables a sourcing manager reads (pure pandas, no I/O).

Every number reported here is recomputed from the flows and the input tables:
costs from tonnes x the input's prices, exposure from the class each tonne
carries, lead time as the longest chain through the flows actually used. The
solver's objective is only compared against, never reported as such.
"""

from __future__ import annotations

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


def build_plan(model: LinearModel, result: SolveResult, detail: bool = True) -> Plan:
    """The plan's tables; ``detail=False`` leaves out the sourcing trace (batches compare without it)."""
    assert result.x is not None
    net, inputs = model.net, model.inputs
    st = inputs.settings
    risk_weight = float(st["risk_weight"])  # type: ignore[arg-type]
    x = np.where(np.abs(result.x) < TOL, 0.0, result.x)
    keys = model.cols["key"].tolist()
    sites = net.sites
    proc = sites["processing_days"].astype(int).to_dict()
    supply = net.supply

    # ---- class/bucket-level tables
    make_rows, ship_rows, down_rows, short_rows, use_rows = [], [], [], [], []
    for j, k in enumerate(keys):
        v = x[j]
        kind = k[0]
        if kind == "make":
            if v > 0:
                make_rows.append((*k[1:], v, j))
        elif kind == "ship":
            if v > 0:
                ship_rows.append((k[1], k[2], k[3], v, j))
        elif kind == "down":
            if v > 0:
                down_rows.append((*k[1:], v))
        elif kind == "short":
            short_rows.append((k[1], k[2], v))
        elif kind == "use":
            use_rows.append((k[1], round(v)))
    batches = pd.DataFrame(make_rows, columns=["site_id", "product", "cls", "bucket", "tonnes", "col"])
    si = model.ship_info.set_index("col")
    lanes = net.lanes
    ships = pd.DataFrame(ship_rows, columns=["lane", "cls", "bucket", "tonnes", "col"])
    if len(ships):
        info = si.loc[ships["col"]]
        ships["arr_cls"] = info["arr_cls"].to_numpy()
        ships["arr_bucket"] = info["arr_bucket"].to_numpy()
        ships["approval_days"] = info["days"].to_numpy()
        ships["loss_per_t"] = info["loss"].to_numpy()
        for c in ("from_site", "to_site", "product", "transit_days", "freight_usd_per_kg", "duty_usd_per_kg",
                  "tariff_pct", "sender_unit_cost", "lane_row"):
            ships[c] = lanes[c].to_numpy()[ships["lane"].to_numpy()]
    else:
        for c in ("arr_cls", "arr_bucket", "approval_days", "loss_per_t", "from_site", "to_site", "product",
                  "transit_days", "freight_usd_per_kg", "duty_usd_per_kg", "tariff_pct", "sender_unit_cost",
                  "lane_row"):
            ships[c] = []

    # ---- actual lead times: the longest chain through the flows used
    actual_make: dict[tuple, int] = {}
    actual_buf: dict[tuple, int] = {}
    arrivals_at: dict[tuple, list[int]] = {}
    ship_dep: list[tuple] = list(zip(ships["from_site"], ships["product"], ships["cls"], ships["bucket"], strict=True))
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
            arr = dep + int(ships.at[i, "transit_days"]) + int(ships.at[i, "approval_days"])
            ship_actual[i] = arr
            key = (ships.at[i, "to_site"], p, int(ships.at[i, "arr_cls"]), int(ships.at[i, "arr_bucket"]))
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
    ships["freight_usd"] = ships["tonnes"] * ships["freight_usd_per_kg"] * 1000.0
    ships["duty_usd"] = ships["tonnes"] * ships["duty_usd_per_kg"] * 1000.0
    ships["tariff_usd"] = ships["tonnes"] * ships["tariff_pct"] * ships["sender_unit_cost"] * 10.0
    ships["expected_loss_usd"] = ships["tonnes"] * ships["loss_per_t"]
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
    made = batches.groupby(["site_id", "product"])["tonnes"].sum() if len(batches) else pd.Series(dtype=float)
    shipped = ships.groupby(["from_site", "product"])["tonnes"].sum() if len(ships) else pd.Series(dtype=float)
    exposed_made = batches[batches["cls"].astype(int) & EXPOSED > 0].groupby(["site_id", "product"])["tonnes"].sum() \
        if len(batches) else pd.Series(dtype=float)
    duals = result.row_dual
    cap_rows = model.rows.index[model.rows["kind"] == "capacity"]
    cap_value = {}
    for r in cap_rows:
        k = model.rows.at[r, "key"]
        cap_value[(k[1], k[2])] = _clean(-duals[r]) / 1000.0 if duals is not None else float("nan")
    prod_rows = []
    for (s, q), r in supply.iterrows():
        m = float(made.get((s, q), 0.0))
        sh = float(shipped.get((s, q), 0.0))
        cap = float(r["capacity_t"])
        prod_rows.append({
            "site_id": s, "product": q, "stage": sites.at[s, "stage"], "company": sites.at[s, "company"],
            "country": sites.at[s, "country"], "made_t": _clean(m), "shipped_t": _clean(sh),
            "surplus_t": _clean(max(m - sh, 0.0)), "capacity_t": cap,
            "utilisation": _clean(m / cap) if cap > 0 else 0.0,
            "exposed_t": _clean(float(exposed_made.get((s, q), 0.0))),
            "unit_cost_usd_per_kg": float(r["unit_cost_usd_per_kg"]),
            "production_cost_usd": _clean(m * float(r["unit_cost_usd_per_kg"]) * 1000.0),
            "capacity_value_usd_per_kg": cap_value.get((s, q), 0.0),
        })
    production = pd.DataFrame(prod_rows)
    if production.empty:
        production = pd.DataFrame(columns=["site_id", "product", "made_t"])

    # ---- plants
    dem = net.demand.set_index(["site_id", "product"])
    short = {(a, b): v for a, b, v in short_rows}
    plant_rows = []
    into = ships[ships.set_index(["to_site", "product"]).index.isin(dem.index)] if len(ships) else ships
    for (d, p), r in inputs.demand.set_index(["site_id", "product"]).iterrows():
        g = into[(into["to_site"] == d) & (into["product"] == p)] if len(into) else into
        delivered = float(g["tonnes"].sum()) if len(g) else 0.0
        exposed = float(g["exposed_t"].sum()) if len(g) else 0.0
        qty = float(r["quantity_t"])
        lim = r["max_lead_time_days"]
        cap = r["max_exposed_share"]
        cap = float(st["max_exposed_share"]) if cap is None or pd.isna(cap) else float(cap)  # type: ignore[arg-type]
        plant_rows.append({
            "site_id": d, "product": p, "demand_t": qty, "delivered_t": _clean(delivered),
            "shortage_t": _clean(short.get((d, p), qty - delivered if (d, p) not in dem.index else 0.0)),
            "exposed_t": _clean(exposed), "exposed_share": _clean(exposed / delivered) if delivered > 0 else 0.0,
            "exposed_cap_share": cap,
            "max_lead_time_days": int(g["lead_time_days"].max()) if len(g) and delivered > 0 else None,
            "lead_time_limit_days": None if lim is None or pd.isna(lim) else int(lim),
            "suppliers": ", ".join(sorted(set(g.loc[g["tonnes"] > 0, "from_site"]))) if len(g) else "",
        })
    plants = pd.DataFrame(plant_rows)
    delivered_raw = (into.groupby(["to_site", "product"])["tonnes"].sum().to_dict() if len(into) else {})
    if len(plants):
        plants["shortage_t"] = [_clean(r.demand_t - r.delivered_t) if r.demand_t > 0 else 0.0
                                for r in plants.itertuples(index=False)]

    # ---- costs, recomputed
    dcost = {}
    for r in inputs.demand.itertuples(index=False):
        c = r.shortage_cost_usd_per_kg
        dcost[(r.site_id, r.product)] = float(st["shortage_cost_usd_per_kg"]) if c is None or pd.isna(c) else float(c)  # type: ignore[arg-type]
    used = {s for s, v in use_rows if v >= 1}
    used |= set(production.loc[production["made_t"] > 0, "site_id"]) if len(production) else set()
    cand = sites[sites["status"] == "candidate"]
    qual_cost = float(sum(float(cand.at[s, "qualification_cost_usd"]) for s in cand.index if s in used))
    expected_loss = float(ships["expected_loss_usd"].sum()) if len(ships) else 0.0
    parts = {
        "production": float(production["production_cost_usd"].sum()) if len(production) else 0.0,
        "freight": float(flows["freight_usd"].sum()),
        "duty": float(flows["duty_usd"].sum()),
        "tariff": float(flows["tariff_usd"].sum()),
        "qualification": qual_cost,
        # from unrounded tonnes: 1e-6 t of rounding at 10,000 USD/kg would show as dollars
        "shortage": float(sum(max(float(r.demand_t) - delivered_raw.get((r.site_id, r.product), 0.0), 0.0)
                              * dcost[(r.site_id, r.product)] * 1000.0
                              for r in plants.itertuples(index=False))) if len(plants) else 0.0,
        "license_risk": risk_weight * expected_loss,
    }
    parts = {k: round(v, 2) for k, v in parts.items()}
    total = round(sum(parts.values()), 2)

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

    candidates = pd.DataFrame([
        {"site_id": s, "name": cand.at[s, "name"], "stage": cand.at[s, "stage"], "country": cand.at[s, "country"],
         "used": s in used, "qualification_cost_usd": float(cand.at[s, "qualification_cost_usd"]),
         "output_t": _clean(float(made.groupby(level=0).sum().get(s, 0.0))) if len(made) else 0.0,
         "min_volume_t": float(cand.at[s, "min_volume_t"])}
        for s in cand.index
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
        moved = float(batches["tonnes"].sum() if len(batches) else 0) + float(ships["tonnes"].sum() if len(ships) else 0)
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
    sites = net.sites
    out = []
    for r in plants.itertuples(index=False):
        if r.delivered_t <= 0:
            continue
        need: dict[tuple[str, str], float] = {}
        tier: dict[tuple[str, str], int] = {}
        for f, t in recv.get((r.site_id, r.product), {}).items():
            need[(f, r.product)] = need.get((f, r.product), 0.0) + float(t)
            tier[(f, r.product)] = 1
        queue = sorted(need, key=lambda k: -rank[k[1]])
        done: set = set()
        while queue:
            queue.sort(key=lambda k: -rank[k[1]])
            key = queue.pop(0)
            if key in done:
                continue
            done.add(key)
            s, q = key
            amount = need[key]
            if (s, q) in net.joint:
                mains = net.joint[(s, q)]
                for m, ratio in mains:
                    if made.get((s, m), 0.0) > 0:
                        mk = (s, m)
                        need[mk] = need.get(mk, 0.0) + amount / ratio / len(mains)
                        tier[mk] = tier[key]
                        queue.append(mk)
                continue
            for inp, f in net.recipe.get((s, q), []):
                total_in = float(recv_tot.get((s, inp), 0.0))
                if total_in <= 0:
                    continue
                for sup, t in recv.get((s, inp), {}).items():
                    k2 = (sup, inp)
                    need[k2] = need.get(k2, 0.0) + amount * f * float(t) / total_in
                    tier[k2] = max(tier.get(k2, 0), tier[key] + 1)
                    queue.append(k2)
        by_prod: dict[str, float] = {}
        for (_site, q), v in need.items():
            by_prod[q] = by_prod.get(q, 0.0) + v
        for (s, q), v in need.items():
            if v <= TOL:
                continue
            out.append({
                "plant": r.site_id, "product": r.product, "tier": tier[(s, q)], "site_id": s,
                "stage": sites.at[s, "stage"], "company": sites.at[s, "company"], "country": sites.at[s, "country"],
                "supplies": q, "tonnes": _clean(v), "share": _clean(v / by_prod[q]) if by_prod[q] > 0 else 0.0,
            })
    res = pd.DataFrame(out, columns=cols)
    return res.sort_values(["plant", "product", "tier", "supplies", "tonnes"], ascending=[True, True, True, True, False],
                           kind="mergesort").reset_index(drop=True)
