"""The stress-test workbook: Findings, the ranking of losses (Stress), each plant's time-to-survive
(Survival) and the scenarios generated (Scenarios). The tables come from planner.whatif.stress."""

from __future__ import annotations

import textwrap

import pandas as pd

from planner.output.sheets import FINDING_WIDTH, M_USD, T, _frame_rows
from planner.output.write import Column, Table

DAYS = "#,##0"
RATE = "#,##0.000"


def _tts_rows(frame: pd.DataFrame, columns: list[Column]) -> list[list[object]]:
    """The rows, with time-to-survive as days or the word "unlimited" where the loss leaves the plant no shorter
    (blank where the loss could not be planned)."""
    frame = frame.astype(object).where(frame.notna(), None)
    rows = _frame_rows(frame, [c.header for c in columns])
    col = [c.header for c in columns].index("time_to_survive_days")
    for r, text in zip(rows, frame["time_to_survive"], strict=True):
        if r[col] is None and text:
            r[col] = text
    return rows


def stress_tables(ranking: pd.DataFrame, survival: pd.DataFrame, findings: list[str], scenarios: list,  # noqa: ANN001
                  source: str, per_t: str, per_usd: str, stock_note: str) -> list[Table]:
    """``scenarios``: the generated what-if scenarios (name and changes), in the order they ran."""
    lines: list[list[object]] = []
    for i, line in enumerate(findings, start=1):
        lines.extend([w] for w in textwrap.wrap(f"{i}. {line}", FINDING_WIDTH, subsequent_indent="    ") or [""])
    how = (f"Each supplier (or country's exports) is lost from the start and the input re-planned without it. "
           f"Shortage in tonnes {per_t}, against the baseline, over all plants; costs in USD {per_usd.rstrip(',')}. "
           f"Ranked by the shortage a loss causes, then by the cost it adds.")
    tts = ("Time-to-survive: the days the plant's stock lasts at the rate the re-plan leaves its demand uncovered "
           f"by arrivals (shortage plus stock drawn); {stock_note} 'unlimited': the loss leaves it no shorter.")
    find = Table("Findings", [Column("Findings", 12, fit=False)], lines,
                 title=[f"Stress test: {source}", how, tts], freeze=False)
    rank_cols = [
        Column("rank", 6, "0", "1 = the loss that leaves most short (then: costs most)"),
        Column("lost", 34, note="the supplier (its site's name) or the country's exports lost"),
        Column("kind", 9), Column("lost_id", 18), Column("country", 8), Column("stage", 9),
        Column("supplier_status", 10), Column("status", 10),
        Column("effect", 9, note="shortage: some plant goes (more) short; cost: only dearer; none: nothing changes"),
        Column("shortage_t", 12, T, f"tonnes short {per_t} more than the baseline, over all plants"),
        Column("delta_cost_usd", 14, M_USD, f"M USD {per_usd.rstrip(',')}, against the baseline"),
        Column("delta_cash_usd", 14, M_USD), Column("delta_shortage_penalty_usd", 14, M_USD),
        Column("delta_license_risk_usd", 14, M_USD, "expected license loss x risk_weight"),
        Column("worst_plant", 18, note="the plant and product left most short"), Column("worst_plant_name", 30),
        Column("worst_product", 14), Column("worst_plant_shortage_t", 12, T),
        Column("stock_t", 10, T, "the worst-hit plant's stock when the loss strikes"),
        Column("time_to_survive_days", 10, DAYS, "days the worst-hit plant's stock lasts"),
        Column("plants_short", 8, "0", "plants and products the loss leaves shorter"),
        Column("baseline_shipped_t", 12, T, "what the lost supplier (the country, abroad) ships in the baseline"),
        Column("taken_over_by", 50, note="sites whose shipments grow most in the re-plan"),
        Column("reading", 90), Column("message", 40),
    ]
    stress = Table("Stress", rank_cols, _tts_rows(ranking, rank_cols), title=["Losses ranked", how])
    surv_cols = [
        Column("rank", 6, "0", "the loss's rank on the Stress sheet"), Column("lost", 34), Column("kind", 9),
        Column("plant", 18), Column("plant_name", 30), Column("product", 14),
        Column("shortage_t", 12, T, f"tonnes short {per_t} more than the baseline"),
        Column("first_short_period", 10, note="the first period the loss leaves it shorter (blank: one year)"),
        Column("stock_t", 10, T, "stock on hand when the loss strikes: the first period's opening stock"),
        Column("uncovered_t_per_day", 12, RATE, "demand the re-plan's arrivals leave uncovered, t a day, in the "
                                                "first period with any"),
        Column("time_to_survive_days", 10, DAYS, "days until the stock runs out"),
    ]
    survival_table = Table("Survival", surv_cols, _tts_rows(survival, surv_cols),
                           title=["Time-to-survive per plant", "Every plant and product a loss leaves shorter, the "
                                  "first to run out first. " + tts])
    scen_rows = [[sc.name, c.sheet, c.key, c.column, c.operation, c.value, c.period]
                 for sc in scenarios for c in sc.changes]
    scen = Table("Scenarios", [Column("scenario", 30), Column("sheet", 10), Column("key", 30), Column("column", 22),
                               Column("operation", 10), Column("value", 8),
                               Column("period", 10, note="blank: every period")], scen_rows,
                 title=["The scenarios generated", "What each loss changes in the input (WhatIf rows; a supplier's "
                        "capacity set to 0, a country's exports banned by Controls rows with approval 0)."])
    return [find, stress, survival_table, scen]
