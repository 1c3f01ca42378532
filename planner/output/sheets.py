"""Lay a plan out as the sheets of the recommendation workbook (presentation only)."""

from __future__ import annotations

import json

import pandas as pd

from planner.input import schema
from planner.output.write import Column, Table
from planner.results.report import Plan

T = "#,##0.0"  # tonnes
USD = "#,##0"
USD_KG = "#,##0.00"
PCT = "0.0%"
MILLIONS = r"#,##0,,\ \M"  # Excel: each trailing comma divides by 1,000; then a literal " M"


def status_text(plan: Plan) -> str:
    s = plan.summary
    if plan.status == "optimal":
        gap = s.get("gap")
        if gap:
            return f"optimal (within the requested MIP gap; gap {100 * float(gap):.4f} %)"
        return "optimal"
    gap = s.get("gap")
    return f"feasible, gap {100 * float(gap):.2f} % (stopped at the time limit; not proven optimal)" if gap is not None \
        else "feasible, gap unknown (stopped at a limit; not proven optimal)"


def _frame_rows(df: pd.DataFrame, cols: list[str]) -> list[list[object]]:
    out = []
    for rec in df[cols].itertuples(index=False, name=None):
        out.append([None if (isinstance(v, float) and pd.isna(v)) or v is pd.NA else _py(v) for v in rec])
    return out


def _py(v: object) -> object:
    if hasattr(v, "item"):
        return v.item()  # numpy scalar
    return v


def recommendation_tables(plan: Plan) -> list[Table]:
    if plan.periods is not None:  # a plan over periods: its own summary and roadmap, each sheet per period
        from planner.output.horizon import horizon_tables  # noqa: PLC0415

        return horizon_tables(plan)
    s = plan.summary
    parts = plan.cost_breakdown
    labels = {
        "production": "Production (sites' unit costs x tonnes made)",
        "freight": "Freight",
        "duty": "Import duty",
        "tariff": "Ad-valorem tariffs",
        "qualification": "Qualification of new suppliers (one-off)",
        "shortage": "Shortage (priced unmet demand)",
        "license_risk": f"License risk (risk_weight {s['risk_weight']:g} x expected loss)",
    }
    summary_rows: list[list[object]] = [
        ["Status", status_text(plan), ""],
        ["Total cost", s["total_cost_usd"], "USD/yr"],
        *[[f"  {labels[k]}", v, "USD/yr"] for k, v in parts.items()],
        ["Demand", s["demand_t"], "t/yr"],
        ["Delivered", s["delivered_t"], "t/yr"],
        ["Shortage", s["shortage_t"], "t/yr"],
        ["License-exposed deliveries", s["exposed_t"], "t/yr"],
        ["License-exposed share of deliveries", s["exposed_share"], "fraction"],
        ["Expected license loss (before risk_weight)", s["expected_license_loss_usd"], "USD/yr"],
        ["Best bound on total cost", s["best_bound_usd"], "USD/yr"],
        ["Solver", s["solver"], ""],
        ["Solve time", s["solve_time_s"], "s"],
        ["Input", plan.run_info.get("input", ""), ""],
    ]
    short = plan.plants[plan.plants["shortage_t"] > 0] if len(plan.plants) else plan.plants
    for r in short.itertuples(index=False):
        summary_rows.append([f"Short: {r.site_id} {r.product}", r.shortage_t, f"t of {r.demand_t:,.1f} t"])
    for w in plan.warnings:
        summary_rows.append(["Warning", w, ""])
    summary = Table(
        "Summary",
        [Column("item", 46), Column("value", 22, USD), Column("unit", 10)],
        summary_rows,
        title=["Sourcing recommendation", "Costs per year; tonnes per year. Every figure is recomputed from the flows."],
    )
    plants = Table(
        "Plants",
        [Column("plant", 18), Column("product", 14), Column("demand_t", 12, T), Column("delivered_t", 12, T),
         Column("shortage_t", 12, T), Column("exposed_t", 12, T, "tonnes that passed, or contain material that "
                                             "passed, a license event"),
         Column("exposed_share", 12, PCT), Column("exposed_cap", 12, PCT),
         Column("lead_time_days", 14, "0", "longest chain of processing, transit and approval days of what was "
                                           "delivered"),
         Column("lead_time_limit", 14, "0"), Column("suppliers", 40)],
        _frame_rows(plan.plants, ["site_id", "product", "demand_t", "delivered_t", "shortage_t", "exposed_t",
                                  "exposed_share", "exposed_cap_share", "max_lead_time_days",
                                  "lead_time_limit_days", "suppliers"]) if len(plan.plants) else [],
    )
    sourcing = Table(
        "Sourcing",
        [Column("plant", 18), Column("product", 14), Column("tier", 6, "0", "1 = ships to the plant, 2 = supplies "
                                                                             "tier 1, ..."),
         Column("site", 20), Column("stage", 9), Column("company", 20), Column("country", 8), Column("supplies", 14),
         Column("tonnes", 12, T, "tonnes of 'supplies' behind this plant's deliveries"),
         Column("share", 9, PCT, "share of this input in the plant's chain")],
        _frame_rows(plan.sourcing, ["plant", "product", "tier", "site_id", "stage", "company", "country", "supplies",
                                    "tonnes", "share"]),
    )
    content = [c for c in plan.flows.columns if c.endswith("_content_t")]
    flows = Table(
        "Lanes used",
        [Column("from", 20), Column("to", 20), Column("product", 14), Column("tonnes", 12, T),
         Column("cost_usd", 14, USD, "freight + duty + tariff"), Column("freight_usd", 13, USD),
         Column("duty_usd", 12, USD), Column("tariff_usd", 12, USD), Column("exposed_t", 12, T),
         Column("licensed_t", 12, T, "tonnes shipped under an export license on this lane"),
         Column("expected_loss_usd", 14, USD), Column("transit_days", 8, "0"), Column("approval_days", 8, "0"),
         Column("lead_time_days", 10, "0", "elapsed days on arrival, longest chain"),
         Column("from_country", 8), Column("to_country", 8), Column("lane_row", 8, "0", "Lanes sheet row that "
                                                                                       "governs this lane"),
         *[Column(c, 12, T) for c in content]],
        _frame_rows(plan.flows.assign(**{"from": plan.flows["from_site"], "to": plan.flows["to_site"]}),
                    ["from", "to", "product", "tonnes", "cost_usd", "freight_usd", "duty_usd", "tariff_usd",
                     "exposed_t", "licensed_t", "expected_loss_usd", "transit_days", "approval_days", "lead_time_days",
                     "from_country", "to_country", "lane_row", *content]) if len(plan.flows) else [],
    )
    sites = Table(
        "Sites",
        [Column("site", 20), Column("product", 14), Column("stage", 9), Column("company", 20), Column("country", 8),
         Column("made_t", 12, T), Column("shipped_t", 12, T),
         Column("surplus_t", 12, T, "made but not shipped (paid for; take-or-pay or an unneeded coproduct)"),
         Column("capacity_t", 12, T), Column("utilisation", 10, PCT), Column("exposed_t", 12, T),
         Column("unit_cost_usd_per_kg", 12, USD_KG), Column("production_cost_usd", 16, USD),
         Column("value_of_capacity_usd_per_kg", 16, USD_KG,
                "how much the total cost falls per extra kg/yr of capacity here (LP dual; for a MIP, with the "
                "qualification decisions fixed)")],
        _frame_rows(plan.production, ["site_id", "product", "stage", "company", "country", "made_t", "shipped_t",
                                      "surplus_t", "capacity_t", "utilisation", "exposed_t", "unit_cost_usd_per_kg",
                                      "production_cost_usd", "capacity_value_usd_per_kg"])
        if len(plan.production) else [],
    )
    lic = Table(
        "Licenses",
        [Column("from", 20), Column("to", 20), Column("product", 14), Column("license_of", 10),
         Column("rule", 14), Column("tonnes", 12, T), Column("approval_probability", 10, PCT),
         Column("approval_days", 10, "0"), Column("denial_cost_usd_per_kg", 12, USD_KG),
         Column("expected_loss_usd", 14, USD)],
        _frame_rows(plan.licenses, ["from_site", "to_site", "product", "license_of", "rule", "tonnes",
                                    "approval_probability", "approval_days", "denial_cost_usd_per_kg",
                                    "expected_loss_usd"]),
    )
    cand = Table(
        "Candidates",
        [Column("site", 20), Column("name", 30), Column("stage", 9), Column("country", 8), Column("used", 7),
         Column("qualification_cost_usd", 16, USD), Column("output_t", 12, T), Column("min_volume_t", 12, T)],
        _frame_rows(plan.candidates, ["site_id", "name", "stage", "country", "used", "qualification_cost_usd",
                                      "output_t", "min_volume_t"]),
    )
    info_rows = []
    for k, v in plan.run_info.items():
        if isinstance(v, dict):
            v = json.dumps(v, default=str, sort_keys=True)
        info_rows.append([k, v if isinstance(v, (int, float, str)) or v is None else str(v)])
    info = Table("Run info", [Column("key", 22), Column("value", 80)], info_rows)
    out = [summary, plants, sourcing, flows, sites, lic, cand, info]
    ex = plan.explanation
    if ex is not None:
        out = [_findings(plan, ex), *out[:5], _suppliers(ex), _limits(ex), *out[5:]]
    out.insert(out.index(plants) + 1, _charts(plan))
    return out


def _findings(plan: Plan, ex) -> Table:  # noqa: ANN001
    return Table(
        "Findings",
        [Column("finding", 140)],
        [[f"{i}. {line}"] for i, line in enumerate(ex.findings, start=1)],
        title=["Findings", f"Status: {status_text(plan)}. Figures per year; details on the following sheets."],
        freeze=False,
    )


def _suppliers(ex) -> Table:  # noqa: ANN001
    cols = [Column("site", 20), Column("product", 14), Column("stage", 9), Column("country", 8), Column("status", 10),
            Column("in_mix", 7), Column("made_t", 12, T), Column("capacity_t", 12, T), Column("utilisation", 10, PCT),
            Column("supplies", 40, note="its largest customers in this plan"),
            Column("capacity_value_usd_per_kg", 14, USD_KG, "saving per extra kg/yr of capacity (LP dual)"),
            Column("price_to_win_usd_per_kg", 14, USD_KG,
                   "for a supplier not in the mix: how much cheaper per kg it must be to enter (re-solve)"),
            Column("why", 90)]
    return Table("Suppliers", cols, _frame_rows(ex.suppliers, [
        "site_id", "product", "stage", "country", "status", "in_mix", "made_t", "capacity_t", "utilisation",
        "supplies", "capacity_value_usd_per_kg", "price_to_win_usd_per_kg", "why"]) if len(ex.suppliers) else [])


def _limits(ex) -> Table:  # noqa: ANN001
    return Table("Limits", [Column("limit", 20), Column("where", 40), Column("value", 16, "#,##0.00"),
                            Column("unit", 60)],
                 _frame_rows(ex.limits, ["limit", "where", "value", "unit"]) if len(ex.limits) else [],
                 title=["Limits that bind", "What one more unit of each is worth (LP duals; lead time by re-solving)"])


def _charts(plan: Plan) -> Table:
    from planner.output.write import Chart  # noqa: PLC0415

    parts = [[k.replace("_", " "), v] for k, v in plan.cost_breakdown.items() if abs(v) > 0.005]
    cost = Table("Charts", [Column("cost part", 26), Column("USD per year", 18, USD)], parts,
                 title=["Cost by part"], freeze=False,
                 charts=[Chart("bar", "Total cost by part (USD per year)", x=0, ys=[1], anchor="E1",
                               y_format=MILLIONS)])
    sections = []
    pr = plan.production
    if len(pr):
        # what each stage adds: production cost by the producing site's stage; freight, duty and tariff
        # as "logistics"; shortage, qualification and license risk as they are
        by_stage = pr.groupby("stage")["production_cost_usd"].sum()
        order = [st for st in schema.STAGES if st in by_stage.index and by_stage[st] > 0.005]
        cb = plan.cost_breakdown
        rows = [[f"{st} (production)", float(by_stage[st])] for st in order]
        rows += [[label, v] for label, v in (
            ("logistics (freight, duty, tariff)", cb.get("freight", 0) + cb.get("duty", 0) + cb.get("tariff", 0)),
            ("qualification", cb.get("qualification", 0)), ("shortage", cb.get("shortage", 0)),
            ("license risk", cb.get("license_risk", 0))) if abs(v) > 0.005]
        sections.append(Table(
            "stage", [Column("stage", 26), Column("USD per year", 18, USD)], rows, title=["Cost by stage"],
            charts=[Chart("bar", "Total cost by stage (USD per year)", x=0, ys=[1], anchor="E",
                          y_format=MILLIONS)]))
    # supply mix per plant: tonnes delivered by the country of the magnet maker
    f = plan.flows
    if len(f) and len(plan.plants):
        plants = sorted(set(plan.plants["site_id"]))
        into = f[f["to_site"].isin(plants)]
        pivot = into.pivot_table(index="to_site", columns="from_country", values="tonnes", aggfunc="sum",
                                 fill_value=0.0).reindex(plants, fill_value=0.0)
        countries = list(pivot.columns)
        sections.append(Table(
            "mix", [Column("plant", 26), *[Column(c, 10, T) for c in countries]],
            [[p, *[float(pivot.at[p, c]) for c in countries]] for p in plants],
            title=["Supply mix per plant: tonnes by the supplier's country"],
            charts=[Chart("bar", "Supply mix per plant by supplier country (t/yr)", x=0,
                          ys=list(range(1, len(countries) + 1)), anchor="E", stacked=True,
                          colors={i + 1: "D62728" for i, c in enumerate(countries) if c == "CN"})]))
        pl = plan.plants
        sections.append(Table(
            "exposure", [Column("plant / product", 26), Column("exposed share", 12, PCT), Column("cap", 12, PCT)],
            [[f"{r.site_id} {r.product}", r.exposed_share, r.exposed_cap_share] for r in pl.itertuples(index=False)],
            title=["License-exposed share of each plant's deliveries, against its cap"],
            charts=[Chart("bar", "Exposed share against the cap", x=0, ys=[1, 2], anchor="E", y_format="0%",
                          colors={1: "D62728", 2: "BFBFBF"})]))
    if len(pr):
        busy = pr[pr["made_t"] > 0].sort_values(["utilisation", "made_t"], ascending=False).head(15)
        sections.append(Table(
            "utilisation", [Column("site / product", 26), Column("utilisation", 12, PCT)],
            [[f"{r.site_id} {r.product}", r.utilisation] for r in busy.itertuples(index=False)],
            title=["Utilisation of the busiest sites"],
            charts=[Chart("bar", "Utilisation of the busiest sites", x=0, ys=[1], anchor="E", y_format="0%")]))
    cost.sections = sections
    return cost


# --------------------------------------------------------------------------- template

EXAMPLE: dict[str, list[list[object]]] = {
    "Sites": [["MINE_A", "Mine A", "MineCo", "AU", "mine", "qualified", 0, 0, 28],
              ["REF_B", "Refinery B", "RefCo", "MY", "refiner", "qualified", 0, 0, 70],
              ["PLANT_C", "Your plant", "You", "DE", "plant", "qualified", 0, 0, 0]],
    "Supply": [["MINE_A", "REO_CONC", 5000, 6.0], ["REF_B", "NDPR_OXIDE", 1000, 60.0],
               ["REF_B", "DYTB_OXIDE", 20, 900.0]],
    "Recipes": [["NDPR_OXIDE", "REO_CONC", 5.26, ""]],
    "CoProducts": [["NDPR_OXIDE", "DYTB_OXIDE", 0.02, "REF_B"]],
    "Lanes": [["MINE_A", "REF_B", "", 0.10, 0, 0, 14], ["REF_B", "PLANT_C", "", 0.30, 0, 0, 35]],
    "Demand": [["PLANT_C", "NDPR_OXIDE", 300, 200, "", ""], ["PLANT_C", "DYTB_OXIDE", 5, 200, "", ""]],
    "Controls": [["CN", "DYTB_OXIDE", 0.6, 63, 500, "no", "MOFCOM Announcement 18/2025"]],
    "Settings": [[s.key, ("yes" if s.default else "no") if s.kind == "yesno" else s.default]
                 for s in schema.SETTINGS_KEYS if s.key != "contract_version"],
    "WhatIf": [["Refinery B +500 t", "Supply", "REF_B/NDPR_OXIDE", "capacity_t", "add", 500]],
}


def template_workbook(target, with_examples: bool = True) -> None:  # noqa: ANN001
    """Write a blank input workbook: every sheet and column, units and meaning in header comments."""
    from openpyxl import Workbook  # noqa: PLC0415
    from openpyxl.comments import Comment  # noqa: PLC0415
    from openpyxl.styles import Font, PatternFill  # noqa: PLC0415
    from openpyxl.utils import get_column_letter  # noqa: PLC0415
    from openpyxl.worksheet.datavalidation import DataValidation  # noqa: PLC0415

    from planner.output.write import atomic_path  # noqa: PLC0415

    wb = Workbook()
    info = wb.active
    info.title = "Instructions"
    lines = [
        "planner input workbook (contract v1)",
        "",
        "Fill one sheet per table. Headers are matched case-insensitively; hover a header for its unit and meaning.",
        "Units: tonnes per year (_t), USD per kg (_usd_per_kg), USD (_usd), calendar days (_days), fractions in [0, 1].",
        "Required sheets: " + ", ".join(s.name for s in schema.SHEETS if s.required) + ".",
        "Blank optional cells take their default. The example rows form a small valid case: replace them.",
        "Check your workbook with:  planner validate THIS_FILE.xlsx",
        "",
        "Planning over years (contract v2): list the years on the Periods sheet (2026, 2027, ...). A row with a blank",
        "period holds in every year; a row naming a year replaces it in that year. A new refinery of 5,000 t/yr that",
        "ramps 25 %, 60 %, 100 % from 2027: Supply rows (REF_NEW, NDPR_OXIDE, 5000, 60.0) with a blank period, then",
        "(..., 0, ..., 2026), (..., 1250, ..., 2027), (..., 3000, ..., 2028); a closure is a row with capacity 0.",
        "A candidate's qualification_periods is how many years qualifying it takes; the plan says when to start.",
        "",
    ]
    for s in schema.SHEETS:
        lines.append(f"{s.name}: {s.doc}")
        for c in s.columns:
            req = "required" if c.required else f"optional, default {c.default!r}" if c.default not in (None, "") else \
                "optional"
            unit = f" [{c.unit}]" if c.unit else ""
            lines.append(f"    {c.name}{unit} ({req}): {c.doc}")
    lines.append("")
    lines.append("Settings keys:")
    for st in schema.SETTINGS_KEYS:
        lines.append(f"    {st.key} (default {st.default!r}): {st.doc}")
    for i, line in enumerate(lines, start=1):
        cell = info.cell(row=i, column=1, value=line)
        cell.data_type = "s"
    info["A1"].font = Font(bold=True, size=14)
    info.column_dimensions["A"].width = 130
    fill = PatternFill("solid", fgColor="DDEBF7")
    for s in schema.SHEETS:
        ws = wb.create_sheet(s.name)
        for j, c in enumerate(s.columns, start=1):
            cell = ws.cell(row=1, column=j, value=c.name)
            cell.font = Font(bold=True)
            cell.fill = fill
            note = f"{c.doc}\nUnit: {c.unit or '-'}\n{'Required' if c.required else 'Optional'}; allowed: {c.bounds_text()}"
            cell.comment = Comment(note, "planner")
            ws.column_dimensions[get_column_letter(j)].width = max(12, len(c.name) + 4)
            col_letter = get_column_letter(j)
            if c.kind in ("enum", "yesno"):
                choices = c.choices if c.kind == "enum" else ("yes", "no")
                dv = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=not c.required)
                dv.error = f"{c.name}: {c.bounds_text()}"
                ws.add_data_validation(dv)
                dv.add(f"{col_letter}2:{col_letter}5000")
            elif c.kind in ("number", "days") and c.lo is not None:
                kind = "whole" if c.kind == "days" else "decimal"
                if c.upper is not None:  # the sanity cap too, so Excel refuses what validation would
                    top = int(c.upper) if float(c.upper).is_integer() else c.upper
                    dv = DataValidation(type=kind, operator="between", formula1=str(c.lo), formula2=str(top))
                else:
                    dv = DataValidation(type=kind, operator="greaterThanOrEqual", formula1=str(c.lo))
                dv.error = f"{c.name}: {c.bounds_text()}"
                ws.add_data_validation(dv)
                dv.add(f"{col_letter}2:{col_letter}5000")
        ws.freeze_panes = "A2"
        if with_examples:
            for i, row in enumerate(EXAMPLE.get(s.name, []), start=2):
                for j, v in enumerate(row, start=1):
                    if v == "" or v is None:
                        continue
                    cell = ws.cell(row=i, column=j, value=v)
                    if isinstance(v, str):
                        cell.data_type = "s"
    with atomic_path(target) as tmp:
        wb.save(tmp)


# --------------------------------------------------------------------------- batch comparison


def unique_sheet_names(names: list[str], reserved: set[str]) -> dict[str, str]:
    """Excel-safe, unique sheet names for scenarios (31 characters, no : \\ / ? * [ ])."""
    from planner.output.write import safe_sheet_name  # noqa: PLC0415

    taken = {r.lower() for r in reserved}
    out: dict[str, str] = {}
    for name in names:
        base = safe_sheet_name(name)
        candidate, n = base, 2
        while candidate.lower() in taken or candidate.lower() == "history":  # Excel reserves "History"
            suffix = f" ({n})"
            candidate = safe_sheet_name(base[: 31 - len(suffix)] + suffix)
            n += 1
        taken.add(candidate.lower())
        out[name] = candidate
    return out


def batch_tables(outcomes, comp: pd.DataFrame, changes: pd.DataFrame, detail: bool = False) -> list[Table]:  # noqa: ANN001
    """The comparison workbook; ``comp`` and ``changes`` are planner.whatif.batch's comparison and flow_changes."""
    fixed = ["Comparison", "Flow changes", "Scenarios"]
    names = unique_sheet_names([o.scenario for o in outcomes], set(fixed)) if detail else {}
    comp_cols = [
        Column("scenario", 28), Column("status", 11), Column("total_cost_usd", 16, USD),
        Column("delta_cost_usd", 16, USD, "against the baseline"), Column("delta_cost_pct", 10, PCT),
        Column("exposed_share", 10, PCT), Column("exposed_t", 12, T), Column("shortage_t", 12, T),
        Column("expected_license_loss_usd", 16, USD), Column("max_lead_time_days", 10, "0"),
        Column("suppliers_in", 30, note="sites shipping in this scenario but not in the baseline"),
        Column("suppliers_out", 30, note="sites shipping in the baseline but not in this scenario"),
        Column("saving_per_t_capacity_usd", 16, USD,
               "for a capacity change: cost saved per t/yr of capacity added (USD per t/yr)"),
        Column("gap", 8, "0.00%"), Column("changes", 50), Column("message", 60),
    ]
    tables = [
        Table("Comparison", comp_cols, _frame_rows(comp, [c.header for c in comp_cols]),
              title=["What-if comparison", "Baseline first; costs per year; changes against the baseline."]),
        Table("Flow changes",
              [Column("scenario", 28), Column("from", 20), Column("to", 20), Column("product", 14),
               Column("baseline_t", 12, T), Column("scenario_t", 12, T), Column("change_t", 12, T)],
              _frame_rows(changes, ["scenario", "from_site", "to_site", "product", "baseline_t",
                                                    "scenario_t", "change_t"])),
        Table("Scenarios",
              [Column("scenario", 28), Column("sheet_name", 32, note="this scenario's sheet, with --detail"),
               Column("sheet", 12), Column("key", 30), Column("column", 22), Column("operation", 10),
               Column("value", 14)],
              [[o.scenario, names.get(o.scenario, ""), c.sheet, c.key, c.column, c.operation,
                c.value if isinstance(c.value, (int, float, str)) else str(c.value)]
               for o in outcomes for c in (o.changes or ())] or
              [[o.scenario, names.get(o.scenario, ""), "", "", "", "", ""] for o in outcomes[:1]]),
    ]
    if detail:
        for o in outcomes:
            if o.plan is None:
                continue
            f = o.plan.flows
            tables.append(Table(
                names[o.scenario],
                [Column("from", 20), Column("to", 20), Column("product", 14), Column("tonnes", 12, T),
                 Column("cost_usd", 14, USD), Column("exposed_t", 12, T), Column("lead_time_days", 10, "0")],
                _frame_rows(f, ["from_site", "to_site", "product", "tonnes", "cost_usd", "exposed_t",
                                "lead_time_days"]) if len(f) else [],
                title=[f"Scenario: {o.scenario}"],
            ))
    return tables


def sweep_tables(frame, param: str, sentence: str) -> list[Table]:  # noqa: ANN001
    from planner.output.write import Chart  # noqa: PLC0415

    cols = [Column("point", 30), Column("value", 10, "0.####"), Column("status", 10),
            Column("total_cost_usd", 16, USD), Column("delta_from_first_point_usd", 16, USD),
            Column("exposed_share", 10, PCT), Column("exposed_t", 12, T), Column("shortage_t", 12, T),
            Column("expected_license_loss_usd", 16, USD),
            Column("suppliers_in", 30, note="sites that start shipping at this point (against the previous point)"),
            Column("suppliers_out", 30, note="sites that stop shipping at this point"), Column("message", 40)]
    pts = frame[frame["value"].notna()]
    charts = [
        Chart("scatter", "Total cost against license-exposed share", x=5, ys=[3],
              x_title="license-exposed share of deliveries", y_title="USD per year", anchor="N4"),
        Chart("scatter", f"Total cost against {param}", x=1, ys=[3], x_title=param, y_title="USD per year",
              anchor="N26"),
    ]
    return [
        Table("Sweep", cols, _frame_rows(pts, [c.header for c in cols]),
              title=[f"Trade-off sweep of {param}", sentence], charts=charts),
        Table("Baseline", cols, _frame_rows(frame[frame["value"].isna()], [c.header for c in cols])),
    ]
