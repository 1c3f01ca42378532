"""Lay a plan out as the sheets of the recommendation workbook (presentation only)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd

from planner.input import schema
from planner.output.write import Column, Fmt, Table
from planner.results import tiers
from planner.results.report import Plan

T = "#,##0.0"  # tonnes
USD = "#,##0"
USD_KG = "#,##0.00"
PCT = "0.0%"
MILLIONS = r"#,##0,,\ \M"  # Excel: each trailing comma divides by 1,000; then a literal " M"
M_USD = r"#,##0.0,,\ \M"  # USD shown in millions with one decimal (the cell holds the exact USD)
M_PLAIN = r"#,##0.0,,"  # millions, where the heading or unit already says M USD
# Fixed colours per country, so that a country is the same colour in every chart and no other country
# takes China's red (Excel's default palette starts with a red-ish series for whichever comes first).
CHINA_RED = "D62728"
PALETTE = ["1F77B4", "2CA02C", "FF7F0E", "9467BD", "8C564B", "E377C2", "7F7F7F", "BCBD22", "17BECF",
           "AEC7E8", "98DF8A", "FFBB78", "C5B0D5", "C49C94", "F7B6D2", "C7C7C7", "DBDB8D", "9EDAE5"]
# The interpretations README ("they are also in Run info") lists, one line each.
ASSUMPTIONS = (
    "Lead time is measured to arrival at the plant; a plant's own processing_days is not counted.",
    "A shipment needing licenses of two countries adds both approval times and both expected losses; a content-rule "
    "license takes the strictest parameters among that country's content-rule rows whose material it carries.",
    "Material carries a country's content when made there under a Controls row with content_rule = yes, through "
    "every later stage; rows of one country with equal parameters are one flag.",
    "max_country_share counts what sites ship, not what they make; a shipment counts even if it arrives too late.",
    "A Lanes row naming one site as sender and receiver is an internal transfer; group rows never pair a site "
    "with itself.",
    "Among equally cheap plans the least exposed is reported (a tie-break of 0.01 USD per tonne per class flag, "
    "left out of every reported cost).",
    "Status is honest: optimal means proven optimal (a MIP within mip_gap); a time-limited solve is feasible with "
    "its gap.",
    "Large MIPs (20,000 variables and up, HiGHS) are solved LP relaxation, restricted MIP, full MIP, each with its "
    "share of the time limit (solve_phases).",
)


def country_colors(countries: list[str]) -> dict[str, str]:
    """A fixed colour per country: China red, the others from a palette without red, by sorted code."""
    others = sorted(c for c in set(countries) if c != "CN")
    out = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(others)}
    if "CN" in countries:
        out["CN"] = CHINA_RED
    return out


def site_names(plan: Plan) -> dict[str, str]:
    sites = plan.sites
    if not len(sites) or "name" not in sites.columns:
        return {}
    return {str(k): str(v) if isinstance(v, str) and v else str(k)
            for k, v in zip(sites["site_id"], sites["name"], strict=True)}


def status_text(plan: Plan) -> str:
    s = plan.summary
    if plan.status == "optimal":
        gap = s.get("gap")
        if gap:
            return f"optimal (within the requested MIP gap; gap {100 * float(gap):.4f} %)"
        return "optimal"
    gap = s.get("gap")
    if gap is not None:
        return f"feasible, gap {100 * float(gap):.2f} % (stopped at the time limit; not proven optimal)"
    return "feasible, gap unknown (stopped at a limit; not proven optimal)"


def _frame_rows(df: pd.DataFrame, cols: list[str]) -> list[list[object]]:
    # each column iterated as itertuples iterates it (Series.__iter__), without the copy ``df[cols]`` makes first;
    # a float is missing where it is not equal to itself, as pd.isna reads a float (a call each, 5,000 a run)
    recs = zip(*(df[c] for c in cols), strict=True) if cols and df.columns.is_unique \
        else df[cols].itertuples(index=False, name=None)
    return [[None if (isinstance(v, float) and v != v) or v is pd.NA else _py(v) for v in rec] for rec in recs]


def _py(v: object) -> object:
    if hasattr(v, "item"):
        return v.item()  # numpy scalar
    return v


def recommendation_tables(plan: Plan) -> list[Table]:
    if plan.regimes is not None:  # against licence regimes: their answers, then the first regime's plan
        from planner.output.regimes import regime_tables  # noqa: PLC0415

        return regime_tables(plan)
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
        "holding": "Holding stock between periods",
        "take_or_pay": "Take-or-pay: contracted tonnes paid for, not taken",
        "reservation": "Reservation fees (reserved volume, taken or not)",
        "shortage": "Shortage penalty (priced unmet demand)",
        "license_risk": "Expected license loss" if float(s["risk_weight"]) == 1 else
        f"License risk (risk_weight {s['risk_weight']:g} x expected loss)",
    }
    cash = sum(v for k, v in parts.items() if k not in ("shortage", "license_risk"))
    demand = float(s["demand_t"])
    ex = plan.explanation
    # the explanation's own table when it is of this plan's sourcing (the same frame): traced once a run
    table = ex.made_where[1] if ex is not None and ex.made_where is not None and ex.made_where[0] is plan.sourcing \
        else tiers.by_country(plan.sourcing)
    china = tiers.country_share(table)
    shares = tiers.plant_shares(table)  # for the Plants and Made where sheets
    summary_rows: list[list[object]] = [
        ["Status", status_text(plan), ""],
        ["Total cost", Fmt(s["total_cost_usd"], M_PLAIN), "M USD/yr"],
        ["  Cash cost", Fmt(cash, M_PLAIN), "M USD/yr"],
        *[[f"    {labels[k]}", Fmt(v, M_PLAIN), "M USD, one-off (in this year's total)" if k == "qualification"
           else "M USD/yr"] for k, v in parts.items() if k not in ("shortage", "license_risk")],
        [f"  {labels['license_risk']}", Fmt(parts.get("license_risk", 0.0), M_PLAIN), "M USD/yr (a penalty, not cash)"],
        [f"  {labels['shortage']}", Fmt(parts.get("shortage", 0.0), M_PLAIN), "M USD/yr (a penalty, not cash)"],
        ["Demand", Fmt(demand, T), "t/yr"],
        ["Delivered", Fmt(s["delivered_t"], T), "t/yr"],
        ["Shortage", Fmt(s["shortage_t"], T), "t/yr"],
        ["License-exposed deliveries", Fmt(s["exposed_t"], T), "t/yr"],
        ["License-exposed share of deliveries", Fmt(s["exposed_share"], PCT), "of t delivered"],
        ["License-exposed share of demand", Fmt(s["exposed_t"] / demand if demand > 0 else 0.0, PCT),
         "of t demanded (the base of the exposure caps)"],
        *[[f"Made in China: {tiers.STAGE_NAMES[st]}", Fmt(v, PCT), "of the stage's tonnes behind deliveries"]
          for st, v in china.items() if v is not None],
        ["Expected license loss (before risk_weight)", Fmt(s["expected_license_loss_usd"], M_PLAIN), "M USD/yr"],
        ["Solver", s["solver"], ""],
        ["Input", _input_name(plan), ""],
    ]
    names = site_names(plan)
    short = plan.plants[plan.plants["shortage_t"] > 0] if len(plan.plants) else plan.plants
    for r in short.itertuples(index=False):
        summary_rows.append([f"Short: {names.get(r.site_id, r.site_id)} {r.product}", Fmt(r.shortage_t, T),
                             f"t of {r.demand_t:,.1f} t"])
    for w in plan.warnings:
        summary_rows.append(["Warning", w, ""])
    summary = Table(
        "Summary",
        [Column("item", 46), Column("value", 14, USD, fit=False), Column("unit", 14)],
        summary_rows,
        title=["Sourcing recommendation", "Costs per year in M USD; tonnes per year. Every figure is recomputed from "
                                          "the flows; China shares as on the Made where sheet."],
    )
    plants = Table(
        "Plants",
        [Column("Plant", 18), Column("site", 12), Column("product", 14), Column("demand_t", 12, T),
         Column("delivered_t", 12, T),
         Column("shortage_t", 12, T), Column("exposed_t", 12, T, "tonnes that passed, or contain material that "
                                             "passed, a license event"),
         Column("Exposed share of demand", 12, PCT, "exposed tonnes / tonnes demanded: the base of the cap"),
         Column("Exposed cap (of demand)", 12, PCT, "the most of the demand that may be license-exposed"),
         Column("Exposed share of deliveries", 12, PCT, "exposed tonnes / tonnes delivered: higher than the share "
                                                        "of demand when some demand is short"),
         Column("Made in China: magnet", 12, PCT, "share of the delivered magnets made by Chinese magnet makers"),
         Column("Made in China: metal/alloy", 12, PCT, "share of the metal/alloy behind the deliveries made in China "
                                                      "(" + tiers.METHOD + ")"),
         Column("lead_time_days", 14, "0", "longest chain of processing, transit and approval days of what was "
                                           "delivered"),
         Column("lead_time_limit_days", 14, "0"), Column("suppliers", 40)],
        _plant_rows(plan, table, shares),
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
    info = Table("Run info", [Column("key", 22), Column("value", 80)], _run_info_rows(plan))
    out = [summary, plants, sourcing, _made_where(plan, table, shares), flows, sites, lic, cand, info]
    if ex is not None:
        out = [_findings(plan, ex, table), *out[:6], _suppliers(ex), _limits(ex), *out[6:]]
    out.insert(out.index(plants) + 1, _charts(plan, table))
    return out


def _input_name(plan: Plan) -> str:
    """The input's file name: a workbook that travels should not carry the folders of the machine that ran it."""
    src = plan.run_info.get("input") or ""
    return Path(str(src)).name if src else ""


def _versions(text: str) -> str:
    """The versions line, with highspy's version from its distribution (the module has no __version__)."""
    import importlib.metadata  # noqa: PLC0415

    if "highspy " in text and not any(ch.isdigit() for ch in text.split("highspy ", 1)[1].split(",", 1)[0]):
        try:
            v = importlib.metadata.version("highspy")
        except importlib.metadata.PackageNotFoundError:
            v = "unknown"
        text = text.replace("highspy ,", f"highspy {v},").replace("highspy  ", f"highspy {v} ")
        if text.rstrip().endswith("highspy"):
            text = text.rstrip() + f" {v}"
    return text


# Run info keys that are wall-clock seconds: in the JSON (--json), not in the workbook, so that the same input
# gives the same workbook, byte for byte, however busy the machine was
WALL_CLOCK = frozenset({"build_s", "solve_s", "report_s"})


def _run_info_rows(plan: Plan) -> list[list[object]]:
    rows = []
    for k, v in plan.run_info.items():
        if k in WALL_CLOCK:
            continue
        if k == "input":
            v = _input_name(plan)
        elif k == "versions":
            v = _versions(str(v))
        if isinstance(v, dict):
            v = json.dumps(v, default=str, sort_keys=True)
        rows.append([k, v if isinstance(v, (int, float, str)) or v is None else str(v)])
    rows.append(["china_shares", "Made in China " + tiers.METHOD + "; license exposure is exact per tonne."])
    for i, a in enumerate(ASSUMPTIONS, start=1):
        rows.append([f"assumption {i}", a])
    return rows


def _plant_rows(plan: Plan, table: pd.DataFrame, shares: pd.DataFrame) -> list[list[object]]:
    p = plan.plants
    if not len(p):
        return []
    names = site_names(plan)
    # (magnet, metal) per plant and product: a lookup, not a row of an indexed frame per plant
    cn_of = {(r.plant, r.product): (_py(r.magnet), _py(r.metal)) for r in shares.itertuples(index=False)} \
        if len(table) else {}
    rows = []
    for r in p.itertuples(index=False):
        cn = cn_of.get((r.site_id, r.product))
        sup = ", ".join(names.get(x, x) for x in str(r.suppliers).split(", ") if x)
        rows.append([names.get(r.site_id, r.site_id), r.site_id, r.product, r.demand_t, r.delivered_t, r.shortage_t,
                     r.exposed_t, r.exposed_t / r.demand_t if r.demand_t > 0 else 0.0, r.exposed_cap_share,
                     r.exposed_share, None if cn is None else cn[0],
                     None if cn is None else cn[1],
                     None if pd.isna(r.max_lead_time_days) else int(r.max_lead_time_days),
                     None if pd.isna(r.lead_time_limit_days) else int(r.lead_time_limit_days), sup])
    return [[None if isinstance(v, float) and pd.isna(v) else v for v in row] for row in rows]


def _made_where(plan: Plan, table: pd.DataFrame, shares: pd.DataFrame) -> Table:
    """China at every tier, per plant and overall, with the country split behind it (``shares``:
    ``tiers.plant_shares(table)``)."""
    names = site_names(plan)
    per = [[names.get(r.plant, r.plant), r.plant, r.product,
            *[None if pd.isna(getattr(r, st)) else float(getattr(r, st)) for st in tiers.STAGES]]
           for r in shares.itertuples(index=False)]
    overall = tiers.country_share(table)
    per.append(["All plants", "", "all", *[overall[st] for st in tiers.STAGES]])
    detail = Table(
        "countries", [Column("Plant", 18), Column("site", 12), Column("product", 14), Column("stage", 12),
                      Column("country", 9), Column("tonnes", 12, T, "tonnes of the stage's products behind the "
                                                                   "deliveries, made in this country"),
                      Column("share", 10, PCT, "of the stage's tonnes behind these deliveries")],
        [[names.get(r.plant, r.plant), "" if r.plant == "all plants" else r.plant, r.product,
          tiers.STAGE_NAMES[r.stage], r.country, float(r.tonnes), float(r.share)]
         for r in table.itertuples(index=False)],
        title=["Every country at every stage"])
    exact = tiers.contains_any(plan)
    lines = [f"Exactly (batches kept apart by the model): {100 * exact['exposed']:.1f} % of delivered tonnes contain "
             "material that needs an export license"]
    lines += [f"Exactly: {100 * v:.1f} % of delivered tonnes contain {k} material under its content rule"
              for k, v in exact.items() if k != "exposed"]
    return Table(
        "Made where",
        [Column("Plant", 18), Column("site", 12), Column("product", 14),
         *[Column(f"China: {tiers.STAGE_NAMES[st]}", 12, PCT) for st in tiers.STAGES]],
        per,
        title=["Made in China, at every stage, of what each plant receives",
               "Shares " + tiers.METHOD + ". " + "; ".join(lines) + "."],
        freeze=False, sections=[detail])


FINDING_WIDTH = 150  # characters per printed line of a finding (wrapped here: the sheet prints as it shows)


def kpi_strip(plan: Plan, table: pd.DataFrame) -> tuple[list[Column], list[object]]:
    """The figures a manager reads first, one row: cost, cash, penalties, deliveries, China by tier, exposure."""
    s, parts = plan.summary, plan.cost_breakdown
    cash = sum(v for k, v in parts.items() if k not in ("shortage", "license_risk"))
    china = tiers.country_share(table)
    cols = [Column("Total cost (M USD/yr)", 12, M_PLAIN), Column("Cash cost (M USD/yr)", 12, M_PLAIN),
            Column("Expected license loss (M USD/yr)", 12, M_PLAIN), Column("Shortage penalty (M USD/yr)", 12, M_PLAIN),
            Column("Delivered (t)", 11, T), Column("Shortage (t)", 11, T),
            *[Column(f"Made in China: {tiers.STAGE_NAMES[st]}", 12, PCT) for st in tiers.STAGES],
            Column("Exposed share", 11, PCT, "license-exposed share of deliveries (exact)")]
    values = [s["total_cost_usd"], cash, parts.get("license_risk", 0.0), parts.get("shortage", 0.0),
              s["delivered_t"], s["shortage_t"], *[china[st] for st in tiers.STAGES], s["exposed_share"]]
    return cols, values


def _findings(plan: Plan, ex, table: pd.DataFrame) -> Table:  # noqa: ANN001
    cols, values = kpi_strip(plan, table)
    lines: list[list[object]] = []
    for i, line in enumerate(ex.findings, start=1):
        wrapped = textwrap.wrap(f"{i}. {line}", FINDING_WIDTH, subsequent_indent="    ") or [""]
        lines.extend([w] for w in wrapped)
    return Table(
        "Findings", cols, [values],
        title=["Findings", f"Status: {status_text(plan)}. Figures per year; details on the following sheets.",
               "Made in China: by proportional tracing through the plan's flows, assuming material mixes at each site "
               "(the Made where sheet)."],
        freeze=False,
        sections=[Table("findings", [Column("Findings", 12, fit=False)], lines)],
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


def _charts(plan: Plan, table: pd.DataFrame) -> Table:
    from planner.output.write import Chart  # noqa: PLC0415

    names = site_names(plan)

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
    # where what is delivered was made, stage by stage: the share of each country (China at every tier)
    if len(table):
        overall = table[table["plant"] == "all plants"]
        countries = sorted(set(overall["country"]), key=lambda c: (c != "CN", c))
        colors = country_colors(countries)
        stages = [st for st in tiers.STAGES if (overall["stage"] == st).any()]
        share = {(r.stage, r.country): float(r.share) for r in overall.itertuples(index=False)}
        sections.append(Table(
            "tiers", [Column("stage", 26), *[Column(c, 9, PCT) for c in countries]],
            [[tiers.STAGE_NAMES[st], *[share.get((st, c), 0.0) for c in countries]] for st in stages],
            title=["Where what is delivered was made, stage by stage (" + tiers.METHOD + ")"],
            charts=[Chart("bar", "Made where, by stage (share of the stage's tonnes behind deliveries)", x=0,
                          ys=list(range(1, len(countries) + 1)), anchor="E", stacked=True, y_format="0%",
                          y_max=1.0, colors={i + 1: colors[c] for i, c in enumerate(countries)})]))
    # supply mix per plant: tonnes delivered by the country of the magnet maker
    f = plan.flows
    if len(f) and len(plan.plants):
        plants = sorted(set(plan.plants["site_id"]))
        into = f[f["to_site"].isin(plants)]
        pivot = into.pivot_table(index="to_site", columns="from_country", values="tonnes", aggfunc="sum",
                                 fill_value=0.0).reindex(plants, fill_value=0.0)
        countries = sorted(pivot.columns, key=lambda c: (c != "CN", c))
        colors = country_colors(countries)
        sections.append(Table(
            "mix", [Column("plant", 26), *[Column(c, 10, T) for c in countries]],
            [[names.get(p, p), *[float(pivot.at[p, c]) for c in countries]] for p in plants],
            title=["Supply mix per plant: tonnes by the supplier's country"],
            charts=[Chart("bar", "Supply mix per plant by supplier country (t/yr)", x=0,
                          ys=list(range(1, len(countries) + 1)), anchor="E", stacked=True,
                          colors={i + 1: colors[c] for i, c in enumerate(countries)})]))
        pl = plan.plants
        sections.append(Table(
            "exposure", [Column("plant / product", 26), Column("exposed share of demand", 12, PCT),
                         Column("cap", 12, PCT)],
            [[f"{names.get(r.site_id, r.site_id)} {r.product}", r.exposed_t / r.demand_t if r.demand_t > 0 else 0.0,
              r.exposed_cap_share] for r in pl.itertuples(index=False)],
            title=["License-exposed share of each plant's demand, against its cap (the cap's own base)"],
            charts=[Chart("bar", "Exposed share of demand against the cap", x=0, ys=[1, 2], anchor="E",
                          y_format="0%", colors={1: CHINA_RED, 2: "7F7F7F"}, labels=[2])]))
    if len(pr):
        busy = pr[pr["made_t"] > 0].sort_values(["utilisation", "made_t"], ascending=False).head(15)
        sections.append(Table(
            "utilisation", [Column("site / product", 26), Column("utilisation", 12, PCT)],
            [[f"{names.get(r.site_id, r.site_id)} {r.product}", r.utilisation] for r in busy.itertuples(index=False)],
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


def _shown(default: object) -> str:
    """A default as it is typed into the workbook: yes/no, not Python's True/False."""
    if isinstance(default, bool):
        return "yes" if default else "no"
    return repr(default) if isinstance(default, str) else f"{default:g}" if isinstance(default, float) else str(default)


def template_workbook(target, with_examples: bool = True) -> None:  # noqa: ANN001
    """Write a blank input workbook: every sheet and column, units and meaning in header comments."""
    from openpyxl import Workbook  # noqa: PLC0415
    from openpyxl.comments import Comment  # noqa: PLC0415
    from openpyxl.styles import Font, PatternFill  # noqa: PLC0415
    from openpyxl.utils import get_column_letter  # noqa: PLC0415
    from openpyxl.worksheet.datavalidation import DataValidation  # noqa: PLC0415

    from planner.output.write import atomic_path, save_workbook  # noqa: PLC0415

    wb = Workbook()
    info = wb.active
    info.title = "Instructions"
    lines = [
        "planner input workbook (contract v1)",
        "",
        "Fill one sheet per table. Headers are matched case-insensitively; hover a header for its unit and meaning.",
        "Units: tonnes per year (_t), USD per kg (_usd_per_kg), USD (_usd), calendar days (_days), "
        "fractions in [0, 1].",
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
            req = "required" if c.required else f"optional, default {_shown(c.default)}" \
                if c.default not in (None, "") else "optional"
            unit = f" [{c.unit}]" if c.unit else ""
            lines.append(f"    {c.name}{unit} ({req}): {c.doc}")
    lines.append("")
    lines.append("Settings keys:")
    for st in schema.SETTINGS_KEYS:
        lines.append(f"    {st.key} (default {_shown(st.default)}): {st.doc}")
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
            need = "Required" if c.required else "Optional"
            note = f"{c.doc}\nUnit: {c.unit or '-'}\n{need}; allowed: {c.bounds_text()}"
            cell.comment = Comment(note, "planner")
            ws.column_dimensions[get_column_letter(j)].width = max(12, len(c.name) + 4)
            col_letter = get_column_letter(j)
            if c.kind in ("enum", "yesno"):
                choices = c.choices if c.kind == "enum" else ("yes", "no")
                dv = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=not c.required,
                                    showErrorMessage=True, errorTitle=c.name)
                dv.error = f"{c.name}: {c.bounds_text()}"
                ws.add_data_validation(dv)
                dv.add(f"{col_letter}2:{col_letter}5000")
            elif c.kind in ("number", "days") and c.lo is not None:
                kind = "whole" if c.kind == "days" else "decimal"
                if c.upper is not None:  # the sanity cap too, so Excel refuses what validation would
                    top = int(c.upper) if float(c.upper).is_integer() else c.upper
                    dv = DataValidation(type=kind, operator="between", formula1=str(c.lo), formula2=str(top),
                                        showErrorMessage=True, errorTitle=c.name)
                else:
                    dv = DataValidation(type=kind, operator="greaterThanOrEqual", formula1=str(c.lo),
                                        showErrorMessage=True, errorTitle=c.name)
                # without showErrorMessage Excel accepts anything typed, silently: the drop-down only suggests
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
        save_workbook(wb, tmp)


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


def batch_tables(outcomes, comp: pd.DataFrame, changes: pd.DataFrame, detail: bool = False,  # noqa: ANN001
                 periods: pd.DataFrame | None = None) -> list[Table]:
    """The comparison workbook; ``comp`` and ``changes`` are planner.whatif.batch's comparison and flow_changes,
    ``periods`` its period_comparison (plans over periods: a Periods sheet, and a period column where rows
    differ by period)."""
    horizon = periods is not None and len(periods) > 0
    fixed = ["Comparison", "Flow changes", "Scenarios", *(["Periods"] if horizon else [])]
    names = unique_sheet_names([o.scenario for o in outcomes], set(fixed)) if detail else {}
    from planner.output.write import Chart  # noqa: PLC0415

    PTS = '+0.0" pts";-0.0" pts";0.0" pts"'  # a change of a share, in percentage points  # noqa: N806
    comp_cols = [
        Column("scenario", 28), Column("status", 11),
        Column("rank", 6, "0", "1 = the cheapest plan of all scenarios"),
        Column("total_cost_usd", 14, M_USD, "M USD a year"),
        Column("delta_cost_usd", 14, M_USD, "M USD a year, against the baseline"), Column("delta_cost_pct", 10, PCT),
        Column("reading", 70, note="what the change is made of, or why the scenario changes nothing"),
        Column("cash_usd", 14, M_USD, "production, freight, duty, tariffs, qualification (M USD a year)"),
        Column("delta_cash_usd", 14, M_USD), Column("delta_shortage_penalty_usd", 14, M_USD),
        Column("delta_license_risk_usd", 14, M_USD, "expected license loss x risk_weight"),
        Column("exposed_share", 10, PCT), Column("delta_exposed_share", 10, PCT.replace("0.0%", "+0.0%;-0.0%")),
        Column("exposed_t", 12, T), Column("shortage_t", 12, T), Column("delta_shortage_t", 12, "+#,##0.0;-#,##0.0"),
        Column("china_metal_share", 10, PCT, "share of the metal/alloy behind deliveries made in China "
                                             "(" + tiers.METHOD + ")"),
        Column("delta_china_metal_share", 10, "+0.0%;-0.0%"),
        Column("china_magnet_share", 10, PCT, "share of the delivered magnets made in China"),
        Column("delta_china_magnet_share", 10, "+0.0%;-0.0%"),
        Column("expected_license_loss_usd", 14, M_USD), Column("max_lead_time_days", 10, "0"),
        Column("suppliers_in", 30, note="sites shipping in this scenario but not in the baseline"),
        Column("suppliers_out", 30, note="sites shipping in the baseline but not in this scenario"),
        Column("saving_per_t_capacity_usd", 16, USD,
               "for a capacity change: cost saved per t/yr of capacity added (USD per t/yr)"),
        Column("gap", 8, "0.00%"), Column("changes", 50), Column("message", 60),
    ]
    del PTS
    charts = [
        Chart("bar", "Total cost per scenario (USD per year)", x=0, ys=[3], y_format=MILLIONS, below=True),
        Chart("bar", "Made in China per scenario: metal/alloy and magnets", x=0, ys=[16, 18], y_format="0%",
              below=True, colors={16: "FF9896", 18: CHINA_RED}),
    ]
    tables = [
        Table("Comparison", comp_cols, _frame_rows(comp, [c.header for c in comp_cols]),
              title=["What-if comparison", ("Baseline first; costs over the horizon, discounted, and tonnes summed "
                     "over its periods (each period's figures on the Periods sheet)" if horizon else
                     "Baseline first; costs per year") + "; changes against the baseline. Among "
                     "equally cheap plans each scenario's is the one closest to the baseline's flows, so every "
                     "change shown is caused by the scenario."], charts=charts),
        Table("Flow changes",
              [Column("scenario", 28), *([Column("period", 10)] if "period" in changes else []), Column("from", 20),
               Column("to", 20), Column("product", 14),
               Column("baseline_t", 12, T), Column("scenario_t", 12, T), Column("change_t", 12, T)],
              _frame_rows(changes, ["scenario", *(["period"] if "period" in changes else []), "from_site", "to_site",
                                    "product", "baseline_t", "scenario_t", "change_t"])),
        Table("Scenarios",
              [Column("scenario", 28), Column("sheet_name", 32, note="this scenario's sheet, with --detail"),
               Column("sheet", 12), Column("key", 30), Column("column", 22), Column("operation", 10),
               Column("value", 14), *([Column("period", 10, note="blank: every period")] if horizon else [])],
              [[o.scenario, names.get(o.scenario, ""), c.sheet, c.key, c.column, c.operation,
                c.value if isinstance(c.value, (int, float, str)) else str(c.value),
                *([c.period] if horizon else [])]
               for o in outcomes for c in (o.changes or ())] or
              [[o.scenario, names.get(o.scenario, ""), "", "", "", "", "", *([""] if horizon else [])]
               for o in outcomes[:1]]),
    ]
    if horizon:
        tables.append(Table(
            "Periods",
            [Column("scenario", 28), Column("period", 10),
             Column("total_cost_usd", 14, M_USD, "the period's cost, undiscounted"),
             Column("delta_cost_usd", 14, M_USD, "against the baseline's same period"),
             Column("cash_usd", 14, M_USD), Column("delta_cash_usd", 14, M_USD),
             Column("shortage_t", 12, T), Column("delta_shortage_t", 12, "+#,##0.0;-#,##0.0"),
             Column("exposed_share_of_demand", 10, PCT), Column("delta_exposed_share_of_demand", 10, "+0.0%;-0.0%"),
             Column("suppliers_in", 30, note="sites shipping in this period here but not in the baseline's"),
             Column("suppliers_out", 30, note="sites shipping in the baseline's period but not here")],
            _frame_rows(periods, ["scenario", "period", "total_cost_usd", "delta_cost_usd", "cash_usd",
                                  "delta_cash_usd", "shortage_t", "delta_shortage_t", "exposed_share_of_demand",
                                  "delta_exposed_share_of_demand", "suppliers_in", "suppliers_out"]),
            title=["Each scenario period by period", "Undiscounted figures of each period, and their change "
                   "against the baseline's same period: when a scenario's effect comes."]))
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
            Column("total_cost_usd", 14, M_USD, "M USD a year"),
            Column("delta_from_first_point_usd", 14, M_USD, "M USD a year"),
            Column("exposed_share", 10, PCT), Column("exposed_t", 12, T), Column("shortage_t", 12, T),
            Column("expected_license_loss_usd", 14, M_USD),
            Column("suppliers_in", 30, note="sites that start shipping at this point (against the previous point)"),
            Column("suppliers_out", 30, note="sites that stop shipping at this point"), Column("message", 40),
            Column("cash_usd", 14, M_USD, "production, freight, duty, tariffs, qualification (M USD a year)"),
            Column("shortage_penalty_usd", 14, M_USD), Column("license_risk_usd", 14, M_USD)]
    regimes = "expected_cost_usd" in frame.columns
    if regimes:  # against licence regimes: expected cost and CVaR per point, the efficient frontier
        cols += [Column("expected_cost_usd", 14, M_USD, "probability-weighted over the regimes"),
                 Column("cvar_usd", 14, M_USD, "expected cost of the worst outcomes (Settings cvar_alpha)")]
    pts = frame[frame["value"].notna()]
    # under the table (the table is wide: beside it, the charts were off the first screen)
    charts = [
        *([Chart("scatter", "Efficient frontier: expected cost against CVaR", x=len(cols) - 1, ys=[len(cols) - 2],
                 x_title="CVaR (USD)", y_title="expected cost (USD)", y_format=MILLIONS, below=True)]
          if regimes else []),
        Chart("scatter", "Total cost against license-exposed share", x=5, ys=[3],
              x_title="license-exposed share of deliveries", y_title="USD per year", y_format=MILLIONS, below=True),
        Chart("scatter", f"Total cost against {param}", x=1, ys=[3], x_title=param, y_title="USD per year",
              y_format=MILLIONS, below=True),
    ]
    return [
        Table("Sweep", cols, _frame_rows(pts, [c.header for c in cols]),
              title=[f"Trade-off sweep of {param}", sentence], charts=charts),
        Table("Baseline", cols, _frame_rows(frame[frame["value"].isna()], [c.header for c in cols])),
    ]
