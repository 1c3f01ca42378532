"""The plan over several periods (contract v2): one block per period, linked by qualification decisions.

Each period's block is the one-year model of that period's input (``Inputs.for_period``), built by
``build_model`` unchanged, so every rule of the one-year model holds in every period. What links the
periods is added here, once:

* **Qualification with a lead time.** A candidate's qualification is decided once for the horizon:
  ``start[s, t]`` (binary) decides it in period t, paid then (discounted); the site is usable from
  period ``t + qualification_periods``. Each block's own ``use[s]`` column keeps gating capacity and
  minimum volume in its period, at no cost of its own, and may be 1 only if a start lies far enough
  back. A lead longer than the horizon leaves a candidate unusable.
* **Discounting.** The k-th period's costs count ``(1 + discount_rate) ** -k``.

The stitched model is one ``LinearModel`` for the solver; its keys carry the period after the kind
(``("make", "2027", site, ...)``) so that they are unique. Each block keeps its own model (with its
network), so the plan of a period is read with the one-year report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from planner.errors import InputError, Issue
from planner.input.data import Inputs
from planner.optimise.model import LinearModel, build_model
from planner.optimise.network import EXPOSED, INF, Network, build_network

START_EARLY = 1e-7


@dataclass
class Block:
    period: str
    model: LinearModel  # the period's one-year model, as built
    col0: int  # its columns' and rows' offsets in the stitched model
    row0: int
    discount: float  # what one USD of this period counts in the total


@dataclass
class HorizonModel:
    lp: LinearModel  # every block and the links, for the solver
    blocks: list[Block]
    inputs: Inputs
    # (site, period) -> the column deciding that site's qualification in that period
    start: dict[tuple[str, str], int] = field(default_factory=dict)
    lead: dict[str, int] = field(default_factory=dict)  # candidate -> qualification_periods
    qualification_cost: dict[str, float] = field(default_factory=dict)
    # (period, plant, product, class, lead-time bound) -> the closing-stock column
    stock: dict[tuple[str, str, str, int, int], int] = field(default_factory=dict)
    # (Contracts row index, period) -> the take-or-pay column: tonnes paid for and not taken
    take_or_pay: dict[tuple[int, str], int] = field(default_factory=dict)
    # Reservations row index -> the column of tonnes a year reserved (decided once, paid in every period)
    reserve: dict[int, int] = field(default_factory=dict)
    # (Reservations row index, period) -> the column of tonnes taken under it in that period
    reserved: dict[tuple[int, str], int] = field(default_factory=dict)

    @property
    def periods(self) -> list[str]:
        return [b.period for b in self.blocks]


def is_horizon(inputs: Inputs) -> bool:
    """Whether ``inputs`` needs the horizon model: a Periods sheet (even of one period), since its links
    and discounting are the v2 contract's. A v1 input plans with the one-year model, exactly as before."""
    return inputs.periods is not None


def build_horizon(inputs: Inputs, nets: list[Network] | None = None, models: dict | None = None,
                  keys: list[bytes] | None = None) -> HorizonModel:
    """The stitched model (``nets``: each period's network, if already built, e.g. to check the size).

    ``models`` and ``keys``: a cache of period models shared by several horizons (the regimes of a plan
    against regimes), and each period's key in it (a digest of everything its model is built from): a
    period whose inputs another horizon already had reuses that model object, which nothing changes."""
    periods = inputs.period_ids
    if nets is None and buffer_stock(inputs):
        nets = seeded_networks([inputs])[0]
    rate = float(inputs.settings.get("discount_rate", 0.0))  # type: ignore[arg-type]
    blocks: list[Block] = []
    col0 = row0 = 0
    stocked = frozenset(_stock_terms(inputs))
    for k, t in enumerate(periods):
        if models is not None and keys is not None and keys[k] in models:
            m = models[keys[k]]
        else:
            m = build_model(inputs.for_period(t), nets[k] if nets is not None else None, stocked=stocked)
            if models is not None and keys is not None:
                models[keys[k]] = m
        blocks.append(Block(t, m, col0, row0, (1.0 + rate) ** -k))
        col0 += m.n_cols
        row0 += m.n_rows

    sites = inputs.sites.drop_duplicates("site_id").set_index("site_id")
    candidates = sorted(sites.index[sites["status"] == "candidate"])
    lead = {s: int(sites.at[s, "qualification_periods"]) for s in candidates}
    fee = {s: float(sites.at[s, "qualification_cost_usd"]) for s in candidates}

    # ---- the blocks' arrays, costs discounted; a candidate's use column costs nothing in its block
    cs, lo, hi, integer, ar, ac, av, rlo, rhi = [], [], [], [], [], [], [], [], []
    col_keys: list[tuple] = []
    row_keys: list[tuple] = []
    use_cols: dict[tuple[str, str], int] = {}  # (site, period) -> the block's use column (stitched index)
    for b in blocks:
        m = b.model
        c = m.c * b.discount
        keys = m.cols["key"].tolist()
        for j, key in enumerate(keys):
            if key[0] == "use" and key[1] in fee:
                c[j] = 0.0
                use_cols[(key[1], b.period)] = b.col0 + j
        cs.append(c)
        lo.append(m.col_lo)
        hi.append(m.col_hi)
        integer.append(m.integer)
        ar.append(m.a_row + b.row0)
        ac.append(m.a_col + b.col0)
        av.append(m.a_val)
        rlo.append(m.row_lo.copy())  # copies: stock moves an initial stock into a demand row's bounds
        rhi.append(m.row_hi.copy())
        col_keys += [(key[0], b.period, *key[1:]) for key in keys]
        row_keys += [(key[0], b.period, *key[1:]) for key in m.rows["key"].tolist()]

    # ---- qualification decisions: start[s, t], at most one per site; use in t needs a start lead periods back
    index = {t: k for k, t in enumerate(periods)}
    n_col, n_row = col0, row0
    start: dict[tuple[str, str], int] = {}
    used_by_site: dict[str, list[tuple[str, int]]] = {}
    for (s, t), j in use_cols.items():
        used_by_site.setdefault(s, []).append((t, j))
    link_cost, link_keys = [], []
    for s in sorted(used_by_site):
        for t in periods:
            start[(s, t)] = n_col
            link_keys.append(("start", t, s))
            # among equally cheap plans, the later start (money spent later; a manager waits until it must):
            # a tie-break of 1e-7 of the fee per period earlier, left out of every reported cost
            link_cost.append(fee[s] * (blocks[index[t]].discount + START_EARLY * (len(periods) - 1 - index[t])))
            n_col += 1
    extra_rows: list[tuple[tuple, float, float, list[int], list[float]]] = []
    for s in sorted(used_by_site):
        extra_rows.append((("qualify_once", s), -np.inf, 1.0, [start[(s, t)] for t in periods], [1.0] * len(periods)))
        for t, j in sorted(used_by_site[s], key=lambda x: index[x[0]]):
            ready = [start[(s, u)] for u in periods if index[u] + lead[s] <= index[t]]
            extra_rows.append((("qualified", t, s), -np.inf, 0.0, [j, *ready], [1.0] + [-1.0] * len(ready)))
    stock_cols: dict[tuple[str, str, str, int, int], int] = {}
    n_col, stock_cost, stock_keys, stock_rows = _stock(inputs, blocks, stocked, n_col, rlo, rhi, stock_cols)
    link_keys += stock_keys
    link_cost += stock_cost
    extra_rows += stock_rows
    contract_cols: dict[tuple[int, str], int] = {}
    n_col, c_cost, c_keys, c_rows = _contracts(inputs, blocks, n_col, contract_cols)
    link_keys += c_keys
    link_cost += c_cost
    extra_rows += c_rows
    reserve_cols: dict[int, int] = {}
    reserved_cols: dict[tuple[int, str], int] = {}
    col_hi: dict[int, float] = {}  # link columns with an upper bound other than none (binary: 1)
    n_col, r_cost, r_keys, r_rows = _reservations(inputs, blocks, n_col, use_cols, reserve_cols, reserved_cols, col_hi)
    link_keys += r_keys
    link_cost += r_cost
    extra_rows += r_rows
    for entry in extra_rows:
        if entry[0] == "__add__":  # terms for a block's existing row
            _, row, terms_ = entry
            ar.append(np.full(len(terms_), row, dtype=np.int64))
            ac.append(np.array([c for c, _ in terms_], dtype=np.int64))
            av.append(np.array([v for _, v in terms_], dtype=float))
            continue
        key, rl, rh, cols_, vals = entry
        ar.append(np.full(len(cols_), n_row, dtype=np.int64))
        ac.append(np.array(cols_, dtype=np.int64))
        av.append(np.array(vals, dtype=float))
        rlo.append(np.array([rl]))
        rhi.append(np.array([rh]))
        row_keys.append(key)
        n_row += 1
    k = len(link_keys)
    binary = np.array([key[0] == "start" for key in link_keys], dtype=bool)
    cs.append(np.array(link_cost, dtype=float))
    lo.append(np.zeros(k))
    link_hi = np.where(binary, 1.0, np.inf)
    for j, bound in col_hi.items():
        link_hi[j - col0] = bound
    hi.append(link_hi)
    integer.append(binary)
    col_keys += link_keys

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate([np.zeros(0, dtype=dtype), *parts]).astype(dtype, copy=False)

    cols = pd.DataFrame({"key": col_keys})
    cols["kind"] = [key[0] for key in col_keys]
    rows = pd.DataFrame({"key": row_keys})
    rows["kind"] = [key[0] for key in row_keys]
    cols.attrs["possible"] = sum(b.model.possible_columns() for b in blocks) + k
    # for a what-if's second solve among the cheapest plans (planner.whatif.batch.closest_plan): each block's
    # ship columns with their period, and the class tie-break as it stands in the stitched costs
    infos = [b.model.ship_info.assign(col=b.model.ship_info["col"] + b.col0, period=b.period)
             for b in blocks if b.model.ship_info is not None]
    ties = [(b.model.tiebreak if b.model.tiebreak is not None else np.zeros(b.model.n_cols)) * b.discount
            for b in blocks]
    lp = LinearModel(
        c=cat(cs, float), col_lo=cat(lo, float), col_hi=cat(hi, float), integer=cat(integer, bool),
        a_row=cat(ar, np.int64), a_col=cat(ac, np.int64), a_val=cat(av, float),
        row_lo=cat(rlo, float), row_hi=cat(rhi, float), cols=cols, rows=rows,
        net=blocks[0].model.net, inputs=inputs,
        ship_info=pd.concat(infos, ignore_index=True) if infos else None, tiebreak=cat([*ties, np.zeros(k)], float),
    )
    return HorizonModel(lp, blocks, inputs, start, lead, fee, stock_cols, contract_cols, reserve_cols, reserved_cols)


def buffer_stock(inputs: Inputs) -> list[tuple[str, str]]:
    """(site, input) pairs that may hold stock at a site that uses the input (not a plant's demand)."""
    if inputs.stock is None:
        return []
    plants = set(zip(inputs.demand["site_id"], inputs.demand["product"], strict=True))
    return sorted({k for k in zip(inputs.stock["site_id"], inputs.stock["product"], strict=True) if k not in plants})


def seeded_networks(horizons: list[Inputs], nets: list[list[Network]] | None = None) -> list[list[Network]]:
    """Each horizon's per-period networks (``nets``: already built, if given), rebuilt where an input held in
    stock at a site may be of a class or lead-time bucket that does not arrive there in that period: what
    arrives in one period can be drawn in another, so every period's network must carry, at that buffer and
    downstream of it, every (class, bucket) that arrives there in any period of any of the horizons (the
    regimes of a plan against regimes share them, so that periods with equal inputs keep equal models).
    Stock at one buffer can feed another's arrivals, so the seeds grow to a fixed point."""
    if nets is None:
        nets = [[build_network(h.for_period(t)) for t in h.period_ids] for h in horizons]
    pairs = set().union(*(buffer_stock(h) for h in horizons))
    if not pairs:
        return nets
    seeds: dict[tuple[str, str], set[tuple[int, int]]] = {k: set() for k in pairs}
    for h in horizons:
        for r in h.stock.itertuples(index=False):
            if (r.site_id, r.product) in pairs and float(r.initial_stock_t) > 0:
                seeds[(r.site_id, r.product)].add((0, 0))  # the initial stock: clean, ready
    # periods that share a network (equal inputs) share its rebuild: networks by identity, with where from
    where = {id(n): (h, t) for h, ns in zip(horizons, nets, strict=True) for t, n in zip(h.period_ids, ns,
                                                                                           strict=True)}
    carried = {id(n): _arrivals(n, pairs) for ns in nets for n in ns}  # what a network plans at each buffer
    current = nets
    for _ in range(len(pairs) + 1):
        for c in carried.values():
            for key in pairs:
                seeds[key] |= c[key]
        # a network whose buffers already carry every seed is what a seeded build would give: kept as is
        stale = {i for i, c in carried.items() if any(not seeds[k] <= c[k] for k in pairs)}
        if not stale:
            break
        fresh = {}
        for i in stale:
            h, t = where[i]
            n = fresh[i] = build_network(h.for_period(t), seeds=seeds)
            where[id(n)] = where[i]
            carried[id(n)] = {k: v | seeds[k] for k, v in _arrivals(n, pairs).items()}
            del carried[i]
        current = [[fresh.get(id(n), n) for n in ns] for ns in current]
    return current


def _arrivals(net: Network, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], set[tuple[int, int]]]:
    """(site, input) -> the (class, bucket) pairs that arrive there in ``net``'s shipments."""
    out: dict[tuple[str, str], set[tuple[int, int]]] = {k: set() for k in pairs}
    sh, lanes = net.ships, net.lanes
    if not len(sh):
        return out
    to = lanes["to_site"].to_numpy(dtype=object)[sh["lane"].to_numpy()]
    product = lanes["product"].to_numpy(dtype=object)[sh["lane"].to_numpy()]
    for key in pairs:
        m = (to == key[0]) & (product == key[1])
        if m.any():
            out[key].update(zip(sh["arr_cls"].to_numpy()[m].tolist(), sh["arr_bucket"].to_numpy()[m].tolist(),
                                strict=True))
    return out


def _stock_terms(inputs: Inputs) -> dict[tuple[str, str], dict[str, float]]:
    """(plant, product) that may hold stock, with its terms: the Stock sheet's rows, and every demand with
    a min_cover_days (a stockpile needs stock: unlimited and free to hold unless a Stock row says more)."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    dem = inputs.demand
    for r in dem[dem["min_cover_days"].fillna(0) > 0].itertuples(index=False):
        out[(r.site_id, r.product)] = {"capacity": np.inf, "holding": 0.0, "initial": 0.0}
    if inputs.stock is not None:
        for r in inputs.stock.itertuples(index=False):
            cap = r.stock_capacity_t
            out[(r.site_id, r.product)] = {"capacity": np.inf if cap is None or pd.isna(cap) else float(cap),
                                           "holding": float(r.holding_cost_usd_per_kg_yr),
                                           "initial": float(r.initial_stock_t)}
    return out


def _stock(inputs: Inputs, blocks: list[Block], stocked: frozenset, n_col: int, rlo: list[np.ndarray],
           rhi: list[np.ndarray], stock_cols: dict) -> tuple[int, list[float], list[tuple], list[tuple]]:
    """Stock at plants between periods: the columns and rows, appended after the blocks.

    ``stock[t, plant, product, class, bound]``: closing stock of period t, by the exposure class and the
    lead-time bound it arrived with (so an exposed tonne stays exposed and a draw needs no new licence).
    In period t, what a plant uses of (class, bound) is what arrived in t plus the opening stock less the
    closing stock; it must not be negative, and is 0 where the bound is above t's lead-time limit (such
    stock can only be carried). The block's demand row counts uses instead of arrivals, and its exposure
    row the exposed uses. Also: stock capacity, holding cost, the initial stock (clean, lead time 0,
    moved into the first demand row's bounds) and min_cover_days.
    """
    terms = _stock_terms(inputs)
    periods = [b.period for b in blocks]
    days = dict(zip(inputs.periods["period"], inputs.periods["days"], strict=True))
    cost: list[float] = []
    keys: list[tuple] = []
    rows: list[tuple] = []
    plants = set(zip(inputs.demand["site_id"], inputs.demand["product"], strict=True))
    n_col = _buffer_stock(inputs, blocks, sorted(k for k in stocked if k not in plants), terms, n_col, rlo, rhi,
                          stock_cols, cost, keys, rows)
    # per block model (regimes share them), read once: arrivals at each (plant, product) by (class, bound),
    # its demand row, and its demand and exposure rows' indexes
    seen: dict[int, tuple[dict, dict, dict]] = {}
    for b in blocks:
        m = b.model
        if id(m) in seen:
            continue
        si = m.ship_info
        arr_of: dict[tuple[str, str], dict[tuple[int, int], list[int]]] = {}
        if si is not None and len(si):
            for to, q, col, c, bk in zip(si["to_site"].tolist(), si["product"].tolist(), si["col"].tolist(),
                                         si["arr_cls"].tolist(), si["arr_bucket"].tolist(), strict=True):
                if (to, q) in stocked:
                    arr_of.setdefault((to, q), {}).setdefault((int(c), int(bk)), []).append(int(col))
        d = m.net.demand
        dem_of = {(r["site_id"], r["product"]): r for _, r in d.iterrows() if (r["site_id"], r["product"]) in stocked}
        row_of = {(key[0], key[1], key[2]): i for i, key in enumerate(m.rows["key"].tolist())
                  if key[0] in ("demand", "exposure") and (key[1], key[2]) in stocked}
        seen[id(m)] = (arr_of, dem_of, row_of)
    for plant, product in sorted(k for k in stocked if k in plants):
        term = terms[(plant, product)]
        arrivals = []  # per block: {(class, bound): [stitched ship columns]}
        limit, qty, cover, dem_row, exp_row, cap = [], [], [], [], [], []
        for b in blocks:
            arr_of, dem_of, row_of = seen[id(b.model)]
            arrivals.append({key: [b.col0 + c for c in cols]
                             for key, cols in arr_of.get((plant, product), {}).items()})
            row = dem_of.get((plant, product))
            lim = row["max_lead_time_days"] if row is not None else None
            limit.append(INF if lim is None or pd.isna(lim) else int(lim))
            qty.append(float(row["quantity_t"]) if row is not None else 0.0)
            cover.append(int(row["min_cover_days"]) if row is not None and not pd.isna(row["min_cover_days"]) else 0)
            share = row["max_exposed_share"] if row is not None else None
            cap.append(float(inputs.settings["max_exposed_share"]) if share is None or pd.isna(share) else float(share))
            dem = row_of.get(("demand", plant, product))
            exp = row_of.get(("exposure", plant, product))
            dem_row.append(b.row0 + dem if dem is not None else -1)
            exp_row.append(b.row0 + exp if exp is not None else -1)
        pairs = sorted({(0, 0)} | {key for arr in arrivals for key in arr})
        col, n_col = _stock_columns(plant, product, pairs, blocks, term["holding"], days, n_col, stock_cols, keys, cost)
        initial = term["initial"]
        for k, t in enumerate(periods):
            usable = [key for key in pairs if key[1] <= limit[k]]
            exposed = [key for key in usable if key[0] & EXPOSED]
            for key in pairs:
                # closing - opening - arrivals <= 0 (what is used is not negative); = where it cannot be used
                cols_ = [col[(k, key)], *([col[(k - 1, key)]] if k else []), *arrivals[k].get(key, [])]
                vals = [1.0, *([-1.0] if k else []), *([-1.0] * len(arrivals[k].get(key, [])))]
                rhs = initial if k == 0 and key == (0, 0) else 0.0
                rows.append((("stock_flow", t, plant, product, *key), rhs if key not in usable else -np.inf, rhs,
                             cols_, vals))
            if dem_row[k] >= 0:  # uses = arrivals + opening - closing, over the usable (class, bound)
                terms_ = [(col[(k, key)], -1.0) for key in usable] + [(col[(k - 1, key)], 1.0) for key in usable if k]
                rows.append(("__add__", dem_row[k], terms_))
                if k == 0 and (0, 0) in usable and initial:
                    blk = blocks[0]
                    i = dem_row[0] - blk.row0
                    rlo[0][i] -= initial
                    rhi[0][i] -= initial
            if exposed and cap[k] < 1.0:
                terms_ = [(col[(k, key)], -1.0) for key in exposed] + [(col[(k - 1, key)], 1.0) for key in exposed if k]
                if exp_row[k] >= 0:
                    rows.append(("__add__", exp_row[k], terms_))
                elif k:  # the block had no exposed arrival, so no exposure row: the exposed draws get one
                    rows.append((("stock_exposure", t, plant, product), -np.inf, cap[k] * qty[k],
                                 [c for c, _ in terms_], [v for _, v in terms_]))
            all_cols = [col[(k, key)] for key in pairs]
            if term["capacity"] < np.inf:
                rows.append((("stock_capacity", t, plant, product), -np.inf, term["capacity"], all_cols,
                             [1.0] * len(all_cols)))
            if cover[k]:
                # closing stock covers cover days of the next period's use (the last period: of its own),
                # counting only stock the next period can use
                nxt = min(k + 1, len(periods) - 1)
                need = cover[k] * qty[nxt] / days[periods[nxt]]
                ok = [col[(k, key)] for key in pairs if key[1] <= limit[nxt]]
                rows.append((("stock_cover", t, plant, product), need, np.inf, ok, [1.0] * len(ok)))
    return n_col, cost, keys, rows


def _stock_columns(site: str, product: str, grid: list[tuple[int, int]], blocks: list[Block], holding: float,
                   days: dict, n_col: int, stock_cols: dict, keys: list[tuple], cost: list[float]) -> tuple[dict, int]:
    """The closing-stock columns of a (site, product), per period and (class, bound) of ``grid``, each paying
    its period's holding cost (discounted). Returns (period index, (class, bound)) -> column, and ``n_col``."""
    col: dict[tuple[int, tuple[int, int]], int] = {}
    for k, b in enumerate(blocks):
        for cb in grid:
            col[(k, cb)] = n_col
            stock_cols[(b.period, site, product, *cb)] = n_col
            keys.append(("stock", b.period, site, product, *cb))
            cost.append(1000.0 * holding * days[b.period] / 365.0 * b.discount)
            n_col += 1
    return col, n_col


def _buffer_stock(inputs: Inputs, blocks: list[Block], pairs: list[tuple[str, str]], terms: dict, n_col: int,
                  rlo: list[np.ndarray], rhi: list[np.ndarray], stock_cols: dict, cost: list[float],
                  keys: list[tuple], rows: list[tuple]) -> int:
    """Stock of an input at a site that makes something from it (a magnet maker holding Dy metal, a refiner
    holding concentrate), between periods: ``stock[t, site, input, class, bound]`` as at plants, by the
    exposure class and lead-time bound the input arrived with. In each period the site's input balance row
    of that (class, bound) gains the opening stock and loses the closing stock, so stock is what arrived and
    was not used (or moved on to a dirtier class or a later bound), and a draw feeds batches exactly as an
    arrival of that class and bound would: an exposed tonne stays exposed, and no new licence is needed.
    Where a period has no balance row for a (class, bound), its stock can only be carried. The initial stock
    is clean and ready (class 0, bound 0). Appends to ``cost``, ``keys`` and ``rows``; returns ``n_col``."""
    if not pairs:
        return n_col
    periods = [b.period for b in blocks]
    days = dict(zip(inputs.periods["period"], inputs.periods["days"], strict=True))
    wanted = set(pairs)
    found: dict[int, dict[tuple[str, str], dict[tuple[int, int], int]]] = {}
    where = []  # per block: (site, input) -> {(class, bound): block row}
    for b in blocks:
        m = b.model
        if id(m) not in found:
            by: dict[tuple[str, str], dict[tuple[int, int], int]] = {}
            for n, key in enumerate(m.rows["key"].tolist()):
                if key[0] == "balance" and (key[1], key[2]) in wanted:
                    by.setdefault((key[1], key[2]), {})[(int(key[3]), int(key[4]))] = n
            found[id(m)] = by
        where.append(found[id(m)])
    for site, product in pairs:
        term = terms[(site, product)]
        grid = sorted({(0, 0)} | {cb for w in where for cb in w.get((site, product), {})})
        col, n_col = _stock_columns(site, product, grid, blocks, term["holding"], days, n_col, stock_cols, keys, cost)
        initial = term["initial"]
        for k, t in enumerate(periods):
            own = where[k].get((site, product), {})
            for cb in grid:
                opening = [(col[(k - 1, cb)], 1.0)] if k else []
                row = own.get(cb)
                if row is not None:  # arrived + opening - closing feeds the batches (equality row)
                    rows.append(("__add__", blocks[k].row0 + row, [(col[(k, cb)], -1.0), *opening]))
                    if k == 0 and cb == (0, 0) and initial:
                        rlo[0][row] -= initial
                        rhi[0][row] -= initial
                else:  # nothing of it arrives or is used in t: carried (or written off), never increased
                    rhs = initial if k == 0 and cb == (0, 0) else 0.0
                    rows.append((("stock_flow", t, site, product, *cb), -np.inf, rhs,
                                 [col[(k, cb)], *(c for c, _ in opening)], [1.0, *(-v for _, v in opening)]))
            if term["capacity"] < np.inf:
                every = [col[(k, cb)] for cb in grid]
                rows.append((("stock_capacity", t, site, product), -np.inf, term["capacity"], every,
                             [1.0] * len(every)))
    return n_col


def contract_periods(inputs: Inputs, row: pd.Series) -> list[str]:
    """The periods a Contracts row is in force: from first_period (blank: the first) to last_period."""
    return inputs.in_force(row)


def contract_columns(block: Block, row: pd.Series) -> list[int]:
    """A period's ship columns (stitched) that a Contracts row counts: from its site, of its product, to its
    plant (blank: to any site)."""
    si = block.model.ship_info
    if si is None or not len(si):
        return []
    m = (si["from_site"] == row["site_id"]) & (si["product"] == row["product"])
    if row["plant"]:
        m &= si["to_site"] == row["plant"]
    return (block.col0 + si.loc[m, "col"].to_numpy(dtype=np.int64)).tolist()


def _contracts(inputs: Inputs, blocks: list[Block], n_col: int, tp_cols: dict) -> tuple[int, list, list, list]:
    """Contracts in force: per period, what the supplier ships under it is within [min_t, max_t]; under
    take-or-pay, the minimum is paid (at the supplier's unit cost that period) even if less is taken."""
    cost: list[float] = []
    keys: list[tuple] = []
    rows: list[tuple] = []
    if inputs.contracts is None:
        return n_col, cost, keys, rows
    by = {b.period: b for b in blocks}
    for i, r in inputs.contracts.reset_index(drop=True).iterrows():
        lo = float(r["min_t"] or 0.0)
        hi = np.inf if r["max_t"] is None or pd.isna(r["max_t"]) else float(r["max_t"])
        for t in contract_periods(inputs, r):
            b = by[t]
            cols = contract_columns(b, r)
            if r["take_or_pay"]:
                sup = b.model.net.supply
                key = (r["site_id"], r["product"])
                price = float(sup.at[key, "unit_cost_usd_per_kg"]) if key in sup.index else 0.0
                tp_cols[(i, t)] = n_col
                keys.append(("take_or_pay", t, i))
                cost.append(1000.0 * price * b.discount)
                rows.append((("contract_min", t, i), lo, np.inf, [*cols, n_col], [1.0] * (len(cols) + 1)))
                n_col += 1
                if hi < np.inf:
                    rows.append((("contract_max", t, i), -np.inf, hi, cols, [1.0] * len(cols)))
            else:
                if lo > 0 and not cols:
                    raise InputError(f"a contract's minimum cannot be taken in {t}", [Issue(
                        "Contracts", int(r["_row"]), 0, "site_id",
                        f"{r['site_id']} cannot ship {r['product']} to {r['plant'] or 'any site'} in {t} (no lane, "
                        "or nothing it could deliver there in time), so its minimum cannot be taken; make it "
                        "take-or-pay, or lower min_t")])
                rows.append((("contract", t, i), lo, hi, cols, [1.0] * len(cols)))
    return n_col, cost, keys, rows


def _reservations(inputs: Inputs, blocks: list[Block], n_col: int, use_cols: dict[tuple[str, str], int],
                  reserve: dict[int, int], reserved: dict[tuple[int, str], int],
                  col_hi: dict[int, float]) -> tuple[int, list, list, list]:
    """Reserved volumes: per Reservations row, ``R`` tonnes a year (at most max_t), paid in every period it
    runs (fee x R x days / 365, discounted) whether taken or not; per period it runs, ``u`` tonnes taken
    under it, at most ``R x days / 365``. What a site makes of the product is within its Supply capacity
    plus what it makes under its reservations. The period's own capacity row holds the site to capacity plus
    the most reservable (Inputs.for_period), and still gates a candidate by its use column; the row added
    here, per (period, site, product), is the binding one."""
    cost: list[float] = []
    keys: list[tuple] = []
    rows: list[tuple] = []
    if inputs.reservations is None:
        return n_col, cost, keys, rows
    by = {b.period: b for b in blocks}
    days = dict(zip(inputs.period_ids, inputs.periods["days"].astype(int).tolist(), strict=True))
    taken: dict[tuple[str, str, str], list[int]] = {}  # (period, site, product) -> its u columns
    for i, r in inputs.reservations.reset_index(drop=True).iterrows():
        runs = inputs.in_force(r)
        site, product = r["site_id"], r["product"]
        reserve[i] = n_col
        col_hi[n_col] = float(r["max_t"])
        keys.append(("reserve", runs[0], i, site, product))
        cost.append(1000.0 * float(r["fee_usd_per_kg_yr"]) * sum(days[t] / 365.0 * by[t].discount for t in runs))
        n_col += 1
        for t in runs:
            reserved[(i, t)] = n_col
            keys.append(("reserved", t, i))
            cost.append(0.0)
            rows.append((("reserve_use", t, i), -np.inf, 0.0, [n_col, reserve[i]], [1.0, -days[t] / 365.0]))
            taken.setdefault((t, site, product), []).append(n_col)
            n_col += 1
    lookup: dict[int, dict[tuple, int]] = {}
    reservable = {t: inputs.reservable(t) for t in {t for t, _, _ in taken}}
    for (t, site, product), us in taken.items():
        b = by[t]
        m = b.model
        where = lookup.get(id(m))
        if where is None:
            where = lookup[id(m)] = {k: n for n, k in enumerate(m.rows["key"].tolist()) if k[0] == "capacity"}
        row = where.get(("capacity", site, product))
        if row is None:
            continue  # nothing of it can be made (or used) in t: what is reserved there is paid for and idle
        at = m.a_row == row
        make = (m.a_col[at][m.a_val[at] > 0] + b.col0).tolist()
        reach = float(m.net.supply.at[(site, product), "capacity_t"])
        cap = max(reach - reservable[t][(site, product)] * days[t] / 365.0, 0.0)
        use = use_cols.get((site, t))
        if use is None:
            rows.append((("reserved_capacity", t, site, product), -np.inf, cap, [*make, *us],
                         [1.0] * len(make) + [-1.0] * len(us)))
        else:
            rows.append((("reserved_capacity", t, site, product), -np.inf, 0.0, [*make, *us, use],
                         [1.0] * len(make) + [-1.0] * len(us) + [-cap]))
    return n_col, cost, keys, rows
