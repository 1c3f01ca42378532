"""The workbook of a plan over periods: a horizon summary and a roadmap first, then every one-year sheet
with a ``period`` column.

The one-year sheets are built by ``recommendation_tables`` for each period's plan and put together row
by row, so a period's rows read exactly as a one-year plan's do, whatever those sheets hold.
"""

from __future__ import annotations

from planner.output.write import Column, Table
from planner.results.report import Plan

USD = '#,##0;-#,##0;"-"'
T = '#,##0.0;-#,##0.0;"-"'
PCT = "0.0%"
# per-period sheets that do not stack: charts are anchored to one table's rows, run info is the horizon's
_NOT_STACKED = {"Charts", "Run info"}


def horizon_tables(plan: Plan) -> list[Table]:
    from planner.output.sheets import recommendation_tables, status_text  # noqa: PLC0415

    assert plan.periods is not None
    s = plan.summary
    rate = float(s.get("discount_rate", 0.0))
    summary_rows: list[list[object]] = [
        ["Status", status_text(plan), "", ""],
        ["Total cost, discounted", s["total_cost_usd"], "USD", f"discount rate {rate:g} per period"],
        *[[f"  {k}", v, "USD", "discounted sum over the periods"] for k, v in plan.cost_breakdown.items()],
        ["Demand", s["demand_t"], "t", "sum over the periods"],
        ["Delivered", s["delivered_t"], "t", ""],
        ["Shortage", s["shortage_t"], "t", ""],
        ["License-exposed share of deliveries", s["exposed_share"], "fraction", ""],
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
             *[Column(f"{k}_usd", 16, USD) for k in plan.cost_breakdown],
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
            if table.name not in stacked:
                stacked[table.name] = Table(table.name, [Column("period", 10), *table.columns], rows,
                                            title=table.title, freeze=table.freeze)
                order.append(table.name)
            else:
                stacked[table.name].rows = [*stacked[table.name].rows, *rows]
    stock = plan.stock
    stock_table = Table(
        "Stock",
        [Column("period", 10), Column("plant", 18), Column("product", 14), Column("exposed", 9),
         Column("lead time bound (days)", 14, "0"), Column("opening (t)", 12, T), Column("closing (t)", 12, T)],
        [[r.period, r.site_id, r.product, "yes" if r.exposed else "no", None if r.bound_days >= 10**9 else r.bound_days,
          r.opening_t, r.closing_t] for r in stock.itertuples(index=False)
         if r.opening_t > 1e-9 or r.closing_t > 1e-9],
        title=["Stock at plants between periods", "By whether it is license-exposed and the lead time it arrived "
               "with (blank: no limit); a draw needs no new license."],
    ) if stock is not None and len(stock) else None
    info = Table("Run info", [Column("key", 22), Column("value", 80)],
                 [[k, v if isinstance(v, (int, float, str)) or v is None else str(v)]
                  for k, v in plan.run_info.items()])
    return [summary, roadmap, *([stock_table] if stock_table is not None else []), *(stacked[n] for n in order), info]
