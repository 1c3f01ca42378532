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

from planner.input.data import Inputs
from planner.optimise.model import LinearModel, build_model
from planner.optimise.network import Network

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

    @property
    def periods(self) -> list[str]:
        return [b.period for b in self.blocks]


def is_horizon(inputs: Inputs) -> bool:
    """Whether ``inputs`` needs the horizon model: a Periods sheet (even of one period), since its links
    and discounting are the v2 contract's. A v1 input plans with the one-year model, exactly as before."""
    return inputs.periods is not None


def build_horizon(inputs: Inputs, nets: list[Network] | None = None) -> HorizonModel:
    """The stitched model (``nets``: each period's network, if already built, e.g. to check the size)."""
    periods = inputs.period_ids
    rate = float(inputs.settings.get("discount_rate", 0.0))  # type: ignore[arg-type]
    blocks: list[Block] = []
    col0 = row0 = 0
    for k, t in enumerate(periods):
        one = inputs.for_period(t)
        m = build_model(one, nets[k] if nets is not None else None)
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
        rlo.append(m.row_lo)
        rhi.append(m.row_hi)
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
    for key, rl, rh, cols_, vals in extra_rows:
        ar.append(np.full(len(cols_), n_row, dtype=np.int64))
        ac.append(np.array(cols_, dtype=np.int64))
        av.append(np.array(vals, dtype=float))
        rlo.append(np.array([rl]))
        rhi.append(np.array([rh]))
        row_keys.append(key)
        n_row += 1
    k = len(link_keys)
    cs.append(np.array(link_cost, dtype=float))
    lo.append(np.zeros(k))
    hi.append(np.ones(k))
    integer.append(np.ones(k, dtype=bool))
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
    return HorizonModel(lp, blocks, inputs, start, lead, fee)
