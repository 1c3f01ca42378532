"""Build the sourcing LP/MIP as sparse arrays (pure: no I/O, no solver).

Variables (all tonnes per year unless noted):

* ``make[s, q, c, b]``  output of q at site s in exposure class c, lead-time bucket b
* ``ship[l, c, b]``     shipment on lane l of material that left in class c, bucket b
* ``down[s, p, from, to]`` input p at s used in a dirtier class or a later bucket
  than it arrived in (a clean input may go into an exposed batch, an early input
  may wait; never the reverse)
* ``short[d, p]``       unmet demand (only when shortage is allowed)
* ``use[s]``            1 if a candidate site, or a site with a minimum volume, is used (binary)

Rows: capacity, outflow <= make (free disposal), input balance per class and
bucket, coproduct <= ratio x main, demand, exposure caps, supplier and country
share caps, minimum volumes, and ``ship <= bound x use`` for lanes out of
binary sites (a valid tightening that makes the MIP relaxation strong).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.data import Inputs
from planner.network import EXPOSED, INF, Network, build_network, hasse_edges, round_arrival, round_up, time_edges

# Tie-break, USD per tonne made or delivered in a class with more flags than it had: among
# equally cheap plans prefer the least exposed one, so a clean batch is never
# reported exposed just because the solver was indifferent. Far below any real
# cost (1e-5 USD/kg) and excluded from every reported cost.
EPS_CLASS = 1e-2


@dataclass
class LinearModel:
    """min c.x  s.t.  row_lo <= A x <= row_hi,  col_lo <= x <= col_hi, some x integer."""

    c: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray
    integer: np.ndarray  # bool per column
    a_row: np.ndarray
    a_col: np.ndarray
    a_val: np.ndarray
    row_lo: np.ndarray
    row_hi: np.ndarray
    cols: pd.DataFrame  # one row per column: kind and keys
    rows: pd.DataFrame  # one row per row: kind and keys
    net: Network
    inputs: Inputs
    ship_info: pd.DataFrame | None = None  # per ship column: lane, classes, buckets, approval days, expected loss

    @property
    def n_cols(self) -> int:
        return len(self.c)

    @property
    def n_rows(self) -> int:
        return len(self.row_lo)

    @property
    def is_mip(self) -> bool:
        return bool(self.integer.any())

    def possible_columns(self) -> int:
        """Variables a naive model would have (every lane x product x class x bucket), for --verbose."""
        return int(self.cols.attrs.get("possible", self.n_cols))


class _Builder:
    def __init__(self) -> None:
        self.c: list[float] = []
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.integer: list[bool] = []
        self.col_keys: list[tuple] = []
        self.ar: list[int] = []
        self.ac: list[int] = []
        self.av: list[float] = []
        self.rlo: list[float] = []
        self.rhi: list[float] = []
        self.row_keys: list[tuple] = []

    def col(self, key: tuple, cost: float, lo: float = 0.0, hi: float = np.inf, integer: bool = False) -> int:
        self.c.append(cost)
        self.lo.append(lo)
        self.hi.append(hi)
        self.integer.append(integer)
        self.col_keys.append(key)
        return len(self.c) - 1

    def row(self, key: tuple, terms: list[tuple[int, float]], lo: float, hi: float) -> int:
        r = len(self.rlo)
        for j, v in terms:
            if v != 0.0:
                self.ar.append(r)
                self.ac.append(j)
                self.av.append(v)
        self.rlo.append(lo)
        self.rhi.append(hi)
        self.row_keys.append(key)
        return r


def build_model(inputs: Inputs, net: Network | None = None) -> LinearModel:
    """Build the model of ``inputs`` (network resolved here unless given)."""
    if net is None:
        net = build_network(inputs)
    st = inputs.settings
    allow_shortage = bool(st["allow_shortage"])
    risk_weight = float(st["risk_weight"])  # type: ignore[arg-type]
    default_short = float(st["shortage_cost_usd_per_kg"])  # type: ignore[arg-type]
    default_cap = float(st["max_exposed_share"])  # type: ignore[arg-type]
    supplier_share = float(st["max_supplier_share"])  # type: ignore[arg-type]
    country_share = float(st["max_country_share"])  # type: ignore[arg-type]
    sites = net.sites
    proc = sites["processing_days"].astype(int).to_dict()
    b = _Builder()

    # ---- use[s]
    use: dict[str, int] = {}
    for s in net.binary_sites:
        qc = float(sites.at[s, "qualification_cost_usd"]) if sites.at[s, "status"] == "candidate" else 0.0
        use[s] = b.col(("use", s), qc, 0.0, 1.0, True)

    # ---- make
    make: dict[tuple[str, str, int, int], int] = {}
    for key in sorted(net.active):
        s, q = key
        cost = 1000.0 * float(net.supply.at[key, "unit_cost_usd_per_kg"])
        origin = net.origin.get(key, 0)
        for cls in net.out_classes.get(key, []):
            eps = EPS_CLASS * bin(cls ^ origin).count("1")
            for bk in net.out_buckets.get(key, []):
                make[(s, q, cls, bk)] = b.col(("make", s, q, cls, bk), cost + eps)

    # ---- ship
    lanes = net.lanes
    ship_rows: list[tuple] = []
    arrivals: dict[tuple[str, str, int, int], list[int]] = {}
    out_of: dict[tuple[str, str, int, int], list[int]] = {}
    lane_cols: dict[int, list[int]] = {}
    for i, r in enumerate(lanes.itertuples(index=False)):
        f, t, p = r.from_site, r.to_site, r.product
        for cls in net.out_classes.get((f, p), []):
            ev = net.lane_events.get((i, cls), [])
            days = sum(e.approval_days for e in ev)
            loss = 1000.0 * sum((1.0 - e.approval_probability) * e.denial_cost_usd_per_kg for e in ev)
            arr_cls = cls | EXPOSED if ev else cls
            for bk in net.out_buckets.get((f, p), []):
                elapsed = INF if bk >= INF else bk + int(r.transit_days) + days
                arr_b = round_arrival(net, t, p, elapsed)
                if arr_b is None:
                    continue
                eps = EPS_CLASS * bin(arr_cls ^ cls).count("1")
                j = b.col(("ship", i, cls, bk), float(r.cost_per_t) + risk_weight * loss + eps)
                ship_rows.append((j, i, cls, bk, arr_cls, arr_b, days, loss))
                arrivals.setdefault((t, p, arr_cls, arr_b), []).append(j)
                out_of.setdefault((f, p, cls, bk), []).append(j)
                lane_cols.setdefault(i, []).append(j)

    # ---- down (input buffers)
    down_in: dict[tuple, list[int]] = {}
    down_out: dict[tuple, list[int]] = {}
    plants = set(zip(net.demand["site_id"], net.demand["product"], strict=True))
    for (s, p), classes in sorted(net.buffer_classes.items()):
        if (s, p) in plants:
            continue
        buckets = net.buffer_buckets.get((s, p), [])
        for bk in buckets:
            for a, z in hasse_edges(classes):
                j = b.col(("down", s, p, a, bk, z, bk), 0.0)
                down_out.setdefault((s, p, a, bk), []).append(j)
                down_in.setdefault((s, p, z, bk), []).append(j)
        for cls in classes:
            for b1, b2 in time_edges(buckets):
                j = b.col(("down", s, p, cls, b1, cls, b2), 0.0)
                down_out.setdefault((s, p, cls, b1), []).append(j)
                down_in.setdefault((s, p, cls, b2), []).append(j)

    # ---- short
    short: dict[tuple[str, str], int] = {}
    dem = net.demand
    for r in dem.itertuples(index=False):
        cost = default_short if r.shortage_cost_usd_per_kg is None or pd.isna(r.shortage_cost_usd_per_kg) else float(
            r.shortage_cost_usd_per_kg
        )
        if allow_shortage:
            short[(r.site_id, r.product)] = b.col(("short", r.site_id, r.product), 1000.0 * cost, 0.0, float(r.quantity_t))

    # ================================================================ rows
    make_by_sq: dict[tuple[str, str], list[int]] = {}
    for (s, q, _c, _b), j in make.items():
        make_by_sq.setdefault((s, q), []).append(j)
    for key in sorted(net.active):
        s, q = key
        cap = float(net.supply.at[key, "capacity_t"])
        terms = [(j, 1.0) for j in make_by_sq.get(key, [])]
        if s in use:
            b.row(("capacity", s, q), [*terms, (use[s], -cap)], -np.inf, 0.0)
        else:
            b.row(("capacity", s, q), terms, -np.inf, cap)
    for (s, q, cls, bk), j in sorted(make.items()):
        outs = out_of.get((s, q, cls, bk), [])
        if outs:
            b.row(("outflow", s, q, cls, bk), [*[(k, 1.0) for k in outs], (j, -1.0)], -np.inf, 0.0)

    # input balance: what arrives (or is carried over) in class c, bucket b feeds batches of class c
    # finishing at b + processing days
    need: dict[tuple, list[tuple[int, float]]] = {}
    for (s, q), ins in net.recipe.items():
        for inp, f in ins:
            for cls in net.out_classes.get((s, q), []):
                for bk in net.out_buckets.get((s, q), []):
                    need.setdefault((s, inp, cls, bk - proc[s] if bk < INF else INF), []).append(
                        (make[(s, q, cls, bk)], -f)
                    )
    for (s, p), classes in sorted(net.buffer_classes.items()):
        if (s, p) in plants:
            continue
        for cls in classes:
            for bk in net.buffer_buckets.get((s, p), []):
                k = (s, p, cls, bk)
                terms = [(j, 1.0) for j in arrivals.get(k, [])]
                terms += [(j, 1.0) for j in down_in.get(k, [])]
                terms += [(j, -1.0) for j in down_out.get(k, [])]
                terms += need.get(k, [])
                if terms:
                    b.row(("balance", s, p, cls, bk), terms, 0.0, 0.0)

    # coproducts: made jointly, at most ratio x main output of the same batch
    for (s, c), mains in sorted(net.joint.items()):
        oc = net.origin.get((s, c), 0)
        th = net.out_buckets.get((s, c), [])
        for cls in net.out_classes.get((s, c), []):
            for bk in th:
                terms = [(make[(s, c, cls, bk)], 1.0)]
                for m, ratio in mains:
                    for mc in net.out_classes.get((s, m), []):
                        if mc | oc != cls:
                            continue
                        for mb in net.out_buckets.get((s, m), []):
                            if round_up(mb, th) == bk:
                                terms.append((make[(s, m, mc, mb)], -ratio))
                b.row(("coproduct", s, c, cls, bk), terms, -np.inf, 0.0)

    # demand, exposure cap, supplier share
    company = sites["company"].to_dict()
    ship_info = pd.DataFrame(ship_rows, columns=["col", "lane", "cls", "bucket", "arr_cls", "arr_bucket", "days", "loss"])
    ship_info["from_site"] = lanes["from_site"].to_numpy()[ship_info["lane"].to_numpy()] if len(ship_info) else []
    ship_info["to_site"] = lanes["to_site"].to_numpy()[ship_info["lane"].to_numpy()] if len(ship_info) else []
    ship_info["product"] = lanes["product"].to_numpy()[ship_info["lane"].to_numpy()] if len(ship_info) else []
    into_plant: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
    for j, cls, f, t, p in zip(ship_info["col"], ship_info["arr_cls"], ship_info["from_site"], ship_info["to_site"],
                               ship_info["product"], strict=True):
        if (t, p) in plants:
            into_plant.setdefault((t, p), []).append((int(j), int(cls), f))
    for r in dem.itertuples(index=False):
        key = (r.site_id, r.product)
        qty = float(r.quantity_t)
        arr = into_plant.get(key, [])
        terms = [(j, 1.0) for j, _, _ in arr]
        if key in short:
            terms.append((short[key], 1.0))
        b.row(("demand", *key), terms, qty, qty)
        cap = default_cap if r.max_exposed_share is None or pd.isna(r.max_exposed_share) else float(r.max_exposed_share)
        exposed = [(j, 1.0) for j, cls, _ in arr if cls & EXPOSED]
        if cap < 1.0 and exposed:
            b.row(("exposure", *key), exposed, -np.inf, cap * qty)
        if supplier_share < 1.0:
            by_co: dict[str, list[tuple[int, float]]] = {}
            for j, _, f in arr:
                by_co.setdefault(company[f], []).append((j, 1.0))
            for co, terms_co in sorted(by_co.items()):
                b.row(("supplier_share", *key, co), terms_co, -np.inf, supplier_share * qty)

    # country share: per stage and product, shipped output from one country <= share x all of it
    if country_share < 1.0 and len(ship_info):
        si = ship_info.assign(
            stage=sites["stage"].reindex(ship_info["from_site"]).to_numpy(),
            country=sites["country"].reindex(ship_info["from_site"]).to_numpy(),
        )
        for (stage, p), g in si.groupby(["stage", "product"], sort=True):
            cols_all = g["col"].tolist()
            for ctry, gc in g.groupby("country", sort=True):
                mine = set(gc["col"])
                terms = [(int(j), (1.0 if j in mine else 0.0) - country_share) for j in cols_all]
                b.row(("country_share", stage, p, ctry), terms, -np.inf, 0.0)

    # minimum volumes (take-or-pay) and strong use-links for lanes out of binary sites
    for s in net.binary_sites:
        mv = float(sites.at[s, "min_volume_t"])
        cols_s = [j for (ss, _q), js in make_by_sq.items() if ss == s for j in js]
        if mv > 0:
            b.row(("min_volume", s), [*[(j, 1.0) for j in cols_s], (use[s], -mv)], 0.0, np.inf)
    if use:
        absorb = _absorb_bounds(net, dem)
        for i, r in enumerate(lanes.itertuples(index=False)):
            if r.from_site not in use or i not in lane_cols:
                continue
            cap = float(net.supply.at[(r.from_site, r.product), "capacity_t"])
            bound = min(cap, absorb.get((r.to_site, r.product), np.inf))
            if bound < cap:
                terms = [(j, 1.0) for j in lane_cols[i]]
                b.row(("lane_use", i), [*terms, (use[r.from_site], -bound)], -np.inf, 0.0)

    cols = pd.DataFrame({"key": b.col_keys})
    cols["kind"] = [k[0] for k in b.col_keys]
    rows = pd.DataFrame({"key": b.row_keys})
    rows["kind"] = [k[0] for k in b.row_keys]
    cols.attrs["possible"] = _possible(net)
    model = LinearModel(
        c=np.array(b.c, dtype=float),
        col_lo=np.array(b.lo, dtype=float),
        col_hi=np.array(b.hi, dtype=float),
        integer=np.array(b.integer, dtype=bool),
        a_row=np.array(b.ar, dtype=np.int64),
        a_col=np.array(b.ac, dtype=np.int64),
        a_val=np.array(b.av, dtype=float),
        row_lo=np.array(b.rlo, dtype=float),
        row_hi=np.array(b.rhi, dtype=float),
        cols=cols,
        rows=rows,
        net=net,
        inputs=inputs,
        ship_info=ship_info,
    )
    return model


def _absorb_bounds(net: Network, dem: pd.DataFrame) -> dict[tuple[str, str], float]:
    """Most of product p that site t could ever take in a year (plant demand or recipe need at capacity)."""
    out: dict[tuple[str, str], float] = {}
    for r in dem.itertuples(index=False):
        out[(r.site_id, r.product)] = float(r.quantity_t)
    for (s, q), ins in net.recipe.items():
        cap = float(net.supply.at[(s, q), "capacity_t"])
        for inp, f in ins:
            out[(s, inp)] = out.get((s, inp), 0.0) + f * cap
    return out


def _possible(net: Network) -> int:
    """Size of the unpruned model: every supply row x every lane-able receiver, per class and bucket."""
    n_sites = len(net.sites)
    n_supply = max(len(net.supply), 1)
    n_classes = 2 ** (1 + len(net.content_countries)) if net.lane_events else 1
    n_buckets = max((len(v) for v in net.out_buckets.values()), default=1)
    return int(n_supply * n_sites * n_classes * max(n_buckets, 1))
