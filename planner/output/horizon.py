"""The workbook of a plan over periods: findings, a horizon summary, a roadmap and charts by year first,
then every one-year sheet with a ``period`` column.

The one-year sheets are built by ``recommendation_tables`` for each period's plan and put together row
by row, so a period's rows read exactly as a one-year plan's do, whatever those sheets hold. The one-year
Charts sheet is anchored to one period's rows, so the horizon has its own: the same figures by year.
"""

from __future__ import annotations

import textwrap

import pandas as pd

from planner.output.sheets import WALL_CLOCK
from planner.output.write import Chart, Column, Fmt, Table
from planner.results import tiers
from planner.results.report import Plan

USD = '#,##0;-#,##0;"-"'
T = '#,##0.0;-#,##0.0;"-"'
PCT = "0.0%"
# the cost parts as the one-year Summary names them
PART_NAMES = {"production": "Production", "freight": "Freight", "duty": "Import duty", "tariff": "Ad-valorem tariffs",
              "qualification": "Qualification (one-off)", "holding": "Holding stock", "take_or_pay": "Take-or-pay",
              "reservation": "Reservation fees",
              "shortage": "Shortage penalty", "license_risk": "Expected license loss"}
# per-period sheets that do not stack: charts are anchored to one table's rows, run info is the horizon's
_NOT_STACKED = {"Charts", "Run info"}


def horizon_tables(plan: Plan) -> list[Table]:
    from planner.output.sheets import recommendation_tables, status_text  # noqa: PLC0415

    assert plan.periods is not None
    s = plan.summary
    rate = float(s.get("discount_rate", 0.0))
    demand = float(s["demand_t"])
    summary_rows: list[list[object]] = [
        ["Status", status_text(plan), "", ""],
        ["Total cost, discounted", Fmt(s["total_cost_usd"], USD), "USD", f"discount rate {rate:g} per period"],
        *[[f"  {PART_NAMES.get(k, k)}", Fmt(v, USD), "USD", "discounted sum over the periods"]
          for k, v in plan.cost_breakdown.items()],
        ["Demand", Fmt(demand, T), "t", "sum over the periods"],
        ["Delivered", Fmt(s["delivered_t"], T), "t", ""],
        ["Shortage", Fmt(s["shortage_t"], T), "t", ""],
        ["License-exposed share of deliveries", Fmt(s["exposed_share"], PCT), "of t delivered", ""],
        ["License-exposed share of demand", Fmt(s["exposed_t"] / demand if demand > 0 else 0.0, PCT),
         "of t demanded", "the base of the exposure caps"],
    ]
    per_rows = []
    for t, p in plan.periods:
        ps = p.summary
        per_rows.append([t, ps["total_cost_usd"], *[p.cost_breakdown.get(k, 0.0) for k in plan.cost_breakdown],
                         ps["demand_t"], ps["delivered_t"], ps["shortage_t"], ps["exposed_share"]])
    summary = Table(
        "Horizon",
        [Column("item", 40), Column("value", 20, USD), Column("unit", 10), Column("note", 40)],
        summary_rows,
        title=["Sourcing plan over the horizon", "Costs in USD, discounted; tonnes summed over the periods. "
               "Each period's figures, undiscounted, are in the table below and on every sheet's period column."],
        sections=[Table(
            "Periods",
            [Column("period", 10), Column("total_cost_usd", 18, USD),
             *[Column(f"{PART_NAMES.get(k, k)} (USD)", 16, USD) for k in plan.cost_breakdown],
             Column("demand_t", 12, T), Column("delivered_t", 12, T), Column("shortage_t", 12, T),
             Column("exposed_share", 10, PCT)],
            per_rows,
            title=["Per period (undiscounted)"],
        )],
    )
    road = plan.roadmap
    roadmap = Table(
        "Roadmap",
        [Column("period", 10), Column("action", 20), Column("site", 20), Column("product", 14),
         Column("tonnes", 12, T), Column("what to do", 90)],
        [[r.period, r.action, r.site_id, r.product, None if r.tonnes != r.tonnes else r.tonnes, r.note]
         for r in road.itertuples(index=False)] if road is not None else [],
        title=["Roadmap", "What to qualify and when, when sources start and stop supplying, and where demand "
               "goes short, in period order."],
    )
    stacked: dict[str, Table] = {}
    order: list[str] = []
    for t, p in plan.periods:
        for table in recommendation_tables(p):
            if table.name in _NOT_STACKED:
                continue
            rows = [[t, *row] for row in table.rows]
            if table.name == "Findings":  # a period's own findings: the horizon's come first; its figures are
                # on the Horizon sheet, so here its sentences, one a row
                table = Table("Findings by period", [Column("finding", 140)],
                              [[line] for line in p.explanation.findings] if p.explanation is not None else [],
                              title=["Findings by period", "Each period's plan in sentences, its costs undiscounted: "
                                     "what limits it, what capacity is worth, which supplier a price cut would "
                                     "bring in (found on the horizon's model, with its qualifications, stock and "
                                     "contracts)."], freeze=True)
                rows = [[t, *row] for row in table.rows]
            if table.name not in stacked:
                stacked[table.name] = Table(table.name, [Column("period", 10), *table.columns], rows,
                                            title=table.title, freeze=table.freeze)
                order.append(table.name)
            else:
                stacked[table.name].rows = [*stacked[table.name].rows, *rows]
    stock = plan.stock
    stock_table = Table(
        "Stock",
        [Column("period", 10), Column("site", 18), Column("product", 14), Column("exposed", 9),
         Column("lead time bound (days)", 14, "0"), Column("opening (t)", 12, T), Column("closing (t)", 12, T)],
        [[r.period, r.site_id, r.product, "yes" if r.exposed else "no", None if r.bound_days >= 10**9 else r.bound_days,
          r.opening_t, r.closing_t] for r in stock.itertuples(index=False)
         if r.opening_t > 1e-9 or r.closing_t > 1e-9],
        title=["Stock between periods", "At plants, and at sites holding an input, by whether it is license-exposed "
               "and the lead time it arrived with (blank: no limit); a draw needs no new license."],
    ) if stock is not None and len(stock) else None
    con = plan.contracts
    contracts_table = Table(
        "Contracts",
        [Column("period", 10), Column("supplier", 18), Column("product", 14), Column("plant", 18),
         Column("min (t)", 11, T), Column("max (t)", 11, T), Column("take-or-pay", 11), Column("bought (t)", 12, T),
         Column("paid, not taken (t)", 14, T), Column("take-or-pay cost (USD)", 16, USD)],
        [[r.period, r.site_id, r.product, r.plant or "any", r.min_t, r.max_t, "yes" if r.take_or_pay else "no",
          r.shipped_t, r.unused_t, r.take_or_pay_usd] for r in con.itertuples(index=False)],
        title=["Contracts in force", "What the plan buys under each contract, per period, against its bounds; the "
               "Roadmap says where a contract binds and what happens when it ends."],
        sections=_contract_changes(plan),
    ) if con is not None and len(con) else None
    res = plan.reservations
    reservations_table = Table(
        "Reservations",
        [Column("period", 10), Column("supplier", 18), Column("product", 14), Column("Reservations row", 12, "0"),
         Column("most (t/yr)", 12, T), Column("reserved (t/yr)", 14, T), Column("available (t)", 13, T),
         Column("taken (t)", 12, T), Column("fee (USD/kg/yr)", 13, "#,##0.00"), Column("fee (USD)", 16, USD)],
        [[r.period, r.site_id, r.product, r.reservation_row, r.max_t, r.reserved_t, r.available_t, r.taken_t,
          r.fee_usd_per_kg_yr, r.fee_usd] for r in res.itertuples(index=False)],
        title=["Reserved volumes", "Tonnes a year reserved now, for every period of the reservation, on top of what "
               "the supplier sells without one; the fee is paid whether the volume is taken or not (fee per period, "
               "undiscounted)."],
    ) if res is not None and len(res) else None
    info = Table("Run info", [Column("key", 22), Column("value", 80)],
                 [[k, v if isinstance(v, (int, float, str)) or v is None else str(v)]
                  for k, v in plan.run_info.items() if k not in WALL_CLOCK])
    return [horizon_findings_table(plan), summary, roadmap, horizon_charts(plan),
            *[x for x in (stock_table, contracts_table, reservations_table) if x is not None],
            *(stacked[n] for n in order), info]


def _contract_changes(plan: Plan) -> list[Table] | None:
    """The moves away from the contracted mix, one row per run of periods (results.horizon.contract_changes)."""
    moves = plan.contract_changes
    if moves is None or not len(moves):
        return None
    return [Table(
        "Contract changes",
        [Column("plant", 18), Column("product", 14), Column("from (contracted)", 18), Column("to", 18),
         Column("first period", 10), Column("last period", 10), Column("tonnes per period", 14, T),
         Column("what to do", 90)],
        [[r.plant or "any", r.product, r.from_site, r.to_site or "-", r.first_period, r.last_period, r.tonnes,
          r.note] for r in moves.itertuples(index=False)],
        title=["Contract changes", "Where the plan buys less from a contracted supplier than its contracts say (their "
               "minimum, else their maximum, still after they end), and from whom it buys instead, per run of periods "
               "with the same move."])]


# --------------------------------------------------------------------------- findings over the horizon

BINDS = 0.999  # a site whose output reaches this share of its capacity in a period is what is scarce there
NAMED = 4  # at most this many sites or plants named in one sentence: a finding is read, not scanned


def _m(v: float) -> str:
    """Money as a manager reads it: M USD with one decimal, whole USD below a million."""
    return f"{v / 1e6:,.1f} M USD" if abs(v) >= 1e6 else f"{v:,.0f} USD"


def _names(plan: Plan) -> dict[str, str]:
    from planner.output.sheets import site_names  # noqa: PLC0415

    return site_names(plan)


def _listed(items: list[str], more: int) -> str:
    text = ", ".join(items)
    return f"{text} and {more} more" if more > 0 else text


def horizon_findings(plan: Plan) -> list[str]:
    """The horizon in plain sentences, each from the plan's figures: what it costs and when, what is scarce in
    each period, how exposed each period is, and what to qualify when (the roadmap)."""
    assert plan.periods is not None
    names = _names(plan)
    s, parts = plan.summary, plan.cost_breakdown
    ids = [t for t, _ in plan.periods]
    span = ids[0] if len(ids) == 1 else f"{ids[0]}-{ids[-1]}"
    rate = float(s.get("discount_rate", 0.0))
    cash = sum(v for k, v in parts.items() if k not in ("shortage", "license_risk"))
    undiscounted = sum(float(p.summary["total_cost_usd"]) for _, p in plan.periods)
    basis = f"discounted at {100 * rate:g} % a period; {_m(undiscounted)} undiscounted" if rate else \
        "undiscounted"
    out = [f"Over {span} ({len(ids)} period{'s' * (len(ids) != 1)}) the plan costs {_m(s['total_cost_usd'])} "
           f"({basis}): cash {_m(cash)}, expected license loss {_m(parts.get('license_risk', 0.0))}, shortage "
           f"penalty {_m(parts.get('shortage', 0.0))}."]
    if len(ids) > 1:
        cost = {t: float(p.summary["total_cost_usd"]) for t, p in plan.periods}
        dear, cheap = max(ids, key=cost.__getitem__), min(ids, key=cost.__getitem__)
        out.append(f"Cost by period: {', '.join(f'{t} {_m(cost[t])}' for t in ids)}; the dearest is {dear}, the "
                   f"cheapest {cheap}.")
    out += _scarce(plan, names)
    exposed = []
    for t, p in plan.periods:
        d = float(p.summary["demand_t"])
        exposed.append(f"{t} {100 * float(p.summary['exposed_t']) / d:.0f} %" if d > 0 else f"{t} -")
    out.append("License-exposed share of demand by period: " + ", ".join(exposed) + ".")
    china = _china_by_period(plan)
    if china:
        out.append("Made in China, magnets and metal/alloy behind the deliveries: " + ", ".join(
            f"{t} {_pct(m)} and {_pct(a)}" for t, (m, a) in china.items()) + " (proportional tracing, as on the "
            "Made where sheet).")
    out += _closest(plan, names)
    out += _qualification_findings(plan)
    return out


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f} %"


def _scarce(plan: Plan, names: dict[str, str]) -> list[str]:
    """Per period: the demand that goes short, else the capacities that bind (output at capacity)."""
    out = []
    for t, p in plan.periods or []:
        pl = p.plants
        short = pl[pl["shortage_t"] > 1e-6].sort_values("shortage_t", ascending=False, kind="mergesort") \
            if len(pl) else pl
        pr = p.production
        full = pr[(pr["made_t"] > 1e-6) & (pr["capacity_t"] > 0) & (pr["utilisation"] >= BINDS)] if len(pr) else pr
        full = full.sort_values(["capacity_value_usd_per_kg", "made_t"], ascending=False, kind="mergesort",
                                na_position="last")
        caps = [f"{names.get(r.site_id, r.site_id)} {r.product}" + _worth(r.capacity_value_usd_per_kg)
                for r in full.head(NAMED).itertuples(index=False)]
        at_cap = f"at capacity: {_listed(caps, len(full) - NAMED)}" if caps else "no capacity at its limit"
        if len(short):
            who = [f"{names.get(r.site_id, r.site_id)} {r.product} {r.shortage_t:,.1f} t"
                   for r in short.head(NAMED).itertuples(index=False)]
            out.append(f"{t}: {float(short['shortage_t'].sum()):,.1f} t short ({_listed(who, len(short) - NAMED)}); "
                       f"{at_cap}.")
        else:
            out.append(f"{t}: all demand met; {at_cap}.")
    return out


def _worth(value: float) -> str:
    """' (a kg/yr more saves 2.00 USD)': the value of capacity in the period, undiscounted, where it has one."""
    return "" if value is None or pd.isna(value) or value < 0.005 else f" (a kg/yr more saves {value:,.2f} USD)"


def _closest(plan: Plan, names: dict[str, str]) -> list[str]:
    """Per period, the supplier out of the mix that the smallest price cut would bring in (its price to win on
    the horizon's model, undiscounted), where the periods were explained."""
    out = []
    for t, p in plan.periods or []:
        ex = p.explanation
        if ex is None or not len(ex.suppliers):
            continue
        sup = ex.suppliers
        price = pd.to_numeric(sup["price_to_win_usd_per_kg"], errors="coerce")
        near = sup[(~sup["in_mix"].astype(bool)) & (price > 0.005)].assign(_p=price).sort_values(
            ["_p", "site_id", "product"], kind="mergesort")
        if len(near):
            r = near.iloc[0]
            out.append(f"{t} {names.get(r['site_id'], r['site_id'])} {r['product']} {r['_p']:,.2f}")
    return ["Closest to winning business, by period (how much cheaper per kg, in that period's costs): "
            + "; ".join(out) + "."] if out else []


def _china_by_period(plan: Plan) -> dict[str, tuple[float | None, float | None]]:
    out = {}
    for t, p in plan.periods or []:
        if not len(p.sourcing):
            return {}  # planned without the sourcing trace (a batch's plans)
        share = tiers.country_share(tiers.by_country(p.sourcing))
        out[t] = (share.get("magnet"), share.get("metal"))
    # a chain without magnet or metal makers (a plant buying a raw material) has no such shares to show
    return out if any(v is not None for pair in out.values() for v in pair) else {}


def _qualification_findings(plan: Plan) -> list[str]:
    road = plan.roadmap
    starts = road[road["action"] == "start qualification"] if road is not None and len(road) else None
    if starts is None or not len(starts):
        return ["No candidate is worth qualifying within the horizon."]
    return [str(n)[:1].upper() + str(n)[1:] + "." for n in starts["note"]]


def horizon_findings_table(plan: Plan) -> Table:
    from planner.output.sheets import FINDING_WIDTH, status_text  # noqa: PLC0415

    lines: list[list[object]] = []
    for i, line in enumerate(horizon_findings(plan), start=1):
        wrapped = textwrap.wrap(f"{i}. {line}", FINDING_WIDTH, subsequent_indent="    ") or [""]
        lines.extend([w] for w in wrapped)
    return Table(
        "Findings", [Column("Findings", 12, fit=False)], lines,
        title=["Findings over the horizon", f"Status: {status_text(plan)}. Totals on the Horizon sheet, what to do "
               "when on the Roadmap, each period's figures on every sheet's period column."],
        freeze=False)


# --------------------------------------------------------------------------- charts by year


def horizon_charts(plan: Plan) -> Table:
    """Native Excel charts by period: cost by part, supply mix by supplier country (China in its red),
    China's share at each stage, and the exposed and short shares of demand."""
    from planner.output.sheets import CHINA_RED, MILLIONS, country_colors  # noqa: PLC0415

    assert plan.periods is not None
    ids = [t for t, _ in plan.periods]
    keys = [k for k in plan.cost_breakdown if any(abs(p.cost_breakdown.get(k, 0.0)) > 0.005 for _, p in plan.periods)]
    cost = Table(
        "Charts", [Column("period", 10), *[Column(k.replace("_", " "), 14, USD) for k in keys]],
        [[t, *[float(p.cost_breakdown.get(k, 0.0)) for k in keys]] for t, p in plan.periods],
        title=["Cost by period and part (USD, undiscounted)"], freeze=False,
        charts=[Chart("bar", "Cost by period and part (USD, undiscounted)", x=0, ys=list(range(1, len(keys) + 1)),
                      anchor="E1", stacked=True, y_format=MILLIONS)] if keys else None)
    sections = []
    # supply mix: tonnes delivered to the plants, by the country of the site that ships them
    f = plan.flows
    plants = set(plan.plants["site_id"]) if len(plan.plants) else set()
    into = f[f["to_site"].isin(plants)] if len(f) else f
    if len(into):
        pivot = into.pivot_table(index="period", columns="from_country", values="tonnes", aggfunc="sum",
                                 fill_value=0.0).reindex(ids, fill_value=0.0)
        countries = sorted(pivot.columns, key=lambda c: (c != "CN", c))
        colors = country_colors(countries)
        sections.append(Table(
            "mix by year", [Column("period", 10), *[Column(c, 10, T) for c in countries]],
            [[t, *[float(pivot.at[t, c]) for c in countries]] for t in ids],
            title=["Supply mix by period: tonnes delivered to the plants, by the supplier's country"],
            charts=[Chart("bar", "Supply mix by period and supplier country (t)", x=0,
                          ys=list(range(1, len(countries) + 1)), anchor="E", stacked=True,
                          colors={i + 1: colors[c] for i, c in enumerate(countries)})]))
    china = _china_by_period(plan)
    if china:
        reds = {1: CHINA_RED, 2: "FF9896"}
        sections.append(Table(
            "china by year", [Column("period", 10), Column("China: magnet", 12, PCT),
                              Column("China: metal/alloy", 12, PCT)],
            [[t, m, a] for t, (m, a) in china.items()],
            title=["Made in China by period, at the magnet and metal/alloy stages (" + tiers.METHOD + ")"],
            charts=[Chart("bar", "Made in China by period (share of the stage's tonnes)", x=0, ys=[1, 2],
                          anchor="E", y_format="0%", colors=reds)]))
    rows = []
    for t, p in plan.periods:
        d = float(p.summary["demand_t"])
        rows.append([t, float(p.summary["exposed_t"]) / d if d > 0 else 0.0,
                     float(p.summary["shortage_t"]) / d if d > 0 else 0.0])
    sections.append(Table(
        "exposure by year", [Column("period", 10), Column("exposed share of demand", 12, PCT),
                             Column("short share of demand", 12, PCT)], rows,
        title=["License-exposed and short shares of demand, by period"],
        charts=[Chart("bar", "Exposed and short shares of demand by period", x=0, ys=[1, 2], anchor="E",
                      y_format="0%", colors={1: CHINA_RED, 2: "7F7F7F"})]))
    cost.sections = sections
    return cost


def period_frame(plan: Plan) -> pd.DataFrame:
    """Each period's headline figures (undiscounted), one row per period: for comparisons over periods."""
    assert plan.periods is not None
    rows = []
    for t, p in plan.periods:
        s = p.summary
        d = float(s["demand_t"])
        rows.append({"period": t, "total_cost_usd": float(s["total_cost_usd"]), "shortage_t": float(s["shortage_t"]),
                     "exposed_t": float(s["exposed_t"]), "exposed_share_of_demand": float(s["exposed_t"]) / d
                     if d > 0 else 0.0, "delivered_t": float(s["delivered_t"])})
    return pd.DataFrame(rows, columns=["period", "total_cost_usd", "shortage_t", "exposed_t",
                                       "exposed_share_of_demand", "delivered_t"])
