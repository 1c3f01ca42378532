"""Run a baseline and its what-if scenarios, and compare them (no printing, no files).

The input is read and validated once; each scenario is applied to the
validated tables and solved on its own, in worker processes when ``jobs > 1``
(each solve is single-threaded, so processes are how a batch uses the cores).
A scenario that fails (a change that matches nothing, an invalid result, an
infeasible plan) is reported with its reason; the others still run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import pandas as pd

from planner.api import plan
from planner.errors import InfeasibleError, PlannerError, UsageError
from planner.input.data import Inputs, SolveOptions
from planner.optimise.solve import WarmHighs
from planner.results.report import Plan
from planner.whatif.scenarios import Change, Scenario, ScenarioError, apply_scenario

BASELINE = "baseline"


@dataclass
class Outcome:
    scenario: str
    changes: tuple[Change, ...]
    status: str  # optimal, feasible, infeasible or error
    plan: Plan | None = None
    message: str = ""
    findings: list[str] = field(default_factory=list)
    capacity_t: float = 0.0  # total Supply capacity of the scenario, for the value of a capacity change
    # what a single solve of this scenario would have exited with (0: planned; 3: the scenario cannot be
    # applied), so the command line can exit with the baseline's own code
    exit_code: int = 0


def run_one(inputs: Inputs, scenario: Scenario, options: SolveOptions, warm: WarmHighs | None = None) -> Outcome:
    """Apply and solve one scenario; never raises for a scenario's own failure."""
    try:
        changed = apply_scenario(inputs, scenario) if scenario.changes else inputs
        cap = float(changed.supply["capacity_t"].sum())
        result = plan(changed, options, solver=warm, detail=False)
        return Outcome(scenario.name, scenario.changes, result.status, result, capacity_t=cap)
    except ScenarioError as exc:
        return Outcome(scenario.name, scenario.changes, "error", message=str(exc), exit_code=3)
    except InfeasibleError as exc:
        return Outcome(scenario.name, scenario.changes, "infeasible", message=exc.message, findings=exc.findings,
                       exit_code=exc.exit_code)
    except PlannerError as exc:
        return Outcome(scenario.name, scenario.changes, "error", message=exc.message, exit_code=exc.exit_code)


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def run_chunk(inputs: Inputs, scenarios: list[Scenario], options: SolveOptions, warm: bool = True,
              progress: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Solve scenarios one after another on one persistent HiGHS model (a worker's share of a batch).

    The baseline model is loaded first; a scenario that only changes numbers
    (capacities, prices, demand, limits, settings) has the same shape and is
    re-solved from the previous basis instead of from scratch.
    """
    solver = WarmHighs(options) if warm else None
    if solver is not None and not any(s.name == BASELINE for s in scenarios):
        with contextlib.suppress(PlannerError):  # load the baseline's basis; its plan is not needed here
            plan(inputs, options, solver=solver)
    out = []
    for sc in scenarios:
        res = run_one(inputs, sc, options, solver)
        out.append(res)
        if progress:
            progress(res)
    return out


def run_batch(
    inputs: Inputs,
    scenarios: list[Scenario],
    options: SolveOptions,
    jobs: int = 1,
    progress: Callable[[Outcome], None] | None = None,
    warm: bool = True,
    executor: str = "process",
    scheduler: str | None = None,
) -> list[Outcome]:
    """The baseline first, then every scenario, in input order whatever order they finish in.

    With ``jobs > 1`` the scenarios are split into contiguous chunks, one per
    worker process, each with its own persistent solver (``warm``). With
    ``executor="dask"`` the chunks go to the Dask cluster at ``scheduler``
    (``jobs`` chunks; default: one per worker thread of the cluster).
    """
    todo = [Scenario(BASELINE), *scenarios]
    if executor == "dask":
        return _run_dask(inputs, todo, options, jobs, warm, scheduler, progress)
    if jobs <= 1 or len(todo) == 1:
        return run_chunk(inputs, todo, options, warm, progress)
    chunks = _chunks(todo, jobs)
    results: list[list[Outcome]] = [[] for _ in chunks]
    pool = ProcessPoolExecutor(max_workers=len(chunks))
    try:
        futures = {pool.submit(run_chunk, inputs, chunk, options, warm): i for i, chunk in enumerate(chunks)}
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            if progress:
                for res in results[futures[fut]]:
                    progress(res)
    except BaseException:
        # Ctrl-C, SIGTERM or a failed worker: end the workers now instead of waiting for their chunks
        # (they write nothing, so killing them loses nothing)
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return [o for chunk in results for o in chunk]


def _chunks(todo: list[Scenario], jobs: int) -> list[list[Scenario]]:
    n = max(1, min(jobs, len(todo)))
    bounds = [round(i * len(todo) / n) for i in range(n + 1)]
    return [todo[bounds[i]:bounds[i + 1]] for i in range(n)]


def _run_dask(inputs: Inputs, todo: list[Scenario], options: SolveOptions, jobs: int, warm: bool,
              scheduler: str | None, progress: Callable[[Outcome], None] | None) -> list[Outcome]:
    try:
        from distributed import Client  # noqa: PLC0415
    except ImportError as exc:
        raise UsageError("--executor dask needs the dask extra: pip install 'planner[dask]'") from exc
    if not scheduler:
        raise UsageError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
    try:
        client = Client(scheduler, timeout=30)
    except OSError as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
    except (ValueError, TypeError) as exc:  # an address Dask cannot parse
        raise UsageError(f"{scheduler!r} is not a Dask scheduler address: {exc}") from exc
    try:
        n = jobs if jobs > 1 else max(1, sum(client.nthreads().values()))
        chunks = _chunks(todo, n)
        data = client.scatter(inputs, broadcast=True)  # sent once to every worker, not once per chunk
        futures = [client.submit(run_chunk, data, chunk, options, warm, pure=False) for chunk in chunks]
        results = client.gather(futures)
    finally:
        client.close()
    out = [o for chunk in results for o in chunk]
    if progress:
        for o in out:
            progress(o)
    return out


# --------------------------------------------------------------------------- comparison


def _suppliers(p: Plan) -> set[str]:
    f = p.flows
    if not len(f):
        return set()
    return set(f.loc[f["tonnes"] > 1e-6, "from_site"])


def _flows(p: Plan) -> pd.Series:
    f = p.flows
    if not len(f):
        return pd.Series(dtype=float)
    return f.set_index(["from_site", "to_site", "product"])["tonnes"]


def comparison(outcomes: list[Outcome]) -> pd.DataFrame:
    """One row per scenario: status, cost and its change, exposure, shortage, who enters or leaves the mix."""
    base = outcomes[0]
    bp = base.plan
    rows = []
    for o in outcomes:
        p = o.plan
        row: dict[str, object] = {"scenario": o.scenario, "status": o.status}
        if p is not None:
            s = p.summary
            lead = p.plants["max_lead_time_days"].dropna() if len(p.plants) else pd.Series(dtype=float)
            row.update({
                "total_cost_usd": s["total_cost_usd"],
                "delta_cost_usd": s["total_cost_usd"] - bp.summary["total_cost_usd"] if bp else None,
                "delta_cost_pct": (s["total_cost_usd"] / bp.summary["total_cost_usd"] - 1.0)
                if bp and bp.summary["total_cost_usd"] else None,
                "exposed_share": s["exposed_share"],
                "exposed_t": s["exposed_t"],
                "shortage_t": s["shortage_t"],
                "expected_license_loss_usd": s["expected_license_loss_usd"],
                "max_lead_time_days": int(lead.max()) if len(lead) else None,
                "gap": s["gap"],
            })
            if bp is not None and o is not base:
                row["suppliers_in"] = ", ".join(sorted(_suppliers(p) - _suppliers(bp)))
                row["suppliers_out"] = ", ".join(sorted(_suppliers(bp) - _suppliers(p)))
                added = o.capacity_t - base.capacity_t
                if added > 1e-9:
                    row["saving_per_t_capacity_usd"] = -float(row["delta_cost_usd"]) / added  # type: ignore[arg-type]
        row["changes"] = "; ".join(c.describe() for c in o.changes)
        row["message"] = o.message if not o.findings else o.message + ": " + " | ".join(o.findings)
        rows.append(row)
    cols = ["scenario", "status", "total_cost_usd", "delta_cost_usd", "delta_cost_pct", "exposed_share", "exposed_t",
            "shortage_t", "expected_license_loss_usd", "max_lead_time_days", "suppliers_in", "suppliers_out",
            "saving_per_t_capacity_usd", "gap", "changes", "message"]
    return pd.DataFrame(rows).reindex(columns=cols)


def flow_changes(outcomes: list[Outcome], top: int = 15) -> pd.DataFrame:
    """The largest changes in lane tonnes of each scenario against the baseline."""
    bp = outcomes[0].plan
    rows = []
    if bp is None:
        return pd.DataFrame(columns=["scenario", "from_site", "to_site", "product", "baseline_t", "scenario_t",
                                     "change_t"])
    base = _flows(bp)
    for o in outcomes[1:]:
        if o.plan is None:
            continue
        sc = _flows(o.plan)
        both = pd.concat([base.rename("baseline_t"), sc.rename("scenario_t")], axis=1).fillna(0.0)
        both["change_t"] = both["scenario_t"] - both["baseline_t"]
        both = both[both["change_t"].abs() > 1e-6]
        both = both.reindex(both["change_t"].abs().sort_values(ascending=False, kind="mergesort").index).head(top)
        for (f, t, p), r in both.iterrows():
            rows.append({"scenario": o.scenario, "from_site": f, "to_site": t, "product": p,
                         "baseline_t": r["baseline_t"], "scenario_t": r["scenario_t"], "change_t": r["change_t"]})
    return pd.DataFrame(rows, columns=["scenario", "from_site", "to_site", "product", "baseline_t", "scenario_t",
                                       "change_t"])
