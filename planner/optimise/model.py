"""Build the sourcing LP/MIP as sparse arrays (pure: no I/O, no solver).

Variables (all tonnes per year unless noted):

* ``make[s, q, c, b]``  output of q at site s in exposure class c, lead-time bucket b
* ``ship[l, c, b]``     shipment on lane l of material that left in class c, bucket b
* ``down[s, p, from, to]`` input p at s used in a dirtier class or a later bucket
  than it arrived in (a clean input may go into an exposed batch, an early input
  may wait; never the reverse)
* ``short[d, p]``       unmet demand (only when shortage is allowed)
* ``share_total[stage, p]`` all shipped of p by sites of that stage (only under a country share cap)
* ``use[s]``            1 if a candidate site, or a site with a minimum volume, is used (binary)

Rows: capacity, outflow <= make (free disposal), input balance per class and
bucket, coproduct <= ratio x main, demand, exposure caps, supplier and country
share caps, minimum volumes, and ``ship <= bound x use`` for lanes out of
binary sites (a valid tightening that makes the MIP relaxation strong).

How it is built: each kind of column is one block of arrays (its keys, cost
and bounds), and each kind of row one function that lays out its rows and
joins its terms to the columns with vectorised look-ups on integer keys
(``_Index``), never element by element. Columns come in the order use, make,
ship, down, short, share_total; rows in the order listed above; within a kind, in sorted key
order (ship columns: in lane order, as ``Network.ships``). That order is part
of the model: solvers break ties on degenerate models by it.

Numerics and tie-breaks (issue 16). Costs are USD per tonne in the model as in every report: unit costs
1e3-1e5, shortage 8e5 (bundled) to 2e6, expected denial losses up to 1.6e7 (0.4 x 40,000 USD/kg),
objectives 1e9-1e11. Two tie-breaks, both absolute, both in ``LinearModel.tiebreak`` and so left out of
every reported cost: ``EPS_CLASS`` (1e-2 USD/t per exposure flag a batch or shipment adds) and
``EPS_HOLD`` (1e-3 USD/t per bucket an input waits). Why absolute and this size: a tie-break has to be
honoured at the vertex the solver returns, whose reduced costs are exact to HiGHS's dual feasibility
tolerance (1e-7, in these units: HiGHS's simplex does not scale costs by default), so 1e-3 is 1e4 times above it on any
instance; and its total over a plan (tonnes moved x a few cents, 1e2-1e4 USD on the largest benchmark
cases) stays under 1e-6 of the objective, far inside the MIP gap (1e-4) and the report's check of the
objective (1e-6 of it plus 0.02 USD per tonne moved), so it never changes which plan is cheapest.
Scaling them with the instance's cost scale would move them towards or below that tolerance on small
cases and buy nothing on large ones. A lexicographic second solve (cheapest first, then least exposed
among the cheapest) would be exact but double the solve, which is the whole run on large cases. The
costs' span itself (1e-3 to 1.6e7) is left to HiGHS's own scaling: the interior point converges on
every representative benchmark case with it; on the legacy scale-66 case it stalls on the presolved model
whatever the objective's scale or the tie-breaks' size (1e-3 or 1e-2), and converges without presolve, which
``solve.run_guarded`` then runs (bench/RESULTS.md, issue 16 items 2-3).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, repeat

import numpy as np
import pandas as pd

from planner.input.data import Inputs
from planner.optimise.network import EXPOSED, INF, Network, build_network, distinct, hasse_edges, ragged

# Tie-break, USD per tonne made or delivered in a class with more flags than it had: among
# equally cheap plans prefer the least exposed one, so a clean batch is never
# reported exposed just because the solver was indifferent. Far below any real
# cost (1e-5 USD/kg) and excluded from every reported cost.
EPS_CLASS = 1e-2
# Tie-break, USD per tonne an input waits from one lead-time bucket to the next (a time move of a ``down``
# column): among equally cheap plans prefer the one that does not hold material for nothing. At zero cost
# the waits made the optimal face large and HiGHS's interior point stalled on it (issue 16: legacy scale
# 41, "no progress", then 158k simplex iterations). A tenth of EPS_CLASS, so that it never outweighs the
# exposure tie-break; in ``tiebreak``, so excluded from every reported cost.
EPS_HOLD = 1e-3


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
    # the part of ``c`` that is the class tie-break (EPS_CLASS per flag added): a second solve that looks for
    # another plan among the cheapest (a what-if's closest plan) must keep preferring the least exposed labels
    tiebreak: np.ndarray | None = None

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


# --------------------------------------------------------------------------- building blocks


def _keys(kind: str, *parts: np.ndarray | list) -> list[tuple]:
    """Key tuples ``(kind, *part values)``; array parts become Python objects (ints, strings)."""
    lists = [(_int_objects(p) if p.dtype.kind == "i" else p.tolist()) if isinstance(p, np.ndarray) else p
             for p in parts]
    n = len(lists[0]) if lists else 0
    return list(zip(repeat(kind, n), *lists, strict=True))


def _int_objects(values: np.ndarray) -> list[int]:
    """``values.tolist()``, with one int object per distinct value (lanes, days, INF): keys hold millions."""
    if not len(values) or values.min() < 0:
        return values.tolist()
    finite = values < INF
    top = int(values.max(where=finite, initial=-1)) + 1
    if top > 1 << 20 or not (finite | (values == INF)).all():
        return values.tolist()
    table = np.arange(top + 1).astype(object)
    table[top] = INF
    return table[np.where(finite, values, top)].tolist()


def _ints(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lists of ints as one flat array, with each list's start and length."""
    n = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
    flat = np.fromiter(chain.from_iterable(lists), dtype=np.int64, count=int(n.sum()))
    return flat, np.cumsum(n) - n, n


def _grid(first: list[list[int]], second: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each owner k: every (a, b) of first[k] x second[k], a-major. Returns owner, a, b per element."""
    fa, sa, na = _ints(first)
    fb, sb, nb = _ints(second)
    owner, pos = ragged(na * nb)
    nb_o = nb[owner]
    return owner, fa[sa[owner] + pos // np.maximum(nb_o, 1)], fb[sb[owner] + pos % np.maximum(nb_o, 1)]


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x.astype(np.int64))


class _Index:
    """Positions of integer tuples in a table of them: a vectorised dict look-up (-1: absent).

    Tuples are packed into one int64; a column too wide for that is replaced by its rank among the
    table's distinct values.
    """

    MAX_BITS = 62

    def __init__(self, *columns: np.ndarray) -> None:
        self.n = len(columns[0])
        self.values: list[np.ndarray | None] = [None] * len(columns)
        self.bits = [int(c.max()).bit_length() if len(c) else 1 for c in columns]
        assert all(not len(c) or c.min() >= 0 for c in columns)
        for k in np.argsort(self.bits)[::-1].tolist():  # widest first
            if sum(self.bits) <= self.MAX_BITS:
                break
            self.values[k] = distinct(columns[k])
            self.bits[k] = max(len(self.values[k]) - 1, 1).bit_length()
        assert sum(self.bits) <= self.MAX_BITS, "too many distinct keys to pack"
        code, _ = self._pack(columns)
        self.order = np.argsort(code, kind="stable")
        self.sorted = code[self.order]

    def _pack(self, columns: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
        n = len(columns[0])
        code = np.zeros(n, dtype=np.int64)
        ok = np.ones(n, dtype=bool)
        for col, bits, values in zip(columns, self.bits, self.values, strict=True):
            col = np.asarray(col, dtype=np.int64)
            if values is not None:
                i = np.searchsorted(values, col)
                ok &= (i < len(values)) & (values[np.minimum(i, len(values) - 1)] == col)
                col = i
            else:
                ok &= (col >= 0) & (col < (1 << bits))
            code = (code << bits) | np.where(ok, col, 0)
        return code, ok

    def find(self, *columns: np.ndarray) -> np.ndarray:
        if not self.n:
            return np.full(len(columns[0]), -1, dtype=np.int64)
        code, ok = self._pack(columns)
        i = np.searchsorted(self.sorted, code)
        at = np.minimum(i, self.n - 1)
        return np.where(ok & (i < self.n) & (self.sorted[at] == code), self.order[at], -1)


class _Columns:
    """The model's columns, a kind at a time."""

    def __init__(self) -> None:
        self.n = 0
        self.parts: list[tuple[list[tuple], np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, keys: list[tuple], cost: np.ndarray | float, lo: np.ndarray | float = 0.0,
            hi: np.ndarray | float = np.inf, integer: bool = False, tie: np.ndarray | float = 0.0) -> int:
        """Append one column per key (``tie``: the part of ``cost`` that is the class tie-break); returns the
        index of the first."""
        n = len(keys)
        first = self.n
        self.parts.append((keys, *(np.broadcast_to(np.asarray(v, dtype=float), n) for v in (cost, lo, hi)),
                           np.full(n, integer, dtype=bool), np.broadcast_to(np.asarray(tie, dtype=float), n)))
        self.n += n
        return first


class _Rows:
    """The model's rows, a kind at a time, and the matrix entries of each."""

    def __init__(self) -> None:
        self.n = 0
        self.parts: list[tuple[list[tuple], np.ndarray, np.ndarray]] = []
        self.mixed: list[bool] = []  # per part: whether its keys are of several kinds
        self.entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, keys: list[tuple], lo: np.ndarray | float, hi: np.ndarray | float, mixed: bool = False) -> int:
        """Append one row per key (all of one kind unless ``mixed``); returns the index of the first."""
        n = len(keys)
        first = self.n
        self.parts.append((keys, *(np.broadcast_to(np.asarray(v, dtype=float), n) for v in (lo, hi))))
        self.mixed.append(mixed)
        self.n += n
        return first

    def terms(self, row: np.ndarray | int, col: np.ndarray | int, val: np.ndarray | float) -> None:
        """Matrix entries (broadcast); zeros are dropped when the model is assembled."""
        row, col, val = np.broadcast_arrays(np.asarray(row, dtype=np.int64), np.asarray(col, dtype=np.int64),
                                            np.asarray(val, dtype=float))
        self.entries.append((row.ravel(), col.ravel(), val.ravel()))


@dataclass
class _Make:
    """The make columns: one per (active key, class, bucket), keys in sorted order."""

    first: int
    keys: list[tuple[str, str]]  # sorted active (site, product)
    pos: dict[tuple[str, str], int]
    key: np.ndarray  # per column: position of its (site, product) in ``keys``
    cls: np.ndarray
    bucket: np.ndarray
    start: np.ndarray  # per key: its first column (relative to ``first``) and count
    count: np.ndarray
    index: _Index  # (key, cls, bucket) -> column (relative)


@dataclass
class _Ships:
    """The ship columns, as ``Network.ships``: one per departure (lane, class, bucket) that can arrive in time."""

    first: int
    lane: np.ndarray
    cls: np.ndarray
    bucket: np.ndarray
    arr_cls: np.ndarray
    arr_bucket: np.ndarray


@dataclass
class _Down:
    """The down columns: input carried from (class, bucket) to a dirtier class or a later bucket."""

    first: int
    key: np.ndarray  # position of (site, product) in the balance keys
    cls_from: np.ndarray
    b_from: np.ndarray
    cls_to: np.ndarray
    b_to: np.ndarray


# --------------------------------------------------------------------------- columns


def _use_columns(x: _Columns, net: Network) -> dict[str, int]:
    """Per binary site: its use column (qualification cost for a candidate)."""
    sites = net.sites
    cost = [float(sites.at[s, "qualification_cost_usd"]) if sites.at[s, "status"] == "candidate" else 0.0
            for s in net.binary_sites]
    first = x.add(_keys("use", list(net.binary_sites)), cost, 0.0, 1.0, integer=True)
    return {s: first + i for i, s in enumerate(net.binary_sites)}


def _make_columns(x: _Columns, net: Network) -> _Make:
    """Per active (site, product), class made and bucket: unit cost, plus the class tie-break."""
    keys = sorted(net.active)
    key, cls, bucket = _grid([net.out_classes.get(k, []) for k in keys], [net.out_buckets.get(k, []) for k in keys])
    count = np.bincount(key, minlength=len(keys)).astype(np.int64)
    unit = net.supply["unit_cost_usd_per_kg"].to_numpy(dtype=float)[net.supply.index.get_indexer(keys)] if keys \
        else np.zeros(0)
    origin = np.array([net.origin.get(k, 0) for k in keys], dtype=np.int64)
    tie = EPS_CLASS * _popcount(cls ^ origin[key])
    cost = (1000.0 * unit)[key] + tie
    site = np.array([s for s, _ in keys], dtype=object)
    product = np.array([q for _, q in keys], dtype=object)
    first = x.add(_keys("make", site[key], product[key], cls, bucket), cost, tie=tie)
    return _Make(first, keys, {k: i for i, k in enumerate(keys)}, key, cls, bucket, np.cumsum(count) - count, count,
                 _Index(key, cls, bucket))


def _ship_columns(x: _Columns, net: Network, risk_weight: float) -> _Ships:
    """Per departure: freight, duty and tariff, plus the weighted expected denial loss and the class tie-break."""
    sh = net.ships
    assert sh is not None, "a network from build_network lists its ships"
    lane, cls, arr_cls = (sh[c].to_numpy(dtype=np.int64) for c in ("lane", "cls", "arr_cls"))
    bucket, arr_bucket = sh["bucket"].to_numpy(dtype=np.int64), sh["arr_bucket"].to_numpy(dtype=np.int64)
    loss = sh["loss"].to_numpy(dtype=float)
    per_t = net.lanes["cost_per_t"].to_numpy(dtype=float)[lane]
    tie = EPS_CLASS * _popcount(arr_cls ^ cls)
    cost = per_t + risk_weight * loss + tie
    first = x.add(_keys("ship", lane, cls, bucket), cost, tie=tie)
    return _Ships(first, lane, cls, bucket, arr_cls, arr_bucket)


def _balance_keys(net: Network) -> list[tuple[str, str]]:
    """Input buffers that get balance rows and down columns: every buffer but a plant's."""
    plants = set(zip(net.demand["site_id"], net.demand["product"], strict=True))
    return [k for k in sorted(net.buffer_classes) if k not in plants]


def _down_columns(x: _Columns, net: Network, keys: list[tuple[str, str]]) -> _Down:
    """Per buffer: for each bucket, each class -> covering dirtier class; then for each class, bucket -> next."""
    classes = [net.buffer_classes[k] for k in keys]
    buckets = [net.buffer_buckets.get(k, []) for k in keys]
    cache: dict[tuple[int, ...], list[tuple[int, int]]] = {}
    edges = [cache.setdefault(tuple(c), hasse_edges(c)) for c in classes]
    e_from, e_start, n_edges = _ints([[a for a, _ in e] for e in edges])
    e_to = _ints([[z for _, z in e] for e in edges])[0]
    b_flat, b_start, n_b = _ints(buckets)
    # class moves: bucket-major, then edge
    key1, b1, edge = _grid(buckets, [list(range(s, s + n)) for s, n in zip(e_start.tolist(), n_edges.tolist(),
                                                                            strict=True)])
    # time moves: class-major, then consecutive buckets (by position in b_flat)
    key2, c2, step = _grid(classes, [list(range(s, s + max(n - 1, 0))) for s, n in zip(b_start.tolist(), n_b.tolist(),
                                                                                      strict=True)])
    # per buffer, its class moves first
    key = np.concatenate([key1, key2])
    order = np.argsort(key, kind="stable")
    key = key[order]
    cls_from = np.concatenate([e_from[edge], c2])[order]
    cls_to = np.concatenate([e_to[edge], c2])[order]
    b_from = np.concatenate([b1, b_flat[step]])[order]
    b_to = np.concatenate([b1, b_flat[step + 1]])[order]
    site = np.array([s for s, _ in keys], dtype=object)
    product = np.array([p for _, p in keys], dtype=object)
    tie = np.where(b_to != b_from, EPS_HOLD, 0.0)
    first = x.add(_keys("down", site[key], product[key], cls_from, b_from, cls_to, b_to), tie, tie=tie)
    return _Down(first, key, cls_from, b_from, cls_to, b_to)


def _short_columns(x: _Columns, net: Network, default_short: float) -> dict[int, int]:
    """Per demand row (position in ``net.demand``): its shortage column."""
    dem = net.demand
    cost = [1000.0 * (default_short if c is None or pd.isna(c) else float(c)) for c in dem["shortage_cost_usd_per_kg"]]
    keys = _keys("short", dem["site_id"].tolist(), dem["product"].tolist())
    first = x.add(keys, cost, 0.0, dem["quantity_t"].to_numpy(dtype=float))
    return {d: first + d for d in range(len(dem))}


# --------------------------------------------------------------------------- rows


def _capacity_rows(a: _Rows, net: Network, make: _Make, use: dict[str, int]) -> None:
    """Per active (site, product): made in every class and bucket <= capacity (x use for binary sites)."""
    keys = make.keys
    cap = net.supply["capacity_t"].to_numpy(dtype=float)[net.supply.index.get_indexer(keys)] if keys else np.zeros(0)
    binary = np.array([s in use for s, _ in keys], dtype=bool)
    first = a.add(_keys("capacity", [s for s, _ in keys], [q for _, q in keys]), -np.inf, np.where(binary, 0.0, cap))
    a.terms(first + make.key, make.first + np.arange(len(make.key)), 1.0)
    k = np.flatnonzero(binary)
    a.terms(first + k, np.array([use[keys[i][0]] for i in k], dtype=np.int64), -cap[k])


def _lane_ends(net: Network) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Per lane: (sender, product) and (receiver, product)."""
    product = net.lanes["product"].tolist()
    return (list(zip(net.lanes["from_site"].tolist(), product, strict=True)),
            list(zip(net.lanes["to_site"].tolist(), product, strict=True)))


def _ship_make(make: _Make, ship: _Ships, senders: list[tuple[str, str]]) -> np.ndarray:
    """Per ship column: the make column (relative) of the batch it carries."""
    sender = [make.pos[k] for k in senders]
    at = make.index.find(np.array(sender, dtype=np.int64)[ship.lane], ship.cls, ship.bucket)
    assert (at >= 0).all()
    return at


def _outflow_rows(a: _Rows, make: _Make, ship: _Ships, ship_make: np.ndarray) -> None:
    """Per batch that ships: what leaves <= what is made."""
    ships = np.zeros(len(make.key), dtype=bool)
    ships[ship_make] = True
    m = np.flatnonzero(ships)
    row = np.cumsum(ships) - 1
    first = a.add(_keys("outflow", *_make_key_parts(make, m)), -np.inf, 0.0)
    a.terms(first + row[ship_make], ship.first + np.arange(len(ship.lane)), 1.0)
    a.terms(first + np.arange(len(m)), make.first + m, -1.0)


def _make_key_parts(make: _Make, m: np.ndarray) -> tuple[list, list, np.ndarray, np.ndarray]:
    site = [make.keys[k][0] for k in make.key[m].tolist()]
    product = [make.keys[k][1] for k in make.key[m].tolist()]
    return site, product, make.cls[m], make.bucket[m]


def _balance_rows(a: _Rows, net: Network, keys: list[tuple[str, str]], make: _Make, ship: _Ships, down: _Down,
                  receivers: list[tuple[str, str]]) -> None:
    """Per buffer, class and bucket: arrivals + carried in - carried out = used by the batches it feeds.

    What arrives in class c, bucket b feeds batches of class c finishing at b + processing days.
    """
    pos = {k: i for i, k in enumerate(keys)}
    key, cls, bucket = _grid([net.buffer_classes[k] for k in keys], [net.buffer_buckets.get(k, []) for k in keys])
    index = _Index(key, cls, bucket)
    # arrivals
    dest = np.array([pos.get(k, -1) for k in receivers], dtype=np.int64)
    d = dest[ship.lane] if len(ship.lane) else ship.lane
    at_ship = np.where(d >= 0, index.find(np.maximum(d, 0), ship.arr_cls, ship.arr_bucket), -1)
    # carried over
    at_in = index.find(down.key, down.cls_to, down.b_to)
    at_out = index.find(down.key, down.cls_from, down.b_from)
    # used: each recipe input of every make column, at the batch's bucket less processing days
    proc = net.sites["processing_days"].astype(int).to_dict()
    uses = [(make.pos[(s, q)], pos[(s, inp)], -f, proc[s]) for (s, q), ins in net.recipe.items() for inp, f in ins
            if (s, inp) in pos]
    made, buffer, need, lead = (np.array(c) for c in zip(*uses, strict=True)) if uses else (np.zeros(0, np.int64),) * 4
    u, i = ragged(make.count[made])
    need_col = make.start[made][u] + i
    b = make.bucket[need_col]
    at_need = index.find(buffer[u], make.cls[need_col], np.where(b >= INF, INF, b - lead[u]))
    has = np.zeros(len(key), dtype=bool)
    for at in (at_ship, at_in, at_out, at_need):
        has[at[at >= 0]] = True
    row = np.cumsum(has) - 1
    r = np.flatnonzero(has)
    site = [keys[k][0] for k in key[r].tolist()]
    product = [keys[k][1] for k in key[r].tolist()]
    first = a.add(_keys("balance", site, product, cls[r], bucket[r]), 0.0, 0.0)
    for at, col, val in ((at_ship, ship.first + np.arange(len(ship.lane)), 1.0),
                         (at_in, down.first + np.arange(len(down.key)), 1.0),
                         (at_out, down.first + np.arange(len(down.key)), -1.0),
                         (at_need, make.first + need_col, need[u].astype(float))):
        ok = at >= 0
        a.terms(first + row[at[ok]], col[ok], val[ok] if isinstance(val, np.ndarray) else val)


def _coproduct_rows(a: _Rows, net: Network, make: _Make) -> None:
    """Per coproduct batch: made <= ratio x the main batches it comes from (same class, bucket rounding to it)."""
    for (s, c), mains in sorted(net.joint.items()):
        k = make.pos[(s, c)]
        classes = np.array(net.out_classes.get((s, c), []), dtype=np.int64)
        th = np.array(net.out_buckets.get((s, c), []), dtype=np.int64)
        own = np.arange(make.start[k], make.start[k] + make.count[k])
        first = a.add(_keys("coproduct", *_make_key_parts(make, own)), -np.inf, 0.0)
        a.terms(first + np.arange(len(own)), make.first + own, 1.0)
        oc = net.origin.get((s, c), 0)
        for m, ratio in mains:
            km = make.pos[(s, m)]
            cols = np.arange(make.start[km], make.start[km] + make.count[km])
            target = make.cls[cols] | oc
            ci = np.searchsorted(classes, target)  # the coproduct batch: its class, and the bucket the main's rounds to
            bi = np.searchsorted(th, make.bucket[cols])
            ok = np.isin(target, classes) & (bi < len(th))
            a.terms(first + (ci * len(th) + bi)[ok], make.first + cols[ok], -ratio)


def _ship_info(net: Network, ship: _Ships) -> pd.DataFrame:
    """``LinearModel.ship_info``: per ship column, its departure and arrival, and its lane's ends."""
    lanes = net.lanes
    if not len(ship.lane):
        info = pd.DataFrame([], columns=["col", "lane", "cls", "bucket", "arr_cls", "arr_bucket", "days", "loss"])
        for c in ("from_site", "to_site", "product"):
            info[c] = []
        return info
    info = pd.DataFrame({"col": ship.first + np.arange(len(ship.lane)), **{c: net.ships[c].to_numpy() for c in (
        "lane", "cls", "bucket", "arr_cls", "arr_bucket", "days", "loss")}}, copy=False)
    for c in ("from_site", "to_site", "product"):
        info[c] = lanes[c].array.take(ship.lane)
    return info


def _demand_rows(a: _Rows, net: Network, ship: _Ships, short: dict[int, int], default_cap: float,
                 supplier_share: float, receivers: list[tuple[str, str]]) -> None:
    """Per plant demand: delivered + short = quantity; then its exposure cap and supplier-share caps."""
    dem = net.demand
    at = {k: d for d, k in enumerate(zip(dem["site_id"], dem["product"], strict=True))}
    lane_dem = np.array([at.get(k, -1) for k in receivers], dtype=np.int64)
    d_ship = lane_dem[ship.lane]
    into = np.flatnonzero(d_ship >= 0)  # ship columns (relative) into a plant
    d_into = d_ship[into]
    exposed = (ship.arr_cls[into] & EXPOSED) != 0
    n_exposed = np.bincount(d_into[exposed], minlength=len(dem))
    # suppliers: (demand, company) pairs, companies in name order
    company = net.sites["company"].reindex(net.lanes["from_site"]).to_numpy(dtype=object)
    names = sorted(set(company.tolist()))
    code = {c: i for i, c in enumerate(names)}
    comp = np.array([code[c] for c in company.tolist()], dtype=np.int64)[ship.lane[into]]
    pair_code = d_into * max(len(names), 1) + comp
    pairs = distinct(pair_code)
    pair_of = np.searchsorted(pairs, pair_code)
    pair_dem = pairs // max(len(names), 1)
    pair_start = np.searchsorted(pair_dem, np.arange(len(dem)))
    pair_count = np.searchsorted(pair_dem, np.arange(len(dem)), side="right") - pair_start

    keys, lo, hi = [], [], []
    row_dem = np.zeros(len(dem), dtype=np.int64)
    row_exp = np.full(len(dem), -1, dtype=np.int64)
    row_sup = np.zeros(len(dem), dtype=np.int64)
    for d, r in enumerate(dem.itertuples(index=False)):
        key = (r.site_id, r.product)
        qty = float(r.quantity_t)
        row_dem[d] = a.n + len(keys)
        keys.append(("demand", *key))
        lo.append(qty)
        hi.append(qty)
        cap = default_cap if r.max_exposed_share is None or pd.isna(r.max_exposed_share) else float(r.max_exposed_share)
        if cap < 1.0 and n_exposed[d]:
            row_exp[d] = a.n + len(keys)
            keys.append(("exposure", *key))
            lo.append(-np.inf)
            hi.append(cap * qty)
        if supplier_share < 1.0:
            row_sup[d] = a.n + len(keys)
            for p in range(pair_start[d], pair_start[d] + pair_count[d]):
                keys.append(("supplier_share", *key, names[pairs[p] % max(len(names), 1)]))
                lo.append(-np.inf)
                hi.append(supplier_share * qty)
    a.add(keys, np.array(lo, dtype=float), np.array(hi, dtype=float), mixed=True)
    cols = ship.first + into
    a.terms(row_dem[d_into], cols, 1.0)
    if short:
        a.terms(row_dem[list(short)], list(short.values()), 1.0)
    e = exposed & (row_exp[d_into] >= 0)
    a.terms(row_exp[d_into[e]], cols[e], 1.0)
    if supplier_share < 1.0:
        a.terms(row_sup[d_into] + pair_of - pair_start[d_into], cols, 1.0)


@dataclass
class _ShareGroups:
    """Ship columns grouped for the country share cap: per stage and product shipped, and per sender country."""

    names: list[tuple[str, str]]  # (stage, product), sorted
    countries: list[str]
    g: np.ndarray  # per ship column: its group
    c: np.ndarray  # per ship column: its sender's country
    total_col: np.ndarray | None = None  # per group: its total column (-1: the group ships nothing)


def _share_groups(net: Network, ship: _Ships) -> _ShareGroups:
    sites, lanes = net.sites, net.lanes
    stage = sites["stage"].reindex(lanes["from_site"]).tolist()
    country = sites["country"].reindex(lanes["from_site"]).tolist()
    names = sorted(set(zip(stage, lanes["product"].tolist(), strict=True)))
    g_code = {g: i for i, g in enumerate(names)}
    countries = sorted(set(country))
    c_code = {c: i for i, c in enumerate(countries)}
    g = np.array([g_code[k] for k in zip(stage, lanes["product"].tolist(), strict=True)], dtype=np.int64)[ship.lane]
    c = np.array([c_code[k] for k in country], dtype=np.int64)[ship.lane]
    return _ShareGroups(names, countries, g, c)


def _share_total_columns(x: _Columns, groups: _ShareGroups) -> None:
    """Per stage and product shipped: its total shipments, so that each country's cap is one short row."""
    used = distinct(groups.g)
    first = x.add(_keys("share_total", [groups.names[i][0] for i in used.tolist()],
                        [groups.names[i][1] for i in used.tolist()]), 0.0)
    # per group code: its total column (groups with no ship column have none)
    at = np.full(len(groups.names), -1, dtype=np.int64)
    at[used] = first + np.arange(len(used))
    groups.total_col = at


def _country_share_rows(a: _Rows, ship: _Ships, groups: _ShareGroups, share: float) -> None:
    """Per stage and product: shipped output from one country <= share x all of it (over every ship column).

    All of it is a column per group (``share_total`` = the sum of its ship columns), so each country's
    row holds only its own shipments: nonzeros grow with the ship columns, not with ship columns times
    countries.
    """
    g, c, n_c = groups.g, groups.c, len(groups.countries)
    used = distinct(g)
    total = groups.total_col
    assert total is not None, "the total columns are added first"
    first = a.add(_keys("share_total", [groups.names[i][0] for i in used.tolist()],
                        [groups.names[i][1] for i in used.tolist()]), 0.0, 0.0)
    row_of = np.full(len(groups.names), -1, dtype=np.int64)
    row_of[used] = first + np.arange(len(used))
    a.terms(row_of[g], ship.first + np.arange(len(g)), 1.0)
    a.terms(row_of[used], total[used], -1.0)
    # rows: the countries shipping in each group, in name order
    rows = distinct(g * n_c + c)
    row_g, row_c = rows // n_c, rows % n_c
    first = a.add([("country_share", *groups.names[i], groups.countries[j])
                   for i, j in zip(row_g.tolist(), row_c.tolist(), strict=True)], -np.inf, 0.0)
    a.terms(first + np.searchsorted(rows, g * n_c + c), ship.first + np.arange(len(g)), 1.0)
    a.terms(first + np.arange(len(rows)), total[row_g], -share)


def _min_volume_rows(a: _Rows, net: Network, make: _Make, use: dict[str, int]) -> None:
    """Per binary site with a minimum volume: made there (every product, class, bucket) >= minimum x use."""
    site_of_key = np.array([s for s, _ in make.keys], dtype=object)
    for s in net.binary_sites:
        mv = float(net.sites.at[s, "min_volume_t"])
        if mv > 0:
            r = a.add([("min_volume", s)], 0.0, np.inf)
            ks = np.flatnonzero(site_of_key == s)
            cols = np.concatenate([np.zeros(0, dtype=np.int64),
                                   *(np.arange(make.start[k], make.start[k] + make.count[k]) for k in ks)])
            a.terms(r, make.first + cols, 1.0)
            a.terms(r, use[s], -mv)


def _lane_use_rows(a: _Rows, net: Network, ship: _Ships, use: dict[str, int],
                   stocked: frozenset[tuple[str, str]] = frozenset()) -> None:
    """Per lane out of a binary site: shipped <= bound x use, where the bound (what the receiver could ever
    take) is below the sender's capacity."""
    lanes = net.lanes
    first_col = np.searchsorted(ship.lane, np.arange(len(lanes)))
    n_cols = np.searchsorted(ship.lane, np.arange(len(lanes)), side="right") - first_col
    candidates = np.flatnonzero(lanes["from_site"].isin(list(use)).to_numpy() & (n_cols > 0))
    if not len(candidates):
        return
    absorb = _absorb_bounds(net, net.demand)
    for key in stocked:  # a plant that stocks may take more than it uses in the period
        absorb.pop(key, None)
    f = lanes["from_site"].to_numpy(dtype=object)[candidates]
    t = lanes["to_site"].to_numpy(dtype=object)[candidates]
    p = lanes["product"].to_numpy(dtype=object)[candidates]
    sup = net.supply
    cap = sup["capacity_t"].to_numpy(dtype=float)[sup.index.get_indexer(pd.MultiIndex.from_arrays([f, p]))]
    bound = np.array([min(cp, absorb.get(k, np.inf)) for cp, k in zip(cap.tolist(), zip(t, p, strict=True),
                                                                       strict=True)], dtype=float)
    tight = bound < cap
    lane = candidates[tight]
    first = a.add(_keys("lane_use", lane), -np.inf, 0.0)
    r, pos = ragged(n_cols[lane])
    a.terms(first + r, ship.first + first_col[lane][r] + pos, 1.0)
    a.terms(first + np.arange(len(lane)), np.array([use[s] for s in f[tight]], dtype=np.int64), -bound[tight])


# --------------------------------------------------------------------------- the model


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Millions of key tuples (of strings and ints: they cannot form cycles) are made in a build; the cyclic
    garbage collector would scan them again and again meanwhile, for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build_model(inputs: Inputs, net: Network | None = None,
                stocked: frozenset[tuple[str, str]] = frozenset()) -> LinearModel:
    """Build the model of ``inputs`` (network resolved here unless given). ``stocked``: (plant, product) that
    may receive more than they use, into stock (a period of a horizon), so no lane into them is bounded by
    their demand."""
    if net is None:
        net = build_network(inputs)
    with _gc_paused():
        return _build(inputs, net, stocked)


def _build(inputs: Inputs, net: Network, stocked: frozenset[tuple[str, str]] = frozenset()) -> LinearModel:
    st = inputs.settings
    allow_shortage = bool(st["allow_shortage"])
    risk_weight = float(st["risk_weight"])  # type: ignore[arg-type]
    default_short = float(st["shortage_cost_usd_per_kg"])  # type: ignore[arg-type]
    default_cap = float(st["max_exposed_share"])  # type: ignore[arg-type]
    supplier_share = float(st["max_supplier_share"])  # type: ignore[arg-type]
    country_share = float(st["max_country_share"])  # type: ignore[arg-type]

    x = _Columns()
    use = _use_columns(x, net)
    make = _make_columns(x, net)
    ship = _ship_columns(x, net, risk_weight)
    buffers = _balance_keys(net)
    down = _down_columns(x, net, buffers)
    short = _short_columns(x, net, default_short) if allow_shortage else {}
    share = _share_groups(net, ship) if country_share < 1.0 and len(ship.lane) else None
    if share is not None:
        _share_total_columns(x, share)

    a = _Rows()
    _capacity_rows(a, net, make, use)
    senders, receivers = _lane_ends(net)
    _outflow_rows(a, make, ship, _ship_make(make, ship, senders))
    _balance_rows(a, net, buffers, make, ship, down, receivers)
    _coproduct_rows(a, net, make)
    _demand_rows(a, net, ship, short, default_cap, supplier_share, receivers)
    if share is not None:
        _country_share_rows(a, ship, share, country_share)
    _min_volume_rows(a, net, make, use)
    if use:
        _lane_use_rows(a, net, ship, use, stocked)

    cols = _key_frame([p[0] for p in x.parts], [False] * len(x.parts))
    rows = _key_frame([p[0] for p in a.parts], a.mixed)
    cols.attrs["possible"] = _possible(net)
    stack = (lambda parts, i, dtype: np.concatenate([np.zeros(0, dtype=dtype), *(p[i] for p in parts)]))  # noqa: E731
    a_val = stack(a.entries, 2, float)
    nonzero = a_val != 0.0
    return LinearModel(
        c=stack(x.parts, 1, float),
        col_lo=stack(x.parts, 2, float),
        col_hi=stack(x.parts, 3, float),
        integer=stack(x.parts, 4, bool),
        a_row=stack(a.entries, 0, np.int64)[nonzero],
        a_col=stack(a.entries, 1, np.int64)[nonzero],
        a_val=a_val[nonzero],
        row_lo=stack(a.parts, 1, float),
        row_hi=stack(a.parts, 2, float),
        cols=cols,
        rows=rows,
        net=net,
        inputs=inputs,
        ship_info=_ship_info(net, ship),
        tiebreak=stack(x.parts, 5, float),
    )


def _key_frame(parts: list[list[tuple]], mixed: list[bool]) -> pd.DataFrame:
    """One row per key (columns or rows of the model): ``key`` and ``kind``, its first element."""
    frame = pd.DataFrame({"key": list(chain.from_iterable(parts))})
    names: dict[str, int] = {}
    codes = []
    for keys, several in zip(parts, mixed, strict=True):
        if several:
            codes.append(np.array([names.setdefault(k[0], len(names)) for k in keys], dtype=np.int64))
        elif keys:
            codes.append(np.full(len(keys), names.setdefault(keys[0][0], len(names)), dtype=np.int64))
    if not names:  # no keys: the type an empty column gets
        frame["kind"] = []
        return frame
    kinds = pd.Series(list(names)).array  # the string type a column of kinds gets
    frame["kind"] = kinds.take(np.concatenate(codes))
    return frame


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
    # exposure, content groups and, where end uses are told apart, one end-use label
    n_classes = (2 ** (1 + len(net.content_groups)) if net.lane_events else 1) * max(len(net.end_use_bits), 1)
    n_buckets = max((len(v) for v in net.out_buckets.values()), default=1)
    return int(n_supply * n_sites * n_classes * max(n_buckets, 1))
