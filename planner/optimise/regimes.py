"""The plan against licence regimes (scenarios): a two-stage stochastic model in extensive form.

A ``Regimes`` sheet lists regimes with a probability each; ``RegimeChanges`` says what each changes in the
input (WhatIf rows: a ban on a route, an outage, a price jump, a capacity arriving late), optionally from
one period on. Each regime's input is planned by the horizon model of planner.optimise.horizon, unchanged
(a one-year input is its own only period, id ``""``), and the regimes are stitched into one model:

* **Here and now (first stage)**: when to start each qualification, and how much volume to reserve
  (Reservations). These columns are one set shared by every regime, so the qualification roadmap and the
  reservations are one answer, decided before the regime is known. Each regime's own ``qualified`` and
  ``reserve_use`` rows tie its use of a candidate or of a reservation to the shared columns.
* **Before the shock**: in a period where two regimes' inputs have been the same so far (the same tables
  in it and every earlier period), nobody can tell them apart yet, so they take the same decisions: each
  such column equals the representative regime's (non-anticipativity). Stock built in those periods is
  therefore stock built before the shock, and carried into each regime's own future.
* **Wait and see (second stage)**: from the first period a regime differs, its flows, stock, shortage and
  use of qualified candidates are its own.

Objective: expected cost ``sum_w p_w cost_w`` plus ``risk_aversion x CVaR_alpha(cost)`` in the
Rockafellar-Uryasev form ``eta + 1/(1 - alpha) sum_w p_w u_w`` with ``u_w >= cost_w - eta``, ``u_w >= 0``
(eta, u_w and their rows in M USD: ``COST_SCALE``)
(alpha = 1: the worst regime's cost, ``z >= cost_w``). ``cost_w`` is regime w's whole cost, qualification
fees included, as the horizon model counts it (discounted). With risk_aversion = 0 the CVaR columns are
left out and the model is risk-neutral.

The build is linear in regimes x periods: each regime's horizon model is built from its own tables and
copied in with its columns renumbered; the links are one row per shared column.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from planner.errors import InputError, Issue
from planner.input.data import Inputs
from planner.input.overrides import Scenario, ScenarioError, apply_scenario, parse_whatif
from planner.optimise.horizon import HorizonModel, build_horizon
from planner.optimise.model import LinearModel
from planner.optimise.network import Network

# Column kinds decided once for every regime, here and now (the first stage): one column each in the stitched
# model, whatever the regime. Each regime's horizon model has its own copy; the stitch maps them to one.
FIRST_STAGE = frozenset({"start", "reserve"})
# The CVaR columns (eta, u_w) and rows are in units of this many USD (M USD).
COST_SCALE = 1e6


@dataclass
class Regime:
    """One regime of the plan: its input and its horizon model, as if planned alone."""

    name: str
    probability: float
    question: str
    inputs: Inputs  # the regime's input, always a horizon (a one-year input: one period, id "")
    row: int = 0  # its Regimes row, for messages
    hm: HorizonModel | None = None
    cols: np.ndarray | None = None  # hm.lp's column j is the stitched model's column cols[j]
    row0: int = 0  # hm.lp's rows are the stitched model's rows row0 ...
    # qualifications decided for every regime that this regime's own model has no column for (a candidate
    # without capacity in it): (site, period) -> (shared start column, fee, fee as this regime discounts it).
    # Their fees are still paid in this regime, so its cost counts them.
    missing: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    keys: list[bytes] = field(default_factory=list)  # per period: what its model is built from (period_keys)


@dataclass
class RegimeModel:
    lp: LinearModel
    regimes: list[Regime]
    periods: list[str]
    # per period index k: for each regime, the first regime it cannot be told apart from through period k
    # (itself when it is the first): the regimes that share period k's decisions
    same_as: list[list[int]] = field(default_factory=list)
    start: dict[tuple[str, str], int] = field(default_factory=dict)  # (site, period) -> shared start column
    reserve: dict[int, int] = field(default_factory=dict)  # Reservations row index -> shared reserve column
    risk_aversion: float = 0.0
    alpha: float = 0.9
    eta: int = -1  # the CVaR threshold column in COST_SCALE USD (alpha = 1: the worst cost), -1 without risk aversion
    tail: list[int] = field(default_factory=list)  # u_w columns (empty at alpha = 1 or without risk aversion)
    one_year: bool = False  # the input had no Periods sheet: its only period's id is ""


def has_regimes(inputs: Inputs) -> bool:
    return inputs.regimes is not None and len(inputs.regimes) > 0


def as_horizon(inputs: Inputs) -> Inputs:
    """A one-year (v1) input as a horizon of one period with id "" (its rows' period is already "")."""
    if inputs.periods is not None:
        return inputs
    return replace(inputs, periods=pd.DataFrame({"period": [""], "days": [365]}))


def regime_inputs(inputs: Inputs) -> list[Regime]:
    """Each regime's input: the input with its RegimeChanges applied and validated again.

    Raises
    ------
    InputError
        A change matches nothing or leaves the input invalid; the issue names its RegimeChanges row.
    """
    assert inputs.regimes is not None
    changes = {s.name: s for s in parse_whatif(inputs.regime_changes, "RegimeChanges")}
    base = replace(inputs, regimes=None, regime_changes=None, whatif=None)
    out: list[Regime] = []
    for r in inputs.regimes.sort_values("_row", kind="mergesort").itertuples(index=False):  # as listed
        name = str(r.scenario).strip()
        scenario = changes.get(name, Scenario(name, ()))
        try:
            # applied even without changes, so every regime's tables went through one validation and
            # compare equal when they are
            one = apply_scenario(base, scenario)
        except ScenarioError as exc:
            rows = [c.row for c in scenario.changes]
            raise InputError(f'regime "{name}" cannot be applied', [Issue(
                "RegimeChanges", rows[0] if rows else 0, 0, "scenario", str(exc))]) from None
        question = r.question if isinstance(r.question, str) else ""
        out.append(Regime(name, float(r.probability), question, as_horizon(one), int(r._asdict().get("_row", 0))))
    return out


def _digest(frame: pd.DataFrame | None) -> bytes:
    if frame is None:
        return b"-"
    f = frame.drop(columns=[c for c in ("_row",) if c in frame.columns])
    return hashlib.sha256(f.to_csv(index=False).encode()).digest()


def period_keys(i: Inputs, slices: dict[str, Inputs] | None = None) -> list[bytes]:
    """Per period, a digest of everything that period's model is built from: its rows of the periodic
    tables, and the tables and settings that hold for the whole horizon. ``slices``: ``i.for_period(t)``
    by period, if the caller has them already."""
    whole = hashlib.sha256(b"".join([
        _digest(i.recipes), _digest(i.coproducts), _digest(i.stock), _digest(i.contracts), _digest(i.reservations),
        _digest(i.periods),
        repr(sorted(i.settings.items(), key=lambda kv: kv[0])).encode(),
        # a stockpile in any period makes a plant's stock columns exist in every period
        _digest(i.demand[["site_id", "product", "min_cover_days"]]),
    ])).digest()
    out = []
    for t in i.period_ids:
        one = slices[t] if slices is not None else i.for_period(t)
        out.append(hashlib.sha256(whole + b"".join(_digest(getattr(one, a)) for a in
                                                   ("sites", "supply", "lanes", "demand", "controls"))).digest())
    return out


def _histories(regimes: list[Regime], periods: list[str]) -> list[list[int]]:
    """``same[k][w]``: the first regime whose input equals regime w's in every period up to k (and in the
    tables that hold for the whole horizon)."""
    signature = []
    for r in regimes:
        if not r.keys:
            r.keys = period_keys(r.inputs)
        signature.append(_chain(r.keys))
    same = []
    for k in range(len(periods)):
        first: dict[bytes, int] = {}
        same.append([first.setdefault(sig[k], w) for w, sig in enumerate(signature)])
    return same


def build_regimes(inputs: Inputs, regimes: list[Regime] | None = None,
                  nets: list[list[Network]] | None = None) -> RegimeModel:
    """The stitched model of every regime (``regimes``: from ``regime_inputs``, if already made; ``nets``:
    each regime's per-period networks, if already built)."""
    regimes = regimes if regimes is not None else regime_inputs(inputs)
    periods = regimes[0].inputs.period_ids
    lam = float(inputs.settings.get("risk_aversion", 0.0))  # type: ignore[arg-type]
    alpha = float(inputs.settings.get("cvar_alpha", 0.9))  # type: ignore[arg-type]
    same = _histories(regimes, periods)

    c_parts, ar, ac, av, rlo, rhi = [], [], [], [], [], []
    row_keys: list[tuple] = []
    first: dict[tuple, int] = {}  # a first-stage column's key -> its one column
    first_col: dict[int, tuple[float, float, bool]] = {}  # -> its cost, upper bound and integrality
    n_col = n_row = 0
    models: dict[bytes, LinearModel] = {}  # regimes whose period inputs are equal share that period's model
    for w, r in enumerate(regimes):
        r.hm = build_horizon(r.inputs, nets[w] if nets is not None else None, models, r.keys)
        lp = r.hm.lp
        kinds = lp.cols["kind"].to_numpy()
        keys = lp.cols["key"].tolist()
        is_start = np.isin(kinds, list(FIRST_STAGE))
        cols = np.empty(lp.n_cols, dtype=np.int64)
        own = np.flatnonzero(~is_start)
        cols[own] = n_col + np.arange(len(own))
        n_col += len(own)
        c = lp.c * r.probability
        for j in np.flatnonzero(is_start):
            if keys[j] not in first:
                first[keys[j]] = n_col
                first_col[n_col] = (float(lp.c[j]), float(lp.col_hi[j]), bool(lp.integer[j]))
                n_col += 1
            cols[j] = first[keys[j]]
            c[j] = 0.0  # first-stage costs are added once, below: they are paid whatever the regime
        r.cols = cols
        r.row0 = n_row
        c_parts.append((cols[own], c[own], lp.col_lo[own], lp.col_hi[own], lp.integer[own],
                        [(keys[j][0], w, *keys[j][1:]) for j in own]))
        ar.append(lp.a_row + n_row)
        ac.append(cols[lp.a_col])
        av.append(lp.a_val)
        rlo.append(lp.row_lo)
        rhi.append(lp.row_hi)
        row_keys += [(k[0], w, *k[1:]) for k in lp.rows["key"].tolist()]
        n_row += lp.n_rows

    c_all = np.zeros(n_col)
    lo_all = np.zeros(n_col)
    hi_all = np.full(n_col, np.inf)
    int_all = np.zeros(n_col, dtype=bool)
    keys_all: list[tuple] = [()] * n_col
    for cols_, c_, lo_, hi_, int_, keys_ in c_parts:
        c_all[cols_] = c_
        lo_all[cols_] = lo_
        hi_all[cols_] = hi_
        int_all[cols_] = int_
        for j, key in zip(cols_.tolist(), keys_, strict=True):
            keys_all[j] = key
    for key, j in first.items():
        c_all[j], hi_all[j], int_all[j] = first_col[j]
        keys_all[j] = key
    start = {(key[2], key[1]): j for key, j in first.items() if key[0] == "start"}
    reserve = {key[2]: j for key, j in first.items() if key[0] == "reserve"}

    fee_of: dict[str, float] = {}
    for r in regimes:
        for s_, f in r.hm.qualification_cost.items():
            fee_of.setdefault(s_, f)
    for r in regimes:
        discount = {b.period: b.discount for b in r.hm.blocks}
        r.missing = {(s_, t): (j, fee_of[s_], fee_of[s_] * discount[t]) for (s_, t), j in start.items()
                     if (s_, t) not in r.hm.start}

    # ---- non-anticipativity: a column of a period that two regimes cannot yet tell apart is one decision
    extra_r, extra_c, extra_v = [], [], []
    extra_keys: list[tuple] = []
    tied = {x for row in same for w, rep in enumerate(row) if rep != w for x in (w, rep)}
    by_period = {w: _period_columns(regimes[w]) for w in sorted(tied)}  # once per regime, not per pair
    for k, t in enumerate(periods):
        for w, rep in enumerate(same[k]):
            if rep == w:
                continue
            mine = by_period[w].get(t, {})
            theirs = by_period[rep].get(t, {})
            for key, j in mine.items():
                other = theirs.get(key)
                if other is None:
                    continue  # a column the representative lacks: its own rows hold it at 0 (see _period_columns)
                extra_r += [n_row, n_row]
                extra_c += [j, other]
                extra_v += [1.0, -1.0]
                extra_keys.append(("same", w, rep, *key))
                n_row += 1
    ar.append(np.asarray(extra_r, dtype=np.int64))
    ac.append(np.asarray(extra_c, dtype=np.int64))
    av.append(np.asarray(extra_v, dtype=float))
    rlo.append(np.zeros(len(extra_keys)))
    rhi.append(np.zeros(len(extra_keys)))
    row_keys += extra_keys

    # ---- risk: expected cost + lambda x CVaR_alpha (Rockafellar-Uryasev), its rows and columns in M USD: a
    # regime's cost row in USD sums terms of 1e10 whose rounding alone (1e-6) is above the solver's
    # feasibility tolerance (HiGHS then rejects its own optimum as infeasible)
    eta, tail = -1, []
    scale = COST_SCALE
    if lam > 0:
        eta = n_col
        new_c = [lam * scale]
        new_keys = [("cvar_eta",)]
        n_col += 1
        for w, r in enumerate(regimes):
            lp = r.hm.lp
            # the regime's whole cost as a row: its own costs (undivided by probability) and the first stage
            terms_c = np.concatenate([r.cols, np.array([j for j, _, _ in r.missing.values()], dtype=np.int64)])
            terms_v = np.concatenate([-lp.c, np.array([-f for _, _, f in r.missing.values()], dtype=float)]) / scale
            if alpha < 1.0:
                u = n_col
                tail.append(u)
                new_c.append(lam * r.probability / (1.0 - alpha) * scale)
                new_keys.append(("cvar_tail", w))
                n_col += 1
                ar.append(np.full(len(terms_c) + 2, n_row, dtype=np.int64))
                ac.append(np.concatenate([terms_c, [u, eta]]).astype(np.int64))
                av.append(np.concatenate([terms_v, [1.0, 1.0]]))
            else:  # the worst regime's cost: eta >= cost_w
                ar.append(np.full(len(terms_c) + 1, n_row, dtype=np.int64))
                ac.append(np.concatenate([terms_c, [eta]]).astype(np.int64))
                av.append(np.concatenate([terms_v, [1.0]]))
            rlo.append(np.zeros(1))
            rhi.append(np.full(1, np.inf))
            row_keys.append(("cvar", w))
            n_row += 1
        c_all = np.concatenate([c_all, np.asarray(new_c)])
        lo_all = np.concatenate([lo_all, [-np.inf], np.zeros(len(new_c) - 1)])
        hi_all = np.concatenate([hi_all, np.full(len(new_c), np.inf)])
        int_all = np.concatenate([int_all, np.zeros(len(new_c), dtype=bool)])
        keys_all += new_keys

    cols_df = pd.DataFrame({"key": keys_all})
    cols_df["kind"] = [k[0] for k in keys_all]
    rows_df = pd.DataFrame({"key": row_keys})
    rows_df["kind"] = [k[0] for k in row_keys]
    cols_df.attrs["possible"] = sum(r.hm.lp.possible_columns() for r in regimes)
    first = regimes[0].hm
    lp = LinearModel(
        c=c_all, col_lo=lo_all, col_hi=hi_all, integer=int_all,
        a_row=np.concatenate(ar), a_col=np.concatenate(ac), a_val=np.concatenate(av),
        row_lo=np.concatenate(rlo), row_hi=np.concatenate(rhi), cols=cols_df, rows=rows_df,
        net=first.lp.net, inputs=inputs,
    )
    return RegimeModel(lp, regimes, periods, same, start, reserve, lam, alpha, eta, tail,
                       one_year=inputs.periods is None)


def _period_columns(r: Regime) -> dict[str, dict[tuple, int]]:
    """A regime's stitched columns by period, each by its key without the regime: its blocks' columns and
    its stock and take-or-pay columns. Stock kept by (class, bound) pairs that another regime never
    receives are held at 0 by the regime's own stock rows until something of that pair arrives, which in a
    period shared with that regime it cannot, so such columns need no link."""
    assert r.hm is not None and r.cols is not None
    out: dict[str, dict[tuple, int]] = {}
    for j, key in enumerate(r.hm.lp.cols["key"].tolist()):
        if len(key) > 1 and key[0] not in FIRST_STAGE:
            out.setdefault(key[1], {})[key] = int(r.cols[j])
    return out

def _chain(keys: list[bytes]) -> list[bytes]:
    """Per period, a digest of the period keys up to it: equal where two inputs have been the same so far."""
    out, h = [], b""
    for key in keys:
        h = hashlib.sha256(h + key).digest()
        out.append(h)
    return out


def deterministic_policy(rm: RegimeModel, ev: HorizonModel, x_ev: np.ndarray) -> LinearModel:
    """The stitched model with the deterministic plan followed until each regime shows itself: its first-stage
    decisions (qualification starts, reserved volumes) in every regime, and in each regime its flows, stock
    and shortage in every period in which the regime's input has so far been the input as it stands (``ev``:
    the deterministic plan's horizon model, built from the input as ``regime_inputs`` builds a regime's;
    ``x_ev``: its solution). Re-planned from the period the regime differs. Solved, it gives what the
    deterministic plan costs in each regime (the EEV of the multi-stage value of the stochastic solution,
    Escudero et al. 2007); a column the deterministic model lacks is held at 0."""
    lo, hi = rm.lp.col_lo.copy(), rm.lp.col_hi.copy()
    at = {key: j for j, key in enumerate(ev.lp.cols["key"].tolist())}
    integer = ev.lp.integer

    def value(key: tuple) -> float:
        j = at.get(key)
        if j is None:
            return 0.0
        return float(round(x_ev[j])) if integer[j] else max(float(x_ev[j]), 0.0)

    base = _chain(period_keys(ev.inputs))
    for r in rm.regimes:
        assert r.hm is not None and r.cols is not None
        mine = _chain(r.keys or period_keys(r.inputs))
        known = {t for k, t in enumerate(rm.periods) if mine[k] == base[k]}
        for j, key in enumerate(r.hm.lp.cols["key"].tolist()):
            if key[0] in FIRST_STAGE or (len(key) > 1 and key[1] in known):
                lo[r.cols[j]] = hi[r.cols[j]] = value(key)
    return replace(rm.lp, col_lo=lo, col_hi=hi)


def regime_costs(rm: RegimeModel, x: np.ndarray) -> np.ndarray:
    """Each regime's cost in USD as the plan reports it (discounted, qualification fees included), from the
    stitched solution: the objective's terms without its tie-breaks (the class tie-break, and the start
    columns' preference for the later start)."""
    out = []
    for r in rm.regimes:
        assert r.cols is not None
        out.append(own_cost(r, x[r.cols]) + sum(f * float(round(x[j])) for j, _, f in r.missing.values()))
    return np.asarray(out)


def own_cost(r: Regime, xs: np.ndarray) -> float:
    """Regime r's cost from a solution of its own horizon model ``xs`` (see ``regime_costs``)."""
    assert r.hm is not None
    lp = r.hm.lp
    c = lp.c - (lp.tiebreak if lp.tiebreak is not None else 0.0)
    flows = lp.cols["kind"].to_numpy() != "start"
    total = float(c[flows] @ xs[flows])
    discount = {b.period: b.discount for b in r.hm.blocks}
    for (s, t), j in r.hm.start.items():
        total += r.hm.qualification_cost[s] * discount[t] * float(round(xs[j]))
    return total


def own_starts(r: Regime, xs: np.ndarray) -> dict[str, str]:
    """site -> the period its qualification starts, in a solution of the regime's own model."""
    assert r.hm is not None
    return {s: t for (s, t), j in r.hm.start.items() if xs[j] > 0.5}


def cvar(costs: np.ndarray, probabilities: np.ndarray, alpha: float) -> float:
    """CVaR_alpha of a discrete cost distribution: the expected cost of its worst 1 - alpha of probability
    (a regime on the boundary counted in part); alpha = 1: the worst listed regime's cost."""
    costs = np.asarray(costs, dtype=float)
    probabilities = np.asarray(probabilities, dtype=float)
    if alpha >= 1.0:
        return float(costs.max())
    mass = 1.0 - alpha
    left, total = mass, 0.0
    for i in np.argsort(-costs, kind="stable"):
        take = min(float(probabilities[i]), left)
        total += take * float(costs[i])
        left -= take
        if left <= 1e-15:
            break
    return total / mass
