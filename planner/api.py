"""The planner as functions: inputs in, plan out. No printing, no exit codes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import pandas as pd

from planner import __version__
from planner.errors import InfeasibleError, InputError, Issue, NoSolutionError
from planner.input.data import Inputs, SolveOptions
from planner.optimise.horizon import is_horizon
from planner.optimise.model import LinearModel, build_model
from planner.optimise.network import Network, build_network
from planner.optimise.regimes import has_regimes
from planner.optimise.size import Size, causes, estimate
from planner.optimise.solve import FEASIBLE, INFEASIBLE, NO_SOLUTION, OPTIMAL, options_from, solve
from planner.results.report import Plan, build_plan


@dataclass
class Timings:
    build_s: float = 0.0
    solve_s: float = 0.0
    report_s: float = 0.0


def check_size(inputs: Inputs, net: Network | None = None) -> Size:
    """The model's size, estimated from its network before it is built; refused above ``max_columns``.

    Raises
    ------
    InputError
        The model would have more columns than Settings ``max_columns`` (``--max-columns``); the issues
        name the Lanes rows and lead-time limits that make it so large.
    """
    size = estimate(net if net is not None else build_network(inputs), inputs.settings)
    most = int(float(inputs.settings.get("max_columns", 2_000_000)))  # type: ignore[arg-type]
    if size.columns > most:
        raise InputError(
            f"the model would have {size.columns:,} variables, more than max_columns = {most:,} (a model this "
            "machine solves in minutes); raise it with --max-columns N or Settings max_columns if the machine "
            "can take it, or make the model smaller",
            [Issue("", message=c) for c in [*causes(size, inputs), f"model size: {size.text()}"]],
        )
    return size


def plan(inputs: Inputs, options: SolveOptions | None = None, solver=None, detail: bool = True,  # noqa: ANN001
         mps_path=None, on_size: Callable[[Size], None] | None = None) -> Plan:  # noqa: ANN001
    """Solve ``inputs`` and return the recommendation (``solver``: a warm solver to reuse, in batches;
    ``on_size``: told the model's estimated size before it is built).

    Raises
    ------
    InputError
        The model would be larger than Settings ``max_columns`` (see ``check_size``).
    InfeasibleError
        Shortage is not allowed and demand cannot be met; ``findings`` say why.
    NoSolutionError
        The solver stopped (time limit) before finding any plan.
    """
    options = options or options_from(inputs)
    if has_regimes(inputs):
        return plan_regimes(inputs, options, detail=detail, mps_path=mps_path, on_size=on_size)
    if is_horizon(inputs):
        return plan_horizon(inputs, options, solver=solver, detail=detail, mps_path=mps_path, on_size=on_size)
    t0 = time.perf_counter()
    net = build_network(inputs)
    size = check_size(inputs, net)
    if on_size is not None:
        on_size(size)
    model = build_model(inputs, net)
    t1 = time.perf_counter()
    if mps_path is not None:  # the planner's own model, for timing a solver on it alone (bench/)
        from planner.optimise.solve import write_mps  # noqa: PLC0415

        write_mps(model, mps_path)
    # ``solver``: a planner.optimise.solve.WarmHighs reused across a batch's scenarios
    result = solver.solve(model) if solver is not None else solve(model, options)
    t2 = time.perf_counter()
    _raise_unless_planned(result, options, lambda: diagnose(inputs, options), f" (model: {size.text()})")
    out = build_plan(model, result, detail=detail)
    if detail:
        from planner.results.explain import explain  # noqa: PLC0415

        out.explanation = explain(model, result, out, options)
    t3 = time.perf_counter()
    out.run_info = run_info(inputs, options, model, result, Timings(t1 - t0, t2 - t1, t3 - t2))
    out.run_info["size_estimate"] = size.text()
    out.warnings = [str(w) for w in inputs.warnings] + model.net.warnings + out.warnings
    out.warnings += _time_limit_warning(result)
    return out


def _raise_unless_planned(result, options: SolveOptions, diagnosis, detail: str = "") -> None:  # noqa: ANN001
    """The solver's statuses that end a run without a plan: infeasible (with ``diagnosis()``'s findings), or
    stopped before any plan."""
    if result.status == INFEASIBLE:
        raise InfeasibleError("demand cannot be met in full and shortage is not allowed (allow_shortage = no)",
                              diagnosis())
    if result.status == NO_SOLUTION:
        raise NoSolutionError(
            f"no feasible plan found within the time limit of {options.time_limit_s:g} s{detail}; "
            "raise time_limit_s in Settings or --time-limit"
        )


def _time_limit_warning(result) -> list[str]:  # noqa: ANN001
    if result.status != FEASIBLE:
        return []
    gap = "unknown" if result.gap is None else f"{100 * result.gap:.2f} %"
    if result.solver == "decomposition":
        return [f"the scenario decomposition stopped at its iteration cap: the plan is feasible, gap {gap} between "
                "it and the decomposition's lower bound, not proven optimal"]
    return [f"the solver stopped at its time limit: the plan is feasible, gap {gap}, not proven optimal "
            "(and a time-limited run may differ from run to run)"]


def plan_horizon(inputs: Inputs, options: SolveOptions, solver=None, detail: bool = True,  # noqa: ANN001
                 mps_path=None, on_size: Callable[[Size], None] | None = None) -> Plan:  # noqa: ANN001
    """``plan`` over the periods of a v2 input (see planner.optimise.horizon); the size guard counts every
    period's model."""
    from planner.optimise.horizon import buffer_stock, build_horizon, seeded_networks  # noqa: PLC0415
    from planner.results.horizon import build_horizon_plan  # noqa: PLC0415

    t0 = time.perf_counter()
    nets = seeded_networks([inputs])[0] if buffer_stock(inputs) else [build_network(inputs.for_period(t))
                                                                       for t in inputs.period_ids]
    sizes = [check_size(inputs.for_period(t), n) for t, n in zip(inputs.period_ids, nets, strict=True)]
    total = Size(sum(s.columns for s in sizes), sum(s.rows for s in sizes), sum(s.nonzeros for s in sizes),
                 {k: sum(s.by_kind.get(k, 0) for s in sizes) for k in sizes[0].by_kind})
    most = int(float(inputs.settings.get("max_columns", 2_000_000)))  # type: ignore[arg-type]
    if total.columns > most:
        raise InputError(
            f"the model over {len(sizes)} periods would have {total.columns:,} variables, more than max_columns = "
            f"{most:,}; raise it with --max-columns N or Settings max_columns if the machine can take it, or plan "
            "fewer periods",
            [Issue("", message=f"{t}: {s.text()}") for t, s in zip(inputs.period_ids, sizes, strict=True)])
    if on_size is not None:
        on_size(total)
    hm = build_horizon(inputs, nets)
    t1 = time.perf_counter()
    if mps_path is not None:
        from planner.optimise.solve import write_mps  # noqa: PLC0415

        write_mps(hm.lp, mps_path)
    result = solver.solve(hm.lp) if solver is not None else solve(hm.lp, options)
    t2 = time.perf_counter()
    _raise_unless_planned(result, options, lambda: _diagnose_horizon(inputs, options))
    out = build_horizon_plan(hm, result, detail=detail)
    if detail:  # each period's price to win, values and limits, on the horizon's model (not a period alone)
        from planner.results.horizon import explain_horizon  # noqa: PLC0415

        explain_horizon(hm, result, out, options)
    t3 = time.perf_counter()
    out.run_info = run_info(inputs, options, hm.lp, result, Timings(t1 - t0, t2 - t1, t3 - t2))
    out.run_info["periods"] = ", ".join(hm.periods)
    # one line per warning, with the periods it holds in (most hold in every period: said once)
    seen: dict[str, list[str]] = {}
    for b in hm.blocks:
        for w in b.model.net.warnings:
            seen.setdefault(w, []).append(b.period)
    net_warnings = [w if len(ts) == len(hm.blocks) else f"{', '.join(ts)}: {w}" for w, ts in seen.items()]
    out.warnings = [str(w) for w in inputs.warnings] + net_warnings + out.warnings
    out.warnings += _time_limit_warning(result)
    return out


def plan_regimes(inputs: Inputs, options: SolveOptions, detail: bool = True, mps_path=None,  # noqa: ANN001
                 on_size: Callable[[Size], None] | None = None) -> Plan:
    """``plan`` against the licence regimes of a Regimes sheet (see planner.optimise.regimes): one set of
    qualifications for every regime, each regime's flows its own from its first period that differs.

    The plan returned is the first regime's, with every regime's on ``Plan.regimes`` and one row per regime
    on ``Plan.regime_table``. With ``detail``, the deterministic plan's qualifications are evaluated in every
    regime (the value of the stochastic solution) and each regime is planned alone with perfect information
    (the expected value of perfect information): 2 + one solve per regime more.
    """
    import numpy as np  # noqa: PLC0415

    from planner.input.overrides import Scenario, apply_scenario  # noqa: PLC0415
    from planner.optimise.decompose import solve_regimes  # noqa: PLC0415
    from planner.optimise.regimes import as_horizon, build_regimes, period_keys, regime_costs, regime_inputs  # noqa: PLC0415
    from planner.results.horizon import build_horizon_plan  # noqa: PLC0415
    from planner.results.information import Pending  # noqa: PLC0415
    from planner.results.regimes import RegimeAnswer, hedge_table, regime_findings, regime_table  # noqa: PLC0415

    t0 = time.perf_counter()
    regimes = regime_inputs(inputs)
    nets, total = [], None
    built: dict[bytes, Network] = {}  # a period whose input two regimes share has one network
    sizes: dict[bytes, Size] = {}
    for r in regimes:
        ids = r.inputs.period_ids
        slices = {t: r.inputs.for_period(t) for t in ids}  # sliced once, for the digests and the networks
        r.keys = period_keys(r.inputs, slices)
        ns = [built[k] if k in built else built.setdefault(k, build_network(slices[t]))
              for t, k in zip(ids, r.keys, strict=True)]
        nets.append(ns)
        for n, k in zip(ns, r.keys, strict=True):
            one = sizes[k] if k in sizes else sizes.setdefault(k, estimate(n, r.inputs.settings))  # settings in k
            total = one if total is None else Size(total.columns + one.columns, total.rows + one.rows,
                                                   total.nonzeros + one.nonzeros,
                                                   {k: total.by_kind.get(k, 0) + v for k, v in one.by_kind.items()})
    assert total is not None
    most = int(float(inputs.settings.get("max_columns", 2_000_000)))  # type: ignore[arg-type]
    if total.columns > most:
        raise InputError(
            f"the model over {len(regimes)} regimes would have {total.columns:,} variables, more than max_columns = "
            f"{most:,}; raise it with --max-columns N or Settings max_columns if the machine can take it, or plan "
            "fewer regimes", [Issue("", message=f"model size: {total.text()}")])
    if on_size is not None:
        on_size(total)
    from planner.optimise.horizon import buffer_stock, seeded_networks  # noqa: PLC0415

    if any(buffer_stock(r.inputs) for r in regimes):
        nets = seeded_networks([r.inputs for r in regimes], nets)
    rm = build_regimes(inputs, regimes, nets)
    t1 = time.perf_counter()
    if mps_path is not None:
        from planner.optimise.solve import write_mps  # noqa: PLC0415

        write_mps(rm.lp, mps_path)
    method = str(inputs.settings.get("regime_method", "extensive"))
    pending = None
    if detail:
        # the deterministic plan (the input as it stands, applied and validated as a regime's is, so that its
        # periods compare with the regimes'; licence risk as an expected loss) met by every regime, and every
        # regime planned alone: the VSS and the EVPI, solved beside the plan when a core is spare
        base = as_horizon(apply_scenario(replace(inputs, regimes=None, regime_changes=None, whatif=None),
                                         Scenario("deterministic", ())))
        pending = Pending.start(rm, base, options, method)
    try:
        # the extensive form, or the scenario decomposition; without the fixed-LP duals, which the regimes'
        # plans are not read with (each reads its share of the solution only: 0.5-0.9 s on the bundled case)
        result = solve_regimes(rm, replace(options, duals=False), method)
        t2 = time.perf_counter()
        _raise_unless_planned(result, options, lambda: [
            f"in regime {r.name}: {line}" for r in regimes for line in _diagnose_horizon(r.inputs, options)])
        assert result.x is not None
        x = result.x
        plans = []
        read: dict = {}  # period plans by (model, solution): before a shock the regimes' periods are one
        for w, r in enumerate(regimes):
            assert r.hm is not None and r.cols is not None
            share = replace(result, x=x[r.cols], row_dual=None, objective=None, bound=None)
            # the workbook shows the first regime's plan in full; of the others, their totals, flows and plants
            # (the Regimes and Regime supply sheets) and the checker their flows: no sourcing trace, no roadmap
            hp = build_horizon_plan(r.hm, share, detail=detail and w == 0, cache=read, narrative=w == 0)
            _with_missing_fees(hp, r, x)
            if rm.one_year:  # a one-year input's regime reads as a one-year plan
                one = hp.periods[0][1]
                one.candidates = one.candidates.drop(columns="qualify_in")
                one.qualifications = hp.qualifications
                hp = one
            plans.append(hp)
        ans = RegimeAnswer([r.name for r in regimes], np.array([r.probability for r in regimes]),
                           [r.question for r in regimes], plans, regime_costs(rm, x), rm.risk_aversion, rm.alpha,
                           status=result.status)
        if pending is not None:
            got = pending.result()
            ans.ev_starts, ans.ev_stock, ans.ev_reserved, ans.ev_costs = \
                got.ev_starts, got.ev_stock, got.ev_reserved, got.ev_costs
            ans.ws_costs, ans.ws_starts, ans.ws_held = got.ws_costs, got.ws_starts, got.ws_held
    except BaseException:  # no plan, Ctrl-C or SIGTERM: what knowing more is worth is no longer wanted
        if pending is not None:
            pending.cancel()
        raise
    t3 = time.perf_counter()
    main = plans[0]
    main.regimes = ans
    main.regime_table = regime_table(ans)
    main.hedges = hedge_table(ans, rm)
    main.summary.update({
        "regimes": len(regimes), "expected_cost_usd": ans.expected, "cvar_usd": ans.cvar,
        "cvar_alpha": rm.alpha, "risk_aversion": rm.risk_aversion, "worst_regime": ans.names[ans.worst],
        "value_of_stochastic_solution_usd": ans.vss, "expected_value_of_perfect_information_usd": ans.evpi,
        "status": result.status, "gap": result.gap, "best_bound_usd": result.bound,
        "solver_objective_usd": result.objective,
    })
    per = " a year" if rm.one_year else " over the horizon (discounted)"
    main.warnings = [str(w) for w in inputs.warnings] + main.warnings + _time_limit_warning(result)
    main.run_info = run_info(inputs, options, rm.lp, result, Timings(t1 - t0, t2 - t1, t3 - t2))
    main.run_info["regimes"] = ", ".join(ans.names)
    main.run_info["size_estimate"] = total.text()
    main.regime_findings = regime_findings(ans, main.hedges, per)
    return main


def _with_missing_fees(hp: Plan, r, x) -> None:  # noqa: ANN001
    """A qualification decided for every regime is paid in a regime whose own model never uses the candidate
    (it has no capacity there): its fee goes into that regime's plan, in the period it is started."""
    on = [(s, t, fee, f) for (s, t), (j, fee, f) in sorted(r.missing.items()) if x[j] > 0.5]
    if not on:
        return
    per = dict(hp.periods or [])
    for s, t, fee, f in on:
        p = per[t]
        p.cost_breakdown["qualification"] = p.cost_breakdown.get("qualification", 0.0) + fee
        p.summary["total_cost_usd"] = float(sum(p.cost_breakdown.values()))
        hp.cost_breakdown["qualification"] = hp.cost_breakdown.get("qualification", 0.0) + f
        hp.summary["total_cost_usd"] = float(sum(hp.cost_breakdown.values()))
        row = {"site_id": s, "start_period": t, "qualification_periods": r.hm.lead.get(s, 0),
               "usable_from": "", "qualification_cost_usd": fee, "discounted_cost_usd": f}
        hp.qualifications = pd.concat([hp.qualifications, pd.DataFrame([row])], ignore_index=True)


def _diagnose_horizon(inputs: Inputs, options: SolveOptions) -> list[str]:
    """Which periods cannot meet demand on their own, and why; if each can, the qualification leads are why."""
    out = []
    for t in inputs.period_ids:
        try:
            plan(inputs.for_period(t), options, detail=False)
        except InfeasibleError as e:
            out += [f"in {t}: {line}" for line in e.findings]
    return out or ["every period can meet its demand on its own, but not with the candidates qualified in time: "
                   "a qualification lead time (Sites.qualification_periods) keeps a needed candidate from being "
                   "ready; shorten it, or allow shortage to see which demand goes short"]


def run_info(inputs: Inputs, options: SolveOptions, model: LinearModel, result, timings: Timings) -> dict:  # noqa: ANN001
    import importlib.metadata  # noqa: PLC0415

    import highspy  # noqa: PLC0415
    import openpyxl  # noqa: PLC0415

    # pulp's version from its distribution (the same string as pulp.__version__): importing pulp only to read it
    # cost every run 20-30 ms, and the workbook's versions line needs importlib.metadata anyway
    pulp_version = importlib.metadata.version("pulp")
    return {
        "planner_version": __version__,
        "input": str(inputs.source) if inputs.source else "",
        "input_sha256": inputs.source_sha256,
        "solver": result.solver_version or result.solver,
        "solver_status": result.message,
        "status": result.status,
        "gap": result.gap,
        "best_bound_usd": result.bound,
        "time_limit_s": options.time_limit_s,
        "mip_gap_setting": options.mip_gap,
        "threads": options.threads,
        "random_seed": options.seed,
        "variables": model.n_cols,
        "variables_possible": model.possible_columns(),
        "constraints": model.n_rows,
        "nonzeros": len(model.a_val),
        "integer_variables": int(model.integer.sum()),
        "solve_phases": " | ".join(p.text(with_time=False) for p in result.phases),  # seconds: solve_s
        "build_s": round(timings.build_s, 3),
        "solve_s": round(timings.solve_s, 3),
        "report_s": round(timings.report_s, 3),
        "versions": f"pulp {pulp_version}, highspy {getattr(highspy, '__version__', '')}, "
                    f"openpyxl {openpyxl.__version__}, pandas {pd.__version__}",
        "settings": {k: v for k, v in inputs.settings.items()},
    }


# --------------------------------------------------------------------------- diagnosis


def _where(inputs: Inputs, site: str, product: str) -> str:
    d = inputs.demand
    row = d[(d["site_id"] == site) & (d["product"] == product)]
    return f"Demand!A{int(row['_row'].iloc[0])}" if len(row) and int(row["_row"].iloc[0]) else "Demand"


# An infeasible model is re-solved five times to say why (shortage priced, then each family of limits lifted),
# each for up to a minute: above this many variables that is minutes before the error appears, on figures that
# may be cut short by the clock; such a model is not re-solved, and the finding says how to see the shortage.
DIAGNOSE_BELOW = 200_000


def diagnose(inputs: Inputs, options: SolveOptions) -> list[str]:
    """Explain, in business terms, which demand cannot be met and what limits it.

    Cheap structural checks first (no lane, nothing makes the product); then an
    elastic re-solve with priced shortage shows how much of each demand is short,
    and re-solves with one family of limits lifted at a time name the limits that
    keep it short.
    """
    findings: list[str] = []
    net = build_network(inputs)
    served = set(zip(net.lanes["to_site"], net.lanes["product"], strict=True))
    for r in net.demand.itertuples(index=False):
        if (r.site_id, r.product) not in served:
            findings.append(
                f"{r.site_id} needs {r.quantity_t:,.0f} t of {r.product} ({_where(inputs, r.site_id, r.product)}), "
                f"but no lane brings {r.product} from a site that can make it: add a Lanes row or a Supply row"
            )
    elastic = inputs.with_settings(allow_shortage=True)
    columns = estimate(net, elastic.settings).columns
    if columns > DIAGNOSE_BELOW:
        return [*findings, f"not evaluated: how much of each demand falls short and which limits keep it short (the "
                           f"model has {columns:,} variables, more than the {DIAGNOSE_BELOW:,} below which it is "
                           "re-solved five times to find out); plan it with allow_shortage = yes: the plan then "
                           "shows each plant's shortage and what it costs"]
    quick = replace(options, time_limit_s=min(options.time_limit_s, 60.0))
    base = _shortages(elastic, quick)
    if base is None:
        return findings or ["the solver could not find even a plan with shortage; check the input for extreme values"]
    base, binding = base
    relaxations = {
        "its lead-time limit ({cell} max_lead_time_days)": _without_lead_times,
        "its exposure cap ({cell} max_exposed_share, or Settings max_exposed_share)": _without_exposure_caps,
        "the supplier and country share caps (Settings max_supplier_share, max_country_share)": _without_share_caps,
        "the minimum volumes of candidate sites (Sites min_volume_t)": _without_min_volumes,
    }
    relaxed = {name: _shortages(fn(elastic), quick) for name, fn in relaxations.items()}
    d = inputs.demand.set_index(["site_id", "product"])
    for (site, product), short in sorted(base.items()):
        if short <= 1e-6:
            continue
        qty = float(d.at[(site, product), "quantity_t"])
        if (site, product) not in served:
            continue
        row = int(d.at[(site, product), "_row"])
        cells = {"max_lead_time_days": f"Demand!D{row}", "max_exposed_share": f"Demand!E{row}"}
        causes, left = [], short
        for name, res in relaxed.items():
            if res is not None and res[0].get((site, product), 0) < short - 1e-6:
                cell = cells["max_lead_time_days"] if "lead-time" in name else cells["max_exposed_share"]
                causes.append(name.format(cell=cell))
                left = min(left, res[0].get((site, product), 0))
        caps = ", ".join(binding[:3])
        capacity = "capacity along its supply chain" + (f" (the binding capacities are {caps})" if caps else
                                                        " or the lanes available")
        if causes:
            why = (f"limited by {' and '.join(causes)}: lifting {'it' if len(causes) == 1 else 'them'} would let "
                   f"{short - left:,.1f} t more be delivered")
            if left > 1e-6:
                why += f"; the other {left:,.1f} t are limited by {capacity}"
        else:
            why = f"limited by {capacity}"
        findings.append(
            f"{site} can get only {qty - short:,.1f} t of the {qty:,.1f} t of {product} it needs "
            f"({_where(inputs, site, product)}); {short:,.1f} t short, {why}"
        )
    if not findings:
        findings.append("the combination of limits admits no plan; "
                        "try allow_shortage = yes to see where it falls short")
    return findings


def _shortages(inputs: Inputs, options: SolveOptions) -> tuple[dict[tuple[str, str], float], list[str]] | None:
    """Shortage per demand with shortage priced, and the capacities that bind most (as Supply cells)."""
    model = build_model(inputs)
    res = solve(model, options)
    if res.status not in (OPTIMAL, FEASIBLE) or res.x is None:
        return None
    out: dict[tuple[str, str], float] = {}
    for j, k in enumerate(model.cols["key"]):
        if k[0] == "short":
            out[(k[1], k[2])] = float(res.x[j])
    binding: list[str] = []
    if res.row_dual is not None:
        sup = inputs.supply.set_index(["site_id", "product"])
        caps = [(res.row_dual[i], k) for i, k in enumerate(model.rows["key"]) if k[0] == "capacity"]
        for dual, k in sorted(caps, key=lambda t: t[0]):  # most negative first: worth most per tonne
            if dual < -1e-6:
                row = int(sup.at[(k[1], k[2]), "_row"])
                binding.append(f"Supply!C{row} ({k[1]} {k[2]}, {float(sup.at[(k[1], k[2]), 'capacity_t']):,.0f} t)")
    return out, binding


def _without_lead_times(inputs: Inputs) -> Inputs:
    d = inputs.demand.copy()
    d["max_lead_time_days"] = None
    return replace(inputs, demand=d)


def _without_exposure_caps(inputs: Inputs) -> Inputs:
    d = inputs.demand.copy()
    d["max_exposed_share"] = 1.0
    return replace(inputs, demand=d, settings={**inputs.settings, "max_exposed_share": 1.0})


def _without_share_caps(inputs: Inputs) -> Inputs:
    return inputs.with_settings(max_supplier_share=1.0, max_country_share=1.0)


def _without_min_volumes(inputs: Inputs) -> Inputs:
    s = inputs.sites.copy()
    s["min_volume_t"] = 0.0
    return replace(inputs, sites=s)
