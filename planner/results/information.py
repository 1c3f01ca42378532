"""What knowing more is worth, for a plan against regimes: the deterministic plan met by every regime (for
the value of the stochastic solution) and every regime planned alone (for the value of perfect information).

None of it depends on the plan against regimes itself, only on its stitched model and the input as it
stands, so it can run while that plan is solved. ``Pending.start`` runs it in one worker process when the
machine has a core to spare and the model is large enough for the process to pay for itself (on the
bundled 16 regimes: about 3 s of solves beside the plan's 4-5 s MIP); otherwise, and whenever the worker
fails, it runs in the calling process when its result is asked for. Either way the result is the same:
the same solves of the same models.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from planner.input.data import Inputs, SolveOptions
from planner.optimise.decompose import available_cores, solve_regimes
from planner.optimise.horizon import build_horizon
from planner.optimise.regimes import RegimeModel, deterministic_policy, own_cost, own_starts, regime_costs
from planner.optimise.solve import solve
from planner.results.horizon import decisions

# The stitched model's columns from which the work goes to a worker process (below it, the solves take
# less than the process costs to start).
IN_PARALLEL_ABOVE = 20_000


@dataclass
class Information:
    """The deterministic plan's decisions and its cost in each regime; each regime's cost, starts and holdings
    planned alone. A field is None (or empty) when that solve found no plan."""

    ev_starts: dict[str, str] = field(default_factory=dict)
    ev_stock: pd.DataFrame | None = None
    ev_reserved: dict[int, float] = field(default_factory=dict)
    ev_costs: np.ndarray | None = None
    ws_costs: np.ndarray | None = None
    ws_starts: list[dict[str, str]] = field(default_factory=list)
    ws_held: list[tuple[pd.DataFrame, dict[int, float]]] = field(default_factory=list)


def information(rm: RegimeModel, base: Inputs, options: SolveOptions, method: str) -> Information:
    """``base``: the input as it stands, as a horizon (applied and validated as a regime's input is, so that
    its periods compare with the regimes'); licence risk in it is an expected loss."""
    costs_only = replace(options, duals=False)  # VSS and EVPI read costs, not duals
    out = Information()
    ev_hm = build_horizon(base)
    ev_result = solve(ev_hm.lp, costs_only)
    ev_keys = ev_hm.lp.cols["key"].tolist()
    if ev_result.x is not None:
        out.ev_starts, out.ev_stock, out.ev_reserved = decisions(ev_hm, ev_result.x)
        # followed in each regime until the regime shows itself, then re-planned
        eev = solve_regimes(rm, costs_only, method, deterministic_policy(rm, ev_hm, ev_result.x))
        out.ev_costs = regime_costs(rm, eev.x) if eev.x is not None else None
    ws_costs, ws_starts, ws_held = [], [], []
    for r in rm.regimes:
        assert r.hm is not None
        # a regime that is the input as it stands, planned alone, is the deterministic plan already solved
        same = ev_result.x is not None and r.hm.lp.n_cols == ev_hm.lp.n_cols and \
            r.hm.lp.cols["key"].tolist() == ev_keys
        alone = ev_result if same else solve(r.hm.lp, costs_only)
        if alone.x is None:
            return out
        ws_costs.append(own_cost(r, alone.x))
        ws_starts.append(own_starts(r, alone.x))
        _, stock_w, reserved_w = decisions(r.hm, alone.x)
        ws_held.append((stock_w, reserved_w))
    out.ws_costs, out.ws_starts, out.ws_held = np.asarray(ws_costs), ws_starts, ws_held
    return out


_HELD: list[tuple] = []


def _hold(*args: object) -> None:
    _HELD[:] = [args]


def _held() -> Information:
    return information(*_HELD[0])


def _spare_cores(options: SolveOptions) -> int:
    return available_cores() - max(1, int(options.threads))


class Pending:
    """``information(...)``, started now, its result read later with ``result()``; ``cancel()`` ends it."""

    def __init__(self, args: tuple) -> None:
        self.args = args
        self.pool = None
        self.future = None

    @classmethod
    def start(cls, rm: RegimeModel, base: Inputs, options: SolveOptions, method: str) -> Pending:
        job = cls((rm, base, options, method))
        # the decomposition runs its own worker processes; a multi-threaded solve uses the spare core
        if method == "extensive" and rm.lp.n_cols >= IN_PARALLEL_ABOVE and _spare_cores(options) >= 1 \
                and sys.platform.startswith("linux"):
            job._submit()
        return job

    def _submit(self) -> None:
        import multiprocessing  # noqa: PLC0415
        from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

        try:
            # a fork, which hands the worker the models as they are in memory (the initializer's arguments
            # are not pickled; 31 MB pickled on the bundled case), before any thread of this solve starts.
            # Only where forking is the norm (Linux): elsewhere a spawned worker would import the caller's
            # script again, which an unguarded script would run again, so the work stays here
            self.pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"),
                                            initializer=_hold, initargs=self.args)
            self.future = self.pool.submit(_held)
        except Exception:  # noqa: BLE001 - no worker (a sandbox without processes): run it here later
            self.cancel()

    def result(self) -> Information:
        if self.future is not None:
            try:
                out = self.future.result()
            except Exception:  # noqa: BLE001 - the worker died or could not take the model: the same here
                self.cancel()
            else:
                pool, self.pool, self.future = self.pool, None, None
                pool.shutdown(wait=True)
                return out
        return information(*self.args)

    def cancel(self) -> None:
        """End the worker now (Ctrl-C, SIGTERM or a failed plan): its result is no longer wanted."""
        pool, self.pool, self.future = self.pool, None, None
        if pool is None:
            return
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)
