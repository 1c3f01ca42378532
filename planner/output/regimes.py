"""The workbook of a plan against licence regimes: the regimes' answers first, then the first regime's plan.

Sheets added in front of the usual recommendation (which shows the first listed regime, the input as it
stands): ``Findings`` gains the regimes' findings at its top; ``Regimes`` has the expected cost, CVaR, the
worst regime, the value of the stochastic solution and of perfect information, one row per regime with a
chart of the cost in each regime beside the deterministic plan's, and the cost's cumulative distribution;
``Hedges`` lists the decisions taken because of some regimes; ``Regime supply`` what each supplier
delivers to the plants in each regime.
"""

from __future__ import annotations

import dataclasses
import textwrap

from planner.output.sheets import M_USD, PCT, USD, T
from planner.output.write import Chart, Column, Fmt, Table
from planner.results.report import Plan


def regime_tables(plan: Plan) -> list[Table]:
    from planner.output.sheets import FINDING_WIDTH, recommendation_tables, status_text  # noqa: PLC0415

    ans = plan.regimes
    base = recommendation_tables(dataclasses.replace(plan, regimes=None))
    lines: list[list[object]] = []
    for i, line in enumerate(plan.regime_findings or [], start=1):
        lines.extend([w] for w in textwrap.wrap(f"{i}. {line}", FINDING_WIDTH, subsequent_indent="    ") or [""])
    first = ans.names[0]
    findings = Table(
        "Findings", [Column("Findings", 12, fit=False)], lines,
        title=["Findings against the licence regimes", f"Status: {status_text(plan)}. Each regime on the Regimes "
               f"sheet; the hedges on Hedges; the sheets after them show the plan in the first regime, {first}."],
        freeze=False)
    out = [findings, _regimes_sheet(plan), _hedges_sheet(plan), _supply_sheet(plan)]
    for t in base:
        if t.name == "Findings":
            t.name = f"Findings in {first}"[:31]
        out.append(t)
    return out


def _regimes_sheet(plan: Plan) -> Table:
    ans = plan.regimes
    s = plan.summary
    per = "USD/yr" if plan.periods is None else "USD, discounted over the horizon"
    vss, evpi = s.get("value_of_stochastic_solution_usd"), s.get("expected_value_of_perfect_information_usd")
    head = [
        ["Expected cost", Fmt(ans.expected, USD), per, "probability-weighted over the regimes"],
        [f"CVaR at {ans.alpha:g}", Fmt(ans.cvar, USD), per,
         f"expected cost of the worst {1 - ans.alpha:.0%} of outcomes"],
        ["Risk aversion", Fmt(ans.risk_aversion, "0.###"), "", "objective: expected cost + risk aversion x CVaR"],
        ["Worst regime", ans.names[ans.worst], "", f"cost {ans.costs[ans.worst]:,.0f} {per}"],
        ["Value of the stochastic solution", Fmt(vss, USD) if vss is not None else "not evaluated", per,
         "what planning against the regimes saves over the deterministic plan's qualifications and "
         "reservations"],
        ["Expected value of perfect information", Fmt(evpi, USD) if evpi is not None else "not evaluated", per,
         "what knowing the regime before deciding would save"],
    ]
    table = plan.regime_table
    has_ev = "deterministic_plan_cost_usd" in table.columns
    cols = [Column("regime", 28), Column("probability", 11, PCT), Column("cost_usd", 16, USD),
            Column("shortage_t", 12, T), Column("exposed_share", 11, PCT)]
    if has_ev:
        cols += [Column("deterministic_plan_cost_usd", 16, USD), Column("saved_by_hedging_usd", 16, USD)]
    if "perfect_information_cost_usd" in table.columns:
        cols.append(Column("perfect_information_cost_usd", 16, USD))
    cols.append(Column("question", 60, fit=False))
    rows = []
    for r in table.to_dict("records"):
        rows.append([r["regime"], r["probability"], r["cost_usd"], r["shortage_t"], r["exposed_share"],
                     *([r["deterministic_plan_cost_usd"], r["saved_by_hedging_usd"]] if has_ev else []),
                     *([r["perfect_information_cost_usd"]] if "perfect_information_cost_usd" in r else []),
                     r["question"]])
    ys = [2, 5] if has_ev else [2]
    # the distribution: regimes from the cheapest, each with the probability that the cost is at most its own
    order = sorted(range(len(ans.names)), key=lambda w: (float(ans.costs[w]), w))
    acc, dist = 0.0, []
    for w in order:
        acc += float(ans.probabilities[w])
        dist.append([float(ans.costs[w]), min(acc, 1.0), float(ans.probabilities[w]), ans.names[w]])
    distribution = Table(
        "distribution", [Column("cost_usd", 16, USD), Column("probability cost <= this", 14, PCT),
                         Column("probability", 11, PCT), Column("regime", 40)], dist,
        title=["The distribution of the cost: the regimes from the cheapest, each with the probability that the "
               "cost is at most its own (the CVaR is the expected cost beyond the alpha point of this curve)"],
        charts=[Chart("scatter", "Cumulative distribution of the cost over the regimes", x=0, ys=[1],
                      x_title="cost (USD)", y_title="probability the cost is at most x", anchor="M",
                      y_format="0%", y_max=1.0)])
    return Table(
        "Regimes", [Column("item", 36), Column("value", 18), Column("unit", 14), Column("note", 60, fit=False)], head,
        title=["The plan against the licence regimes", "One set of qualifications for every regime; each regime's "
               "flows, stock and shortage its own from the first period it differs."],
        sections=[Table("by regime", cols, rows, title=["Cost, shortage and exposure in each regime"],
                        charts=[Chart("bar", "Cost in each regime: this plan" + (" and the deterministic plan's "
                                      "qualifications" if has_ev else ""), x=0, ys=ys, anchor="M", y_format=M_USD)]),
                  distribution])


def _hedges_sheet(plan: Plan) -> Table:
    h = plan.hedges
    return Table(
        "Hedges", [Column("hedge", 70), Column("kind", 14), Column("site", 18), Column("product", 14),
                   Column("period", 10), Column("tonnes", 12, T), Column("protects against", 50)],
        [[r.hedge, r.kind, r.site_id, r.product, r.period, r.tonnes, r.protects_against]
         for r in h.itertuples(index=False)] if h is not None else [],
        title=["Hedges: decisions taken because of some regimes", "Qualifications this plan starts (or starts "
               "earlier), volumes it reserves and stock it holds before any regime is known, that the deterministic "
               "plan does not; and the regimes they protect against."])


def _supply_sheet(plan: Plan) -> Table:
    """Tonnes each supplier delivers to the plants, per regime (summed over the periods)."""
    ans = plan.regimes
    totals: dict[tuple[str, str, str], list[float]] = {}
    for w, p in enumerate(ans.plans):
        f = p.flows
        plants = set(p.plants["site_id"]) if len(p.plants) else set()
        into = f[f["to_site"].isin(plants)] if len(f) else f
        if not len(into):
            continue
        g = into.groupby(["from_site", "from_country", "product"])["tonnes"].sum()
        for key, v in g.items():
            totals.setdefault(key, [0.0] * len(ans.plans))[w] = float(v)
    rows = [[s, c, q, *v] for (s, c, q), v in sorted(totals.items())]
    return Table(
        "Regime supply", [Column("supplier", 20), Column("country", 8), Column("product", 14),
                          *[Column(n[:40], 12, T) for n in ans.names]], rows,
        title=["Tonnes delivered to the plants by each supplier, in each regime (summed over the periods)"])
