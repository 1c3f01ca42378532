"""An independent re-verification of a plan against the input tables.

Deliberately shares no code with ``network``, ``model`` or ``report``: lanes,
recipes and license events are re-derived here by brute force from the
validated tables, and every rule of the contract is checked on the plan's
flows. A plan passes only if every check holds; the result lists each failure.

What a plan must show for this to work is its batches (production per site,
product, exposure class and lead-time bound) and its shipments (per lane,
class and bound at departure). The class and bound are the plan's evidence
that blended material was kept apart where it had to be; the checker verifies
that such a separation exists (an allocation LP per site and input) instead of
trusting it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from planner.input.data import Inputs

ABS_TOL = 1e-5  # tonnes
REL_TOL = 1e-6
BIG = 10**9


@dataclass
class CheckResult:
    failures: list[str] = field(default_factory=list)
    recomputed: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures


def _close(a: float, b: float, scale: float = 1.0) -> bool:
    return abs(a - b) <= ABS_TOL + REL_TOL * max(abs(a), abs(b), scale)


def _matches(pattern: str, site: pd.Series) -> int | None:
    """Specificity rank of ``pattern`` for ``site``, or None if it does not match."""
    if pattern == "*":
        return 0
    if ":" in pattern:
        kind, _, value = pattern.partition(":")
        kind, value = kind.strip().lower(), value.strip()
        if kind == "stage":
            return 1 if site["stage"] == value.lower() else None
        if kind == "country":
            return 2 if site["country"] == value.upper() else None
        if kind == "company":
            return 3 if site["company"] == value else None
    return 4 if site["site_id"] == pattern else None


def governing_lane(inputs: Inputs, frm: str, to: str, product: str) -> pd.Series | None:
    sites = inputs.sites.set_index("site_id", drop=False)
    best, best_key = None, None
    for pos, lane in enumerate(inputs.lanes.itertuples(index=False)):
        if lane.product and lane.product != product:
            continue
        rf = _matches(lane.from_site, sites.loc[frm])
        rt = _matches(lane.to_site, sites.loc[to])
        if rf is None or rt is None:
            continue
        key = (1 if lane.product else 0, rf, rt, pos)
        if best_key is None or key > best_key:
            best_key, best = key, inputs.lanes.iloc[pos]
    return best


def _recipes(inputs: Inputs) -> tuple[dict, dict]:
    supply = inputs.supply[inputs.supply["capacity_t"] > 0]
    made = set(zip(supply["site_id"], supply["product"], strict=True))
    joint: dict[tuple[str, str], dict[str, float]] = {}
    for r in inputs.coproducts.itertuples(index=False):
        for s, q in made:
            if q == r.coproduct and (not r.site_id or r.site_id == s) and (s, r.product) in made:
                spec = joint.setdefault((s, q), {})
                if r.site_id or r.product not in spec:
                    spec[r.product] = float(r.coproduct_t_per_t)
    recipe: dict[tuple[str, str], dict[str, float]] = {}
    for s, q in made:
        if (s, q) in joint:
            continue
        rows = inputs.recipes[(inputs.recipes["product"] == q) & (inputs.recipes["site_id"] == s)]
        if rows.empty:
            rows = inputs.recipes[(inputs.recipes["product"] == q) & (inputs.recipes["site_id"] == "")]
        recipe[(s, q)] = {r.input: float(r.input_t_per_t) for r in rows.itertuples(index=False)}
    return recipe, joint


def _feasible_allocation(supplies: list[tuple[object, float]], demands: list[tuple[object, float]], ok) -> bool:  # noqa: ANN001
    """Can every demand be met from the supplies using only pairs with ok(supply_key, demand_key)?"""
    need = sum(v for _, v in demands)
    if need <= ABS_TOL:
        return True
    import highspy  # noqa: PLC0415

    pairs = [(i, j) for i, (a, _) in enumerate(supplies) for j, (b, _) in enumerate(demands) if ok(a, b)]
    if not pairs:
        return False
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    n = len(pairs)
    inf = highspy.kHighsInf
    h.addVars(n, np.zeros(n), np.full(n, inf))
    for i, (_, v) in enumerate(supplies):
        idx = [k for k, (a, _) in enumerate(pairs) if a == i]
        if idx:
            h.addRow(-inf, v + ABS_TOL + REL_TOL * v, len(idx), np.array(idx, dtype=np.int32), np.ones(len(idx)))
    for j, (_, v) in enumerate(demands):
        idx = [k for k, (_, b) in enumerate(pairs) if b == j]
        lo = v - ABS_TOL - REL_TOL * v
        if not idx:
            if lo > 0:
                return False
            continue
        h.addRow(lo, inf, len(idx), np.array(idx, dtype=np.int32), np.ones(len(idx)))
    h.run()
    return h.getModelStatus() == highspy.HighsModelStatus.kOptimal


def check_plan(inputs: Inputs, plan, qualification_usd: float | None = None,  # noqa: ANN001, C901
               plant_stock: pd.DataFrame | None = None, extra_parts: dict[str, float] | None = None) -> CheckResult:
    """Re-verify ``plan`` (a ``report.Plan``) against ``inputs``, one place for every rule.

    ``plant_stock`` (a period of a horizon): the plants' opening and closing stock by exposure and the
    lead-time bound it arrived with; a plant then uses what arrives plus opening less closing stock.
    ``extra_parts``: cost parts decided over the horizon (holding stock, take-or-pay), checked by
    ``check_horizon``, that this period's total holds.
    ``qualification_usd``: what this plan pays for qualification, when that is decided outside it (a
    period of a horizon pays for the qualifications started in it, checked by ``check_horizon``); by
    default, the fees of the candidates it uses.
    """
    res = CheckResult()
    fail = res.failures.append
    st = inputs.settings
    sites = inputs.sites.set_index("site_id")
    country, company, stage = sites["country"].to_dict(), sites["company"].to_dict(), sites["stage"].to_dict()
    proc = sites["processing_days"].astype(int).to_dict()
    supply = inputs.supply.set_index(["site_id", "product"])
    recipe, joint = _recipes(inputs)
    batches = plan.batches
    ships = plan.shipments
    default_denial = float(st["denial_cost_usd_per_kg"])

    ctrl = inputs.controls
    for c in ("destination", "exporter_company", "end_use"):
        if c not in ctrl:
            ctrl = ctrl.assign(**{c: ""})
    ctrl = ctrl.assign(**{c: ctrl[c].fillna("").astype(str) for c in ("destination", "exporter_company", "end_use")})
    everywhere = (ctrl["destination"] == "") & (ctrl["exporter_company"] == "") & (ctrl["end_use"] == "")

    def control(c: str, p: str, to_country: str | None = None, exporter: str = "", use: str = "") -> pd.Series | None:
        """The governing Controls row: among the rows of country ``c`` that apply (product ``p`` or ``*``;
        destination blank or ``to_country``; exporter company blank or ``exporter``; end use blank or ``use``),
        the one with a named exporter company, then a destination, then an end use, then a named product, then
        the later row. ``to_country`` None: among the rows for every route only (content-rule membership)."""
        m = ctrl[(ctrl["country"] == c) & ctrl["product"].isin([p, "*"])]
        if to_country is None:
            m = m[everywhere[m.index]]
        else:
            m = m[m["destination"].isin(["", to_country]) & m["exporter_company"].isin(["", exporter])
                  & m["end_use"].isin(["", use])]
        if m.empty:
            return None
        rank = pd.DataFrame({"e": m["exporter_company"] != "", "d": m["destination"] != "", "u": m["end_use"] != "",
                             "p": m["product"] != "*", "r": m["_row"]})
        best = rank.sort_values(["e", "d", "u", "p", "r"], kind="mergesort").index[-1]
        return m.loc[best]

    def denial(row: pd.Series) -> float:
        v = row["denial_cost_usd_per_kg"]
        return default_denial if v is None or pd.isna(v) else float(v)

    # Content-rule flags, as the plan's classes carry them: bit 0 exposed, then one bit per group of one
    # country's content-rule rows with equal (approval probability, approval days, denial cost), groups
    # sorted by country and then those parameters. A licence takes the strictest parameters among the
    # groups whose material the shipment carries, so the flags say which controlled material is in it.
    def params(row: pd.Series) -> tuple[str, float, int, float]:
        return (row["country"], float(row["approval_probability"]), int(row["approval_days"]), denial(row))

    content_rows = ctrl[ctrl["content_rule"].astype(bool)]
    groups = sorted({params(r) for _, r in content_rows.iterrows()})
    bit = {g: 1 << (i + 1) for i, g in enumerate(groups)}
    content_countries = sorted({g[0] for g in groups})
    # End use: with rows naming an end use and plants of both end uses, the classes carry one more flag each,
    # civil then military after the content flags, and every batch and shipment exactly one of them: the end
    # use of the plant its material ends up at. Otherwise every shipment has the one end use of the plants.
    uses = sorted(set(inputs.demand.loc[inputs.demand["quantity_t"] > 0, "end_use"])) \
        if "end_use" in inputs.demand else []
    use_flag = {"civil": 1 << (1 + len(groups)), "military": 1 << (2 + len(groups))} \
        if (ctrl["end_use"] != "").any() and len(uses) == 2 else {}
    use_mask = sum(use_flag.values())
    one_use = uses[0] if len(uses) == 1 else "civil"

    def end_use(cls: int) -> str | None:
        if not use_flag:
            return one_use
        found = [u for u, b in use_flag.items() if cls & b]
        return found[0] if len(found) == 1 else None

    def origin_flag(s: str, q: str) -> int:
        row = control(country[s], q)
        return bit[params(row)] if row is not None and bool(row["content_rule"]) else 0

    def events(frm: str, to: str, p: str, cls: int) -> list[tuple[float, int, float]]:
        """(approval probability, approval days, denial cost) of each license the shipment needs."""
        if country[frm] == country[to]:
            return []
        out = []
        own = control(country[frm], p, country[to], company[frm], end_use(cls) or "")
        if own is not None:
            out.append((float(own["approval_probability"]), int(own["approval_days"]), denial(own)))
        for c in content_countries:
            carried = [g for g in groups if g[0] == c and cls & bit[g]]
            if carried and c != country[frm]:
                out.append((min(g[1] for g in carried), max(g[2] for g in carried), max(g[3] for g in carried)))
        return out

    # ---- lanes, costs and arrival classes, recomputed
    lane_cache: dict[tuple[str, str, str], pd.Series | None] = {}
    rec = []
    for r in ships.itertuples(index=False):
        key = (r.from_site, r.to_site, r.product)
        if key not in lane_cache:
            lane_cache[key] = governing_lane(inputs, *key)
        lane = lane_cache[key]
        if lane is None:
            fail(f"shipment {key} has no lane in the Lanes sheet")
            continue
        if r.from_site == r.to_site and (lane["from_site"] != r.from_site or lane["to_site"] != r.to_site):
            fail(f"shipment {key} goes from a site to itself on a group lane (only a row naming the site twice may)")
        if (r.from_site, r.product) not in supply.index:
            fail(f"{r.from_site} ships {r.product} but has no Supply row for it")
        if use_flag and end_use(int(r.cls)) is None:
            fail(f"shipment {key} of class {int(r.cls)} is not labelled with exactly one end use")
        ev = events(r.from_site, r.to_site, r.product, int(r.cls))
        if any(e[0] <= 0 for e in ev):
            fail(f"shipment {key} crosses a banned route (a Controls row with approval_probability 0 governs it)")
        arr_cls = int(r.cls) | 1 if ev else int(r.cls)
        days = sum(e[1] for e in ev)
        loss = r.tonnes * 1000.0 * sum((1 - e[0]) * e[2] for e in ev)
        unit = float(supply.at[(r.from_site, r.product), "unit_cost_usd_per_kg"])
        rec.append({
            "from_site": r.from_site, "to_site": r.to_site, "product": r.product, "cls": int(r.cls),
            "bucket": int(r.bucket), "tonnes": float(r.tonnes), "arr_cls": arr_cls,
            "arr_elapsed": BIG if r.bucket >= BIG else int(r.bucket) + int(lane["transit_days"]) + days,
            "freight": r.tonnes * 1000.0 * float(lane["freight_usd_per_kg"]),
            "duty": r.tonnes * 1000.0 * float(lane["duty_usd_per_kg"]),
            "tariff": r.tonnes * 10.0 * float(lane["tariff_pct"]) * unit, "loss": loss,
        })
    sh = pd.DataFrame(rec, columns=["from_site", "to_site", "product", "cls", "bucket", "tonnes", "arr_cls",
                                    "arr_elapsed", "freight", "duty", "tariff", "loss"])

    # ---- production within capacity; shipments leave from batches that exist
    made = batches.groupby(["site_id", "product"])["tonnes"].sum() if len(batches) else pd.Series(dtype=float)
    for (s, q), v in made.items():
        if (s, q) not in supply.index:
            fail(f"{s} makes {q} without a Supply row")
            continue
        cap = float(supply.at[(s, q), "capacity_t"])
        if v > cap + ABS_TOL + REL_TOL * cap:
            fail(f"{s} makes {v:.6f} t of {q}, above its capacity {cap:g} t")
    bat = batches.groupby(["site_id", "product", "cls", "bucket"])["tonnes"].sum() if len(batches) else pd.Series(
        dtype=float)
    out = sh.groupby(["from_site", "product", "cls", "bucket"])["tonnes"].sum() if len(sh) else pd.Series(dtype=float)
    for k, v in out.items():
        if v > bat.get(k, 0.0) + ABS_TOL + REL_TOL * v:
            fail(f"{k[0]} ships {v:.6f} t of {k[1]} (class {k[2]}, by day {k[3]}) but made {bat.get(k, 0.0):.6f} t")

    # ---- raw and joint batches: classes and time bounds
    for (s, q, cls, bk), v in bat.items():
        if v <= ABS_TOL:
            continue
        orig = origin_flag(s, q)
        if cls & orig != orig:
            fail(f"{s} {q}: batch of class {cls} lacks its own country's content flag")
        if (s, q) in recipe and not recipe[(s, q)] and bk < proc[s]:
            fail(f"{s} {q}: raw material bounded by day {bk}, below its processing time {proc[s]}")
        if (s, q) in recipe and not recipe[(s, q)] and cls & 1:
            fail(f"{s} {q}: raw material marked exposed before any shipment")
        if use_flag and end_use(int(cls)) is None:
            fail(f"{s} {q}: batch of class {cls} is not labelled with exactly one end use")
    for (s, c), mains in joint.items():
        cb = [((cls, bk), v) for (ss, qq, cls, bk), v in bat.items() if ss == s and qq == c and v > ABS_TOL]
        if not cb:
            continue
        mb = [((m, cls, bk), v * mains[m]) for (ss, m, cls, bk), v in bat.items() if ss == s and m in mains]
        orig = origin_flag(s, c)
        if not _feasible_allocation(mb, cb, lambda a, b, orig=orig: (a[1] | orig) == b[0] and a[2] <= b[1]):
            fail(f"{s}: coproduct {c} exceeds what its main products' batches yield")

    # ---- input balance per site and input; blends and waiting are feasible
    arrivals = sh.groupby(["to_site", "product"]) if len(sh) else None
    plants = set(zip(inputs.demand["site_id"], inputs.demand["product"], strict=True))
    needs: dict[tuple[str, str], list] = {}
    for (s, q, cls, bk), v in bat.items():
        for inp, f in recipe.get((s, q), {}).items():
            needs.setdefault((s, inp), []).append(((cls, bk), v * f))
    # an input held in stock at a site (a period of a horizon): the opening stock arrives, by the class and
    # bound it was stocked with; the closing stock is kept back, like a batch with no processing time
    held: dict[tuple[str, str], pd.DataFrame] = {}
    if plant_stock is not None and len(plant_stock):
        held = {k: g for k, g in plant_stock.groupby(["site_id", "product"]) if k not in plants}
    keys = set(needs) | ({k for k in arrivals.groups} if arrivals is not None else set()) | set(held)
    for (s, p) in sorted(keys):
        if (s, p) in plants:
            continue
        arr = arrivals.get_group((s, p)) if arrivals is not None and (s, p) in arrivals.groups else sh.iloc[0:0]
        sup = [((int(r.arr_cls), int(r.arr_elapsed)), float(r.tonnes)) for r in arr.itertuples(index=False)]
        need = [((*k, proc[s]), v) for k, v in needs.get((s, p), [])]
        if (s, p) in held:
            g = held[(s, p)]
            sup += [((int(r.cls), int(r.bound_days)), float(r.opening_t)) for r in g.itertuples(index=False)
                    if r.opening_t > 0]
            need += [((int(r.cls), int(r.bound_days), 0), float(r.closing_t)) for r in g.itertuples(index=False)
                     if r.closing_t > 0]
        got = sum(v for _, v in sup)
        total_need = sum(v for _, v in need)
        if not _close(got, total_need):
            fail(f"{s} receives {got:.6f} t of {p} (with its opening stock) but its production and closing stock "
                 f"need {total_need:.6f} t")
            continue

        def ok(a: tuple[int, int], b: tuple[int, int, int]) -> bool:
            return (a[0] & b[0]) == a[0] and (b[1] >= BIG or a[1] + b[2] <= b[1])

        if not _feasible_allocation(sup, need, ok):
            fail(f"{s}: the {p} it receives cannot feed its batches without making a clean batch from exposed "
                 f"input, or a batch finish before its input arrives")

    # ---- demand, exposure caps, lead-time limits, supplier shares
    allow = bool(st["allow_shortage"])
    exposed_total = 0.0
    delivered_total = 0.0
    shortage_cost = 0.0
    for r in inputs.demand.itertuples(index=False):
        g = sh[(sh["to_site"] == r.site_id) & (sh["product"] == r.product)] if len(sh) else sh
        delivered = float(g["tonnes"].sum())
        qty = float(r.quantity_t)
        exposed = float(g.loc[g["arr_cls"] & 1 > 0, "tonnes"].sum()) if len(g) else 0.0
        lim_days = r.max_lead_time_days
        lim_days = BIG if lim_days is None or pd.isna(lim_days) else int(lim_days)
        if plant_stock is not None and len(plant_stock):
            ps = plant_stock[(plant_stock["site_id"] == r.site_id) & (plant_stock["product"] == r.product)]
            ok = ps["bound_days"] <= lim_days
            for flag in (False, True):  # what is used of clean, and of exposed, material is not negative
                arrived = float(g.loc[(g["arr_cls"] & 1 > 0) == flag, "tonnes"].sum()) if len(g) else 0.0
                mine = ps[ok & (ps["exposed"] == flag)]
                if arrived + float(mine["opening_t"].sum() - mine["closing_t"].sum()) < -ABS_TOL - REL_TOL * qty:
                    fail(f"{r.site_id} {r.product}: closing stock above what arrived and what was stocked")
            late = ps[~ok]
            if float(late["opening_t"].sum()) > float(late["closing_t"].sum()) + ABS_TOL + REL_TOL * qty:
                fail(f"{r.site_id} {r.product}: stock that arrived beyond the lead-time limit is used")
            delivered += float(ps.loc[ok, "opening_t"].sum() - ps.loc[ok, "closing_t"].sum())
            exposed += float(ps.loc[ok & ps["exposed"], "opening_t"].sum()
                             - ps.loc[ok & ps["exposed"], "closing_t"].sum())
        short = qty - delivered
        if short < -ABS_TOL - REL_TOL * qty:
            fail(f"{r.site_id} gets {delivered:.6f} t of {r.product}, more than its demand {qty:g} t")
        if not allow and short > ABS_TOL + REL_TOL * qty:
            fail(f"{r.site_id} is {short:.6f} t short of {r.product} but shortage is not allowed")
        if use_flag and len(g):
            want = getattr(r, "end_use", "civil")
            wrong = g[(g["arr_cls"] & use_mask) != use_flag[want]]
            if len(wrong):
                fail(f"{r.site_id} {r.product}: {float(wrong['tonnes'].sum()):.6f} t delivered to a {want} plant "
                     f"are not labelled {want}: licensed for another end use")
        cap = r.max_exposed_share
        cap = float(st["max_exposed_share"]) if cap is None or pd.isna(cap) else float(cap)
        if exposed > cap * qty + ABS_TOL + REL_TOL * qty:
            fail(f"{r.site_id} {r.product}: {exposed:.6f} t exposed, above the cap {cap:g} x {qty:g} t")
        lim = r.max_lead_time_days
        if lim is not None and not pd.isna(lim) and len(g):
            late = g[g["arr_elapsed"] > int(lim)]
            if len(late):
                fail(f"{r.site_id} {r.product}: delivery arriving by day {int(late['arr_elapsed'].max())}, "
                     f"above the limit {int(lim)}")
        share = float(st["max_supplier_share"])
        if share < 1 and len(g):
            for co, v in g.groupby(g["from_site"].map(company))["tonnes"].sum().items():
                if v > share * qty + ABS_TOL + REL_TOL * qty:
                    fail(f"{r.site_id} {r.product}: {v:.6f} t from {co}, above the supplier share {share:g}")
        pr = plan.plants[(plan.plants["site_id"] == r.site_id) & (plan.plants["product"] == r.product)]
        if len(pr):
            if not _close(float(pr["exposed_t"].iloc[0]), exposed):
                fail(f"{r.site_id} {r.product}: plan reports {float(pr['exposed_t'].iloc[0])} t exposed, "
                     f"recomputed {exposed}")
            if not _close(float(pr["delivered_t"].iloc[0]), delivered):
                fail(f"{r.site_id} {r.product}: plan reports {float(pr['delivered_t'].iloc[0])} t delivered, "
                     f"recomputed {delivered}")
            rep = pr["max_lead_time_days"].iloc[0]
            if rep is not None and not pd.isna(rep) and lim is not None and not pd.isna(lim) and rep > lim:
                fail(f"{r.site_id} {r.product}: reported lead time {rep} above the limit {lim}")
        exposed_total += exposed
        delivered_total += delivered
        c = r.shortage_cost_usd_per_kg
        c = float(st["shortage_cost_usd_per_kg"]) if c is None or pd.isna(c) else float(c)
        shortage_cost += max(short, 0.0) * c * 1000.0

    # ---- country share of shipped output per stage and product
    cshare = float(st["max_country_share"])
    if cshare < 1 and len(sh):
        g = sh.assign(stage=sh["from_site"].map(stage), country=sh["from_site"].map(country))
        for (stg, p), gg in g.groupby(["stage", "product"]):
            total = float(gg["tonnes"].sum())
            for c, v in gg.groupby("country")["tonnes"].sum().items():
                if v > cshare * total + ABS_TOL + REL_TOL * total:
                    fail(f"{stg} {p}: {v:.6f} t from {c}, above the country share {cshare:g} of {total:.6f} t")

    # ---- candidates and minimum volumes
    output = made.groupby(level=0).sum() if len(made) else pd.Series(dtype=float)
    qual = 0.0
    for s, r in sites.iterrows():
        v = float(output.get(s, 0.0))
        if v > ABS_TOL:
            if r["status"] == "candidate":
                qual += float(r["qualification_cost_usd"])
            mv = float(r["min_volume_t"])
            if v < mv - ABS_TOL - REL_TOL * mv:
                fail(f"{s} is used ({v:.6f} t) below its minimum volume {mv:g} t")

    # ---- costs, recomputed
    production = sum(float(v) * 1000.0 * float(supply.at[k, "unit_cost_usd_per_kg"]) for k, v in made.items()
                     if k in supply.index)
    parts = {
        "production": production,
        "freight": float(sh["freight"].sum()),
        "duty": float(sh["duty"].sum()),
        "tariff": float(sh["tariff"].sum()),
        "qualification": qual if qualification_usd is None else qualification_usd,
        "shortage": shortage_cost,
        "license_risk": float(st["risk_weight"]) * float(sh["loss"].sum()),
    }
    parts.update(extra_parts or {})
    # a part is recomputed from the plan's tonnes, which drop solver noise (a few 1e-7 t); priced at a
    # shortage cost of 1e4 USD/kg that is a few USD: tolerated up to 1e-6 of the plan's total
    noise = 1e-6 * abs(float(plan.summary["total_cost_usd"]))
    for k, v in parts.items():
        reported = float(plan.cost_breakdown.get(k, 0.0))
        if abs(reported - v) > 0.01 + 1e-7 * abs(v) + noise:
            fail(f"cost part {k}: plan reports {reported:,.2f}, recomputed {v:,.2f}")
    total = sum(parts.values())
    if abs(float(plan.summary["total_cost_usd"]) - total) > 0.05 + 1e-7 * abs(total) + noise:
        fail(f"total cost: plan reports {plan.summary['total_cost_usd']:,.2f}, recomputed {total:,.2f}")
    res.recomputed = {**parts, "total": total, "exposed_t": exposed_total, "delivered_t": delivered_total}
    return res


def check_horizon(inputs: Inputs, plan) -> CheckResult:  # noqa: ANN001
    """Re-verify a plan over periods (contract v2): every period's plan against that period's rows, the
    qualification decisions and their lead times, and the discounted total.

    A period's rows are re-derived here from the tables (a blank period is every period; per-year
    quantities scale with the period's days), not taken from the planner's slicing.
    """
    res = CheckResult()
    fail = res.failures.append
    periods = inputs.periods["period"].tolist()
    days = dict(zip(inputs.periods["period"], inputs.periods["days"], strict=True))
    rate = float(inputs.settings.get("discount_rate", 0.0))
    sites = inputs.sites.drop_duplicates("site_id").set_index("site_id")
    starts = {r.site_id: r.start_period for r in plan.qualifications.itertuples(index=False)}
    if len(starts) != len(plan.qualifications):
        fail("a site's qualification is started more than once")
    for s in starts:
        if sites.at[s, "status"] != "candidate":
            fail(f"{s} is qualified but is not a candidate")
    stock = plan.stock if plan.stock is not None and len(plan.stock) else None
    hold, init, capacity = {}, {}, {}
    if inputs.stock is not None:
        for r in inputs.stock.itertuples(index=False):
            hold[(r.site_id, r.product)] = float(r.holding_cost_usd_per_kg_yr)
            init[(r.site_id, r.product)] = float(r.initial_stock_t)
            if r.stock_capacity_t is not None and not pd.isna(r.stock_capacity_t):
                capacity[(r.site_id, r.product)] = float(r.stock_capacity_t)
    if stock is not None:
        _check_stock(inputs, stock, periods, days, init, capacity, fail)
    reserved: dict[tuple[str, str, str], float] = {}
    fee_of: dict[str, float] = {}
    if inputs.reservations is not None:
        reserved, fee_of = _check_reservations(inputs, plan, periods, days, fail)
    total = 0.0
    parts: dict[str, float] = {}
    for k, (t, p) in enumerate(plan.periods):
        if t != periods[k]:
            fail(f"period {k + 1} of the plan is {t!r}, the input's is {periods[k]!r}")
            continue
        scale = days[t] / 365.0

        def rows(frame: pd.DataFrame, t: str = t) -> pd.DataFrame:
            return frame[frame["period"] == t].reset_index(drop=True)

        site_rows, supply_rows, demand_rows = rows(inputs.sites), rows(inputs.supply), rows(inputs.demand)
        # what the plan reserved at a site is capacity on top of its Supply row's
        more = [reserved.get((t, s_, q), 0.0) for s_, q in zip(supply_rows["site_id"], supply_rows["product"],
                                                                  strict=True)]
        one = Inputs(
            sites=site_rows.assign(min_volume_t=site_rows["min_volume_t"] * scale),
            supply=supply_rows.assign(capacity_t=supply_rows["capacity_t"] * scale + more),
            recipes=inputs.recipes, coproducts=inputs.coproducts, lanes=rows(inputs.lanes),
            demand=demand_rows.assign(quantity_t=demand_rows["quantity_t"] * scale),
            controls=rows(inputs.controls), settings=inputs.settings,
        )
        fees = float(sum(float(sites.at[s, "qualification_cost_usd"]) for s, u in starts.items() if u == t))
        ps = stock[stock["period"] == t] if stock is not None else None
        holding = 0.0
        if ps is not None:
            for r in ps.itertuples(index=False):
                holding += 1000.0 * hold.get((r.site_id, r.product), 0.0) * days[t] / 365.0 * r.closing_t
        extra = {"holding": holding} if ps is not None else {}
        if inputs.contracts is not None:
            extra["take_or_pay"] = _check_contracts(inputs, p, t, k, periods, fail)
        if inputs.reservations is not None:
            extra["reservation"] = fee_of.get(t, 0.0)
        sub = check_plan(one, p, qualification_usd=fees, plant_stock=ps, extra_parts=extra)
        res.failures += [f"{t}: {f}" for f in sub.failures]
        made = p.batches.groupby("site_id")["tonnes"].sum() if len(p.batches) else pd.Series(dtype=float)
        for s, v in made.items():
            if v > ABS_TOL and sites.at[s, "status"] == "candidate":
                lead = int(sites.at[s, "qualification_periods"])
                if s not in starts:
                    fail(f"{t}: candidate {s} supplies {v:.6f} t but its qualification was never started")
                elif periods.index(starts[s]) + lead > k:
                    fail(f"{t}: candidate {s} supplies {v:.6f} t but its qualification, started in {starts[s]} "
                         f"and taking {lead} periods, is not complete")
        d = (1.0 + rate) ** -k
        for name, v in sub.recomputed.items():
            if name not in ("total", "exposed_t", "delivered_t"):
                parts[name] = parts.get(name, 0.0) + d * v
        total += d * sub.recomputed.get("total", 0.0)
    noise = 1e-6 * abs(float(plan.summary["total_cost_usd"]))  # as in check_plan
    for name, v in parts.items():
        reported = float(plan.cost_breakdown.get(name, 0.0))
        if abs(reported - v) > 0.01 + 1e-7 * abs(v) + noise:
            fail(f"horizon cost part {name}: plan reports {reported:,.2f}, recomputed {v:,.2f}")
    if abs(float(plan.summary["total_cost_usd"]) - total) > 0.05 + 1e-7 * abs(total) + noise:
        fail(f"horizon total: plan reports {plan.summary['total_cost_usd']:,.2f}, recomputed {total:,.2f}")
    res.recomputed = {**parts, "total": total}
    return res


def _check_reservations(inputs: Inputs, plan, periods: list[str], days: dict,  # noqa: ANN001
                        fail) -> tuple[dict, dict]:  # noqa: ANN001
    """Each Reservations row: one volume a year for every period it runs (first_period to last_period, blank
    meaning the horizon's ends), within 0 and max_t. Returns the tonnes each (period, site, product) may make
    beyond its Supply capacity, and each period's fees (fee x volume x days / 365)."""
    table = plan.reservations
    more: dict[tuple[str, str, str], float] = {}
    fees: dict[str, float] = {}
    if table is None:
        fail("the input has Reservations but the plan reports none")
        return more, fees
    for _, r in inputs.reservations.iterrows():
        lo = periods.index(r["first_period"]) if r["first_period"] else 0
        hi = periods.index(r["last_period"]) if r["last_period"] else len(periods) - 1
        runs = periods[lo:hi + 1]
        mine = table[table["reservation_row"] == int(r["_row"])]
        where = f"Reservations row {int(r['_row'])} ({r['site_id']} {r['product']})"
        if sorted(mine["period"]) != sorted(runs):
            fail(f"{where}: the plan reports it in {sorted(mine['period'])}, but it runs in {runs}")
            continue
        volume = mine["reserved_t"].astype(float)
        if float(volume.max() - volume.min()) > ABS_TOL:
            fail(f"{where}: reserved {float(volume.min()):.6f} to {float(volume.max()):.6f} t/yr: one volume for "
                 "all its periods")
        v = float(volume.iloc[0])
        if v < -ABS_TOL or v > float(r["max_t"]) + ABS_TOL + REL_TOL * float(r["max_t"]):
            fail(f"{where}: reserves {v:.6f} t/yr, outside 0 to max_t {float(r['max_t']):g}")
        for t in runs:
            key = (t, r["site_id"], r["product"])
            more[key] = more.get(key, 0.0) + v * days[t] / 365.0
            fees[t] = fees.get(t, 0.0) + 1000.0 * float(r["fee_usd_per_kg_yr"]) * v * days[t] / 365.0
    return more, fees


def _check_stock(inputs: Inputs, stock: pd.DataFrame, periods: list[str], days: dict, init: dict, capacity: dict,
                 fail) -> None:  # noqa: ANN001
    """Stock carries over (each period opens with the last one's closing stock, the first with the initial
    stock: clean, lead time 0), stays within its capacity, and covers min_cover_days of the next period."""
    key = ["site_id", "product", "cls", "bound_days"]
    for k, t in enumerate(periods):
        cur = stock[stock["period"] == t].set_index(key)
        if k == 0:
            for (s, q, c, b), r in cur.iterrows():
                want = init.get((s, q), 0.0) if (c, b) == (0, 0) else 0.0
                if not _close(float(r["opening_t"]), want):
                    fail(f"{t}: {s} {q} opens with {r['opening_t']:.6f} t of stock (class {c}), not {want:g} t")
        else:
            prev = stock[stock["period"] == periods[k - 1]].set_index(key)["closing_t"]
            for idx, r in cur.iterrows():
                if not _close(float(r["opening_t"]), float(prev.get(idx, 0.0))):
                    fail(f"{t}: {idx[0]} {idx[1]} opens with {r['opening_t']:.6f} t of stock, but {periods[k - 1]} "
                         f"closed with {float(prev.get(idx, 0.0)):.6f} t")
        held = cur.groupby(level=[0, 1])["closing_t"].sum()
        for (s, q), v in held.items():
            if (s, q) in capacity and v > capacity[(s, q)] + ABS_TOL + REL_TOL * v:
                fail(f"{t}: {s} holds {v:.6f} t of {q}, above its stock capacity {capacity[(s, q)]:g} t")
        nxt = periods[min(k + 1, len(periods) - 1)]
        nxt_dem = inputs.demand[inputs.demand["period"] == nxt].set_index(["site_id", "product"])
        for r in inputs.demand[inputs.demand["period"] == t].itertuples(index=False):
            # this period's min_cover_days, of the next period's demand (the last period: of its own)
            cover = 0 if r.min_cover_days is None or pd.isna(r.min_cover_days) else int(r.min_cover_days)
            if not cover or (r.site_id, r.product) not in nxt_dem.index:
                continue
            n = nxt_dem.loc[(r.site_id, r.product)]
            lim = BIG if n["max_lead_time_days"] is None or pd.isna(n["max_lead_time_days"]) else \
                int(n["max_lead_time_days"])
            mine = stock[(stock["period"] == t) & (stock["site_id"] == r.site_id) & (stock["product"] == r.product)
                         & (stock["bound_days"] <= lim)]
            need = cover * float(n["quantity_t"]) / 365.0  # per-year demand, per day
            if float(mine["closing_t"].sum()) < need - ABS_TOL - REL_TOL * need:
                fail(f"{t}: {r.site_id} closes with {float(mine['closing_t'].sum()):.6f} t of {r.product}, below "
                     f"{cover} days of {nxt}'s demand ({need:.6f} t)")


def _check_contracts(inputs: Inputs, p, t: str, k: int, periods: list[str], fail) -> float:  # noqa: ANN001
    """Each contract in force in period t (k-th): what its supplier ships of its product (to its plant, or
    anywhere) is within its bounds, the minimum taken unless take-or-pay; returns what take-or-pay costs
    in t (the shortfall below the minimum at the supplier's unit cost)."""
    paid = 0.0
    ships = p.shipments
    supply = inputs.supply[inputs.supply["period"] == t].set_index(["site_id", "product"])
    for r in inputs.contracts.itertuples(index=False):
        first = periods.index(r.first_period) if r.first_period else 0
        last = periods.index(r.last_period) if r.last_period else len(periods) - 1
        if not first <= k <= last:
            continue
        m = (ships["from_site"] == r.site_id) & (ships["product"] == r.product) if len(ships) else None
        if m is not None and r.plant:
            m &= ships["to_site"] == r.plant
        shipped = float(ships.loc[m, "tonnes"].sum()) if m is not None else 0.0
        lo = float(r.min_t or 0.0)
        hi = None if r.max_t is None or pd.isna(r.max_t) else float(r.max_t)
        if hi is not None and shipped > hi + ABS_TOL + REL_TOL * hi:
            fail(f"{t}: {r.site_id} ships {shipped:.6f} t of {r.product} under its contract, above max_t {hi:g}")
        if shipped < lo - ABS_TOL - REL_TOL * lo:
            if r.take_or_pay:
                price = float(supply.at[(r.site_id, r.product), "unit_cost_usd_per_kg"]) \
                    if (r.site_id, r.product) in supply.index else 0.0
                paid += (lo - shipped) * price * 1000.0
            else:
                fail(f"{t}: {r.site_id} ships {shipped:.6f} t of {r.product} under its contract, below min_t {lo:g}")
    return paid


# --------------------------------------------------------------------------- plans against licence regimes


def check_regimes(inputs: Inputs, plan) -> CheckResult:  # noqa: ANN001, C901
    """Re-verify a plan against licence regimes (a ``Regimes`` sheet): each regime's plan against that
    regime's own input, its cost against the cost reported for it, the expected cost and CVaR recomputed
    here from the per-regime costs, one set of qualification starts for every regime (the first stage), and
    the same flows, shipments, production and stock in every period that two regimes cannot yet tell apart
    (non-anticipativity).

    Each regime's input is made from the input's ``Regimes`` and ``RegimeChanges`` rows here (the input
    layer's what-if machinery, not the model's); which periods two regimes share is decided here by comparing
    the tables of their inputs period by period. ``recomputed``: ``total`` (the first regime's, which is the
    plan's own), ``total:<regime>`` for each regime, ``expected`` and ``cvar``.
    """
    from dataclasses import replace  # noqa: PLC0415

    from planner.input.overrides import Scenario, ScenarioError, apply_scenario, parse_whatif  # noqa: PLC0415

    res = CheckResult()
    fail = res.failures.append
    ans = plan.regimes
    if ans is None or inputs.regimes is None or not len(inputs.regimes):
        fail("the plan or the input has no regimes to check")
        return res
    listed = inputs.regimes.sort_values("_row", kind="mergesort")
    names = [str(n).strip() for n in listed["scenario"]]
    probability = np.asarray(listed["probability"], dtype=float)
    if list(ans.names) != names:
        fail(f"the plan's regimes are {list(ans.names)}, the Regimes sheet lists {names}")
        return res
    for w, name in enumerate(names):
        if not _close(float(ans.probabilities[w]), float(probability[w])):
            fail(f"regime {name}: the plan weighs it {float(ans.probabilities[w]):g}, the Regimes sheet "
                 f"{float(probability[w]):g}")
    if abs(float(probability.sum()) - 1.0) > 1e-6:
        fail(f"the regimes' probabilities add up to {float(probability.sum()):g}, not 1")

    changes = {s.name: s for s in parse_whatif(inputs.regime_changes, "RegimeChanges")}
    base = replace(inputs, regimes=None, regime_changes=None, whatif=None)
    own: list[Inputs] = []
    for name in names:
        try:
            own.append(apply_scenario(base, changes.get(name, Scenario(name, ()))))
        except ScenarioError as exc:
            fail(f"regime {name}: its changes cannot be applied: {exc}")
            return res

    # ---- each regime's plan against its own input; its cost against the reported one
    totals = np.zeros(len(names))
    starts: list[dict[str, str]] = []
    for w, (name, one, p) in enumerate(zip(names, own, ans.plans, strict=True)):
        q = p.qualifications
        mine = {} if q is None or q.empty else dict(zip(q["site_id"], q["start_period"].fillna(""), strict=True))
        if q is not None and len(mine) != len(q):
            fail(f"regime {name}: a site's qualification is started more than once")
        starts.append(mine)
        if one.periods is not None:
            sub = check_horizon(one, p)
        else:
            sites = one.sites.set_index("site_id")
            for s in mine:
                if s not in sites.index or sites.at[s, "status"] != "candidate":
                    fail(f"regime {name}: {s} is qualified but is not a candidate")
            fees = float(sum(float(sites.at[s, "qualification_cost_usd"]) for s in mine if s in sites.index))
            sub = check_plan(one, p, qualification_usd=fees)
            made = p.batches.groupby("site_id")["tonnes"].sum() if len(p.batches) else pd.Series(dtype=float)
            for s, v in made.items():
                if v > ABS_TOL and sites.at[s, "status"] == "candidate" and s not in mine:
                    fail(f"regime {name}: candidate {s} supplies {v:.6f} t but is not qualified")
        res.failures += [f"regime {name}: {f}" for f in sub.failures]
        totals[w] = float(sub.recomputed.get("total", 0.0))
        res.recomputed[f"total:{name}"] = totals[w]
        if abs(float(ans.costs[w]) - totals[w]) > 0.05 + 1e-7 * abs(totals[w]):
            fail(f"regime {name}: the plan reports its cost {float(ans.costs[w]):,.2f}, recomputed {totals[w]:,.2f}")
        table = getattr(plan, "regime_table", None)
        if table is not None and len(table) == len(names):
            rep = float(table["cost_usd"].iloc[w])
            if table["regime"].iloc[w] != name or abs(rep - totals[w]) > 0.05 + 1e-7 * abs(totals[w]):
                fail(f"regime {name}: the regime table's row {w + 1} reads {table['regime'].iloc[w]} at "
                     f"{rep:,.2f}, recomputed {totals[w]:,.2f}")
    res.recomputed["total"] = totals[0]

    # ---- expected cost and CVaR_alpha, from the recomputed costs
    alpha = float(inputs.settings.get("cvar_alpha", 0.9))  # type: ignore[arg-type]
    expected = float(probability @ totals)
    if alpha >= 1.0:
        tail = float(totals.max())
    else:
        left, acc = 1.0 - alpha, 0.0
        for w in sorted(range(len(names)), key=lambda i: -totals[i]):
            take = min(float(probability[w]), left)
            acc += take * totals[w]
            left -= take
            if left <= 0.0:
                break
        tail = acc / (1.0 - alpha)
    res.recomputed["expected"], res.recomputed["cvar"] = expected, tail
    tol = 0.05 * len(names) + 1e-7 * float(np.abs(totals).max(initial=0.0))
    s = plan.summary
    for key, mine_v, what in (("expected_cost_usd", expected, "expected cost"),
                              ("cvar_usd", tail, f"CVaR at {alpha:g}")):
        if key not in s or s[key] is None:
            fail(f"the summary has no {key}")
        elif abs(float(s[key]) - mine_v) > tol:
            fail(f"{what}: the plan reports {float(s[key]):,.2f}, recomputed {mine_v:,.2f}")
    worst = s.get("worst_regime")
    if worst is not None and (worst not in names or totals[names.index(worst)] < totals.max() - tol):
        fail(f"the worst regime is reported as {worst}, but {names[int(np.argmax(totals))]} costs most "
             f"({totals.max():,.2f})")

    # ---- the first stage: one set of qualification starts for every regime
    for w in range(1, len(names)):
        if starts[w] != starts[0]:
            fail(f"first stage: regime {names[w]} starts qualifications {starts[w]}, regime {names[0]} {starts[0]}")
    # ... and one volume for each reservation
    volumes = []
    for p in ans.plans:
        r = getattr(p, "reservations", None)
        volumes.append({} if r is None or r.empty else
                       r.groupby("reservation_row")["reserved_t"].first().astype(float).to_dict())
    for w in range(1, len(names)):
        for row in sorted(set(volumes[0]) | set(volumes[w])):
            a, b = volumes[0].get(row, 0.0), volumes[w].get(row, 0.0)
            if abs(a - b) > ABS_TOL + REL_TOL * max(abs(a), abs(b)):
                fail(f"first stage: Reservations row {row} reserves {b:.6f} t/yr in regime {names[w]}, "
                     f"{a:.6f} t/yr in regime {names[0]}")

    # ---- non-anticipativity: where two regimes' inputs agree so far, their decisions agree
    periods = [""] if own[0].periods is None else [str(t) for t in own[0].periods["period"]]
    history = [_regime_signatures(one, periods) for one in own]
    for k, t in enumerate(periods):
        tables = [_period_decisions(p, t, k) for p in ans.plans]
        for w in range(len(names)):
            for v in range(w):
                if history[w][: k + 1] != history[v][: k + 1]:
                    continue
                for what, (a, b) in zip(("flows", "shipments", "production", "stock"),
                                        zip(tables[v], tables[w], strict=True), strict=True):
                    for key in sorted(set(a) | set(b)):
                        x, y = a.get(key, 0.0), b.get(key, 0.0)
                        if abs(x - y) > ABS_TOL + REL_TOL * max(abs(x), abs(y)):
                            when = f" through {t}" if t else ""
                            fail(f"non-anticipativity: regimes {names[v]} and {names[w]} have the same input"
                                 f"{when} but differ in {what} {key}{' in ' + t if t else ''}: {x:.6f} t "
                                 f"against {y:.6f} t")
    return res


def _canonical(frame: pd.DataFrame | None) -> tuple:
    """A table's rows as sorted tuples of normalised text (numbers by value, blanks as ""), without ``_row``."""
    if frame is None:
        return ("-",)

    def norm(v: object) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        if isinstance(v, (bool, np.bool_)):
            return str(bool(v))
        if isinstance(v, (int, float, np.integer, np.floating)):
            return repr(float(v))
        return str(v)

    cols = sorted(c for c in frame.columns if c != "_row")
    return (tuple(cols), tuple(sorted(tuple(norm(v) for v in row) for row in frame[cols].itertuples(index=False))))


def _regime_signatures(one: Inputs, periods: list[str]) -> list[tuple]:
    """What a regime's input says in each period: the periodic tables' rows of that period, with the
    tables that hold for the whole horizon (recipes, co-products, stock, contracts, periods, settings)."""
    whole = (_canonical(one.recipes), _canonical(one.coproducts), _canonical(one.stock), _canonical(one.contracts),
             _canonical(one.reservations),
             _canonical(one.periods), tuple(sorted((k, repr(v)) for k, v in one.settings.items())))
    out = []
    for t in periods:
        per = []
        for frame in (one.sites, one.supply, one.lanes, one.demand, one.controls):
            rows = frame if one.periods is None else frame[frame["period"].fillna("").astype(str) == t]
            per.append(_canonical(rows))
        out.append((whole, tuple(per)))
    return out


def _period_decisions(p, t: str, k: int) -> tuple[dict, dict, dict, dict]:  # noqa: ANN001
    """A plan's decisions in period t (the k-th): tonnes by lane, by shipment (lane, class, bound), by batch
    (site, product, class, bound) and closing stock (plant, product, class, bound)."""
    one = p if p.periods is None else p.periods[k][1]

    def tonnes(frame: pd.DataFrame | None, key: list[str], value: str = "tonnes") -> dict:
        if frame is None or frame.empty:
            return {}
        g = frame.groupby(key)[value].sum()
        return {(k_ if isinstance(k_, tuple) else (k_,)): float(v) for k_, v in g.items()}

    stock = p.stock if p.stock is not None and len(p.stock) else None
    if stock is not None:
        stock = stock[stock["period"].fillna("").astype(str) == t]
    return (tonnes(one.flows, ["from_site", "to_site", "product"]),
            tonnes(one.shipments, ["from_site", "to_site", "product", "cls", "bucket"]),
            tonnes(one.batches, ["site_id", "product", "cls", "bucket"]),
            tonnes(stock, ["site_id", "product", "cls", "bound_days"], "closing_t"))
