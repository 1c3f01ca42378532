#!/usr/bin/env python3
"""Build the reference input workbooks from the CSVs in inputs/.

    python scripts/build_reference.py                      # every case, and the package copies
    python scripts/build_reference.py [--case NAME] --out PATH [--whatif-out PATH]

Reads one CSV per contract sheet (Sites, Supply, Recipes, CoProducts, Lanes,
Demand, Controls, Settings) plus Sources.csv, and writes one .xlsx workbook
with those sheets in that order, then a Sources sheet and an About sheet; and
the case's what-if CSV into its what-if workbook. Three cases:

* ``2026`` (the bundled default): inputs/reference/ and inputs/whatif/ ->
  inputs/rare_earth_magnets.xlsx and inputs/whatif_reference.xlsx, also copied
  into planner/data/ (the installed package's bundled case);
* ``v1_2025`` (the first reference case, kept unchanged because tests assert its
  figures): inputs/v1_2025/reference/ and inputs/v1_2025/whatif/ ->
  inputs/rare_earth_magnets_v1_2025.xlsx and inputs/whatif_v1_2025.xlsx;
* ``2026_2030`` (the same case over five years, contract v2): inputs/reference/
  with the changes in inputs/horizon/ -> inputs/rare_earth_magnets_2026_2030.xlsx, and
  inputs/whatif/WhatIf_2026_2030.csv -> inputs/whatif_2026_2030.xlsx (its rows may name a
  ``period``); and the regime set inputs/regimes/Regimes_2026_2030.csv and
  RegimeChanges_2026_2030.csv -> inputs/regimes_2026_2030.xlsx (sheets Regimes,
  RegimeChanges, About; for ``planner solve CASE --regimes``). A horizon CSV names a row by its key columns and a
  ``period``, and holds only the columns that change: a blank period changes the
  base row for the whole horizon (a ``Sites.qualification_periods``, a coproduct
  ratio), a period makes a copy of the base row that holds in that period only
  (a ramp year, a year's demand). So every figure shared with the 2026 case has
  one source, inputs/reference/.

Every CSV is read as text (``dtype=str, keep_default_na=False``) so that IDs
stay IDs and ``NA`` (Namibia) is not taken for a missing value; the numeric
columns of the contract are converted here. Text cells are written as text,
so nothing that starts with ``=`` becomes a formula. The output is
byte-stable: fixed document dates and fixed zip-entry timestamps, so running
the script twice gives the same bytes.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import tempfile
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout: the planner's writer serialises the workbooks

from planner.output.write import workbook_bytes as planner_workbook_bytes  # noqa: E402

SRC_DIR = ROOT / "inputs" / "reference"
DEFAULT_OUT = ROOT / "inputs" / "rare_earth_magnets.xlsx"
WHATIF_DIR = ROOT / "inputs" / "whatif"
WHATIF_OUT = ROOT / "inputs" / "whatif_reference.xlsx"
V1_DIR = ROOT / "inputs" / "v1_2025"
HORIZON_DIR = ROOT / "inputs" / "horizon"
REGIMES_DIR = ROOT / "inputs" / "regimes"
# The installed package carries its own copies (an installed wheel has no inputs/ folder): written here
# too, from the same bytes, whenever the default outputs are built; tests/test_package.py holds them equal.
PACKAGE_DATA = ROOT / "planner" / "data"
FIXED_TIME = dt.datetime(2026, 11, 24, 0, 0, 0)


class Case:
    """One reference case: where its CSVs are, where its workbooks go, what its About sheet says."""

    def __init__(self, name: str, src: Path, whatif_src: Path | None, out: Path, whatif_out: Path | None,
                 data_as_of: str, models: str | None = None, packaged: bool = False, horizon: Path | None = None,
                 whatif_csv: str = "WhatIf.csv", regimes_out: Path | None = None, regimes_suffix: str = ""):
        self.name, self.src, self.whatif_src = name, src, whatif_src
        self.whatif_csv = whatif_csv  # the what-if CSV's name in whatif_src
        self.out, self.whatif_out = out, whatif_out
        self.data_as_of, self.models, self.packaged = data_as_of, models, packaged
        self.horizon = horizon  # a folder of per-period changes to src (contract v2), or None
        # a regime set (Regimes + RegimeChanges CSVs in REGIMES_DIR, named with this suffix) and its workbook
        self.regimes_out, self.regimes_suffix = regimes_out, regimes_suffix


CASES = {
    "2026": Case("2026", SRC_DIR, WHATIF_DIR, DEFAULT_OUT, WHATIF_OUT,
                 data_as_of="December 2026 (public sources of late June 2026 or earlier, cited in the Sources "
                            "sheet; shared/research/domain-review-2026-12.md)",
                 models="Models the year 2026 as the world stood in December 2026: capacity is what this buyer "
                        "can get (the open share, not nameplate), projects without output in 2026 at 0.",
                 packaged=True),
    # The first reference case, frozen: tests assert its figures (1.42 bn USD, 107.5 t short, ...).
    # Its About sheet is the one it was built with, so the workbook is the very bytes it had.
    "v1_2025": Case("v1_2025", V1_DIR / "reference", V1_DIR / "whatif",
                    ROOT / "inputs" / "rare_earth_magnets_v1_2025.xlsx", ROOT / "inputs" / "whatif_v1_2025.xlsx",
                    data_as_of="January 2026 (public sources cited in the Sources sheet)"),
    # The 2026 case over 2026-2030: its CSVs plus the changes by year in inputs/horizon/. Not packaged:
    # planner/data/ holds the two bundled workbooks only (tests/test_package.py).
    "2026_2030": Case("2026_2030", SRC_DIR, WHATIF_DIR, ROOT / "inputs" / "rare_earth_magnets_2026_2030.xlsx",
                      ROOT / "inputs" / "whatif_2026_2030.xlsx",
                      data_as_of="December 2026 (public sources of late June 2026 or earlier, cited in the Sources "
                                 "sheet; shared/research/domain-review-2026-12.md)",
                      models="Models 2026-2030 as the world stood in December 2026: each year's capacity is what "
                             "this buyer can get that year (the open share of that year's output, 0 before a "
                             "project starts), demand grows by plant, candidates take 1-2 years to qualify, plants may "
                             "carry stock of their magnets from one year into the next, and part of Caremag's and "
                             "Lynas' Dy/Tb is sold only under a term contract (Reservations, for a fee).",
                      horizon=HORIZON_DIR, whatif_csv="WhatIf_2026_2030.csv",
                      regimes_out=ROOT / "inputs" / "regimes_2026_2030.xlsx", regimes_suffix="_2026_2030"),
}
DEFAULT_CASE = "2026"

# Contract v1: sheet -> (columns in contract order, numeric columns).
SHEETS: dict[str, tuple[list[str], set[str]]] = {
    "Sites": (["site_id", "name", "company", "country", "stage", "status",
               "qualification_cost_usd", "min_volume_t", "processing_days"],
              {"qualification_cost_usd", "min_volume_t", "processing_days"}),
    "Supply": (["site_id", "product", "capacity_t", "unit_cost_usd_per_kg"],
               {"capacity_t", "unit_cost_usd_per_kg"}),
    "Recipes": (["product", "input", "input_t_per_t", "site_id"], {"input_t_per_t"}),
    "CoProducts": (["product", "coproduct", "coproduct_t_per_t", "site_id"],
                   {"coproduct_t_per_t"}),
    "Lanes": (["from_site", "to_site", "product", "freight_usd_per_kg",
               "duty_usd_per_kg", "tariff_pct", "transit_days"],
              {"freight_usd_per_kg", "duty_usd_per_kg", "tariff_pct", "transit_days"}),
    "Demand": (["site_id", "product", "quantity_t", "max_lead_time_days",
                "max_exposed_share", "shortage_cost_usd_per_kg"],
               {"quantity_t", "max_lead_time_days", "max_exposed_share",
                "shortage_cost_usd_per_kg"}),
    "Controls": (["country", "product", "approval_probability", "approval_days",
                  "denial_cost_usd_per_kg", "content_rule", "note"],
                 {"approval_probability", "approval_days", "denial_cost_usd_per_kg"}),
    "Settings": (["key", "value"], set()),  # value: number if it reads as one
    "Sources": (["sheet", "row_key", "column", "value", "tag", "basis"], {"value"}),
}
# Contract v2 (the 2026_2030 case): the key columns a horizon CSV names a row by, the v2 columns a sheet
# gains (with the numeric ones), the Periods sheet, and the Sources sheet with a period column.
HORIZON_KEYS: dict[str, list[str]] = {
    "Sites": ["site_id"], "Supply": ["site_id", "product"], "Recipes": ["product", "input", "site_id"],
    "CoProducts": ["product", "coproduct", "site_id"], "Lanes": ["from_site", "to_site", "product"],
    "Demand": ["site_id", "product"], "Controls": ["country", "product"], "Settings": ["key"],
}
HORIZON_EXTRA: dict[str, tuple[list[str], set[str]]] = {
    "Sites": (["qualification_periods"], {"qualification_periods"}),
}
PERIODIC = {"Sites", "Supply", "Lanes", "Demand", "Controls"}  # the sheets with a period column (contract v2)
PERIODS_SHEET = (["period", "days"], {"days"})
# Contract v2 sheets a horizon has of its own (no base CSV in inputs/reference/), written after Periods in the
# contract's order when the horizon folder has the CSV: stock at the plants between years, and the volumes a
# supplier will reserve for the buyer for a fee (an offtake option; first_period and last_period stay text).
HORIZON_ONLY: dict[str, tuple[list[str], set[str]]] = {
    "Stock": (["site_id", "product", "stock_capacity_t", "holding_cost_usd_per_kg_yr", "initial_stock_t"],
              {"stock_capacity_t", "holding_cost_usd_per_kg_yr", "initial_stock_t"}),
    "Reservations": (["site_id", "product", "max_t", "fee_usd_per_kg_yr", "first_period", "last_period"],
                     {"max_t", "fee_usd_per_kg_yr"}),
}
HORIZON_SOURCES = ["sheet", "row_key", "period", "column", "value", "tag", "basis"]
# The what-if workbook (planner batch --whatif); `question` (the one line a scenario answers, on its first
# row) and `basis` (the source of each figure) are extra columns the planner ignores. The v1 case has no
# question column; the five-year case's rows may name a `period` (contract v2).
WHATIF_BASE = ["scenario", "sheet", "key", "column", "operation", "value"]
WHATIF_FORMS = (WHATIF_BASE + ["question", "basis"], WHATIF_BASE + ["basis"],
                WHATIF_BASE + ["period", "question", "basis"])
# The regime set's workbook (planner solve --regimes): the Regimes sheet as the contract has it, and RegimeChanges
# (WhatIf's columns) with a `basis` column per row that the planner ignores.
REGIME_SHEETS: dict[str, tuple[list[str], set[str]]] = {
    "Regimes": (["scenario", "probability", "question", "basis"], {"probability"}),
    "RegimeChanges": (WHATIF_BASE + ["period", "basis"], set()),
}
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class BuildError(Exception):
    pass


def to_number(text: str, where: str) -> int | float:
    s = text.strip()
    if not NUMBER.match(s):
        raise BuildError(f"{where}: {text!r} is not a number")
    value = float(s)
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def read_sheet(src: Path, sheet: str, name: str | None = None) -> list[list[object]]:
    """Rows (header first) with numbers converted and blanks as None (``name``: the CSV, default sheet.csv)."""
    path = src / (name or f"{sheet}.csv")
    if not path.exists():
        raise BuildError(f"{path}: missing")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    if sheet == "WhatIf":
        columns, numeric = next((f for f in WHATIF_FORMS if f == list(df.columns)), WHATIF_FORMS[0]), set()
    else:
        columns, numeric = REGIME_SHEETS.get(sheet) or HORIZON_ONLY.get(sheet) or SHEETS[sheet]
    if list(df.columns) != columns:
        raise BuildError(f"{path}: columns {list(df.columns)} != contract {columns}")
    rows: list[list[object]] = [list(columns)]
    for i, rec in enumerate(df.itertuples(index=False), start=2):
        out: list[object] = []
        for col, raw in zip(columns, rec):
            text = raw.strip()
            if text == "":
                out.append(None)
            elif col in numeric:
                out.append(to_number(text, f"{path.name} line {i}, {col}"))
            elif sheet in ("Settings", "WhatIf", "RegimeChanges") and col == "value" and NUMBER.match(text):
                out.append(to_number(text, f"{path.name} line {i}, {col}"))
            else:
                out.append(text)
        rows.append(out)
    return rows


def _convert(text: str, numeric: bool, where: str) -> object:
    text = text.strip()
    if text == "":
        return None
    return to_number(text, where) if numeric else text


def read_horizon(hz: Path, sheet: str, columns: list[str], numeric: set[str]) -> list[dict[str, object]]:
    """A horizon CSV: key columns, ``period`` (on a sheet that has one), then any of the sheet's other columns
    (blank: unchanged)."""
    path = hz / f"{sheet}.csv"
    if not path.exists():
        return []
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    lead = HORIZON_KEYS[sheet] + (["period"] if sheet in PERIODIC else [])
    head = list(df.columns)
    if head[:len(lead)] != lead or not set(head[len(lead):]) <= set(columns) - set(lead):
        raise BuildError(f"{path}: columns {head} are not {lead} then some of {columns}")
    out = []
    for i, rec in enumerate(df.to_dict("records"), start=2):
        row = {c: _convert(rec[c], (c in numeric or (sheet == "Settings" and NUMBER.match(rec[c].strip())))
                           and c not in lead, f"{path.name} line {i}, {c}") for c in head}
        row.setdefault("period", None)
        out.append(row)
    return out


def read_periods(hz: Path) -> list[list[object]]:
    columns, numeric = PERIODS_SHEET
    df = pd.read_csv(hz / "Periods.csv", dtype=str, keep_default_na=False)
    if list(df.columns) != columns:
        raise BuildError(f"{hz / 'Periods.csv'}: columns {list(df.columns)} != {columns}")
    return [columns] + [[_convert(rec[c], c in numeric, f"Periods.csv line {i}, {c}") for c in columns]
                        for i, rec in enumerate(df.to_dict("records"), start=2)]


def horizon_sheet(src: Path, hz: Path, sheet: str, periods: set[str]) -> list[list[object]]:
    """The base sheet with the horizon's changes: blank-period rows patch the base row of their key for the
    whole horizon; a row naming a period adds, right after the base row, a copy of it for that period."""
    rows = read_sheet(src, sheet)
    base_cols, numeric = SHEETS[sheet]
    extra, extra_numeric = HORIZON_EXTRA.get(sheet, ([], set()))
    columns = base_cols + extra + (["period"] if sheet in PERIODIC else [])
    changes = read_horizon(hz, sheet, base_cols + extra, numeric | extra_numeric)
    keys = HORIZON_KEYS[sheet]

    def key(r: dict[str, object]) -> tuple[str, ...]:
        return tuple("" if r.get(c) is None else str(r[c]) for c in keys)

    base = [dict(zip(rows[0], r)) for r in rows[1:]]
    index = {key(r): i for i, r in enumerate(base)}
    after: dict[int, list[dict[str, object]]] = {}
    seen: set[tuple] = set()
    for ch in sorted(changes, key=lambda c: c["period"] is not None):  # patches before period rows
        k, period = key(ch), ch["period"]
        if (k, period) in seen:
            raise BuildError(f"horizon {sheet}.csv: {'/'.join(k)} twice for period {period or '(all)'}")
        seen.add((k, period))
        values = {c: v for c, v in ch.items() if c not in keys and c != "period" and v is not None}
        if k not in index:
            if sheet != "Settings" or period is not None:
                raise BuildError(f"horizon {sheet}.csv: {'/'.join(k)} is not a row of {src.name}/{sheet}.csv")
            base.append({**dict(zip(keys, k)), **values})
            index[k] = len(base) - 1
        elif period is None:
            base[index[k]].update(values)
        else:
            if sheet not in PERIODIC:
                raise BuildError(f"horizon {sheet}.csv: {sheet} has no period column (contract v2)")
            if period not in periods:
                raise BuildError(f"horizon {sheet}.csv: {'/'.join(k)}: period {period} is not in Periods.csv")
            after.setdefault(index[k], []).append({**base[index[k]], **values, "period": period})
    out: list[list[object]] = [columns]
    for i, r in enumerate(base):
        out.append([r.get(c) for c in columns])
        for p in sorted(after.get(i, []), key=lambda q: str(q["period"])):
            out.append([p.get(c) for c in columns])
    return out


def horizon_sources(src: Path, hz: Path) -> list[list[object]]:
    """The base Sources with a period column; a horizon row replaces the base row of its cell, or is added."""
    base = read_sheet(src, "Sources")
    rows = [r[:2] + [None] + r[2:] for r in base[1:]]
    index = {(r[0], r[1], r[3]): i for i, r in enumerate(rows)}
    df = pd.read_csv(hz / "Sources.csv", dtype=str, keep_default_na=False)
    if list(df.columns) != HORIZON_SOURCES:
        raise BuildError(f"{hz / 'Sources.csv'}: columns {list(df.columns)} != {HORIZON_SOURCES}")
    for i, rec in enumerate(df.to_dict("records"), start=2):
        row = [_convert(rec[c], c == "value", f"horizon Sources.csv line {i}, {c}") for c in HORIZON_SOURCES]
        k = (row[0], row[1], row[3])
        if row[2] is None and k in index:
            rows[index[k]] = row
        else:
            rows.append(row)
    return [HORIZON_SOURCES] + rows


def write_rows(ws, rows: list[list[object]], header: bool = True) -> None:
    bold = Font(bold=True)
    widths: dict[int, int] = {}
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is None:
                continue
            cell = ws.cell(row=r, column=c)
            cell.value = value
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula
            if header and r == 1:
                cell.font = bold
            widths[c] = max(widths.get(c, 0), len(str(value)))
    for c, w in widths.items():
        ws.column_dimensions[get_column_letter(c)].width = min(max(w + 2, 8), 60)
    if header:
        ws.freeze_panes = "A2"


def build_workbook(src: Path, case: Case | None = None) -> Workbook:
    case = case or CASES[DEFAULT_CASE]
    wb = Workbook()
    wb.remove(wb.active)
    hz = case.horizon
    if hz is None:
        for sheet in SHEETS:
            write_rows(wb.create_sheet(sheet), read_sheet(src, sheet))
    else:
        periods = read_periods(hz)
        names = {str(r[0]) for r in periods[1:]}
        for sheet in SHEETS:
            if sheet != "Sources":
                write_rows(wb.create_sheet(sheet), horizon_sheet(src, hz, sheet, names))
        write_rows(wb.create_sheet("Periods"), periods)
        for sheet in HORIZON_ONLY:
            if (hz / f"{sheet}.csv").exists():
                write_rows(wb.create_sheet(sheet), read_sheet(hz, sheet))
        write_rows(wb.create_sheet("Sources"), horizon_sources(src, hz))
    where = src.relative_to(ROOT).as_posix()
    if hz is not None:
        where += f"/*.csv with the changes by year in {hz.relative_to(ROOT).as_posix()}/*.csv"
    about = wb.create_sheet("About")
    lines = [
        ["Rare-earth permanent-magnet sourcing: reference dataset for planner "
         f"(input contract {'v1' if hz is None else 'v2, periods 2026-2030'})"],
        [f"Data as of: {case.data_as_of}"],
        *([[case.models]] if case.models else []),
        ["Tags in Sources: [S] stated in the cited source; [D] derived by arithmetic from [S]; "
         "[E] estimate made for this dataset (not a fact); [U] widely reported but unconfirmed."],
        ["Figures tagged [E] are estimates: do not cite them as facts."],
        ["Units: tonnes per year, USD per kg (unit costs are the cost added at each site), "
         "calendar days, fractions in [0, 1]."],
        [f"Source of truth: {where + ('' if hz is not None else '/*.csv')} "
         f"(see {case.src.relative_to(ROOT).as_posix()}/README.md)."],
        ["Regenerate: python scripts/build_reference.py [--out PATH]"],
    ]
    _finish(wb, about, lines, title="Rare-earth magnet sourcing reference dataset")
    return wb


def build_whatif_workbook(src: Path, case: Case | None = None) -> Workbook:
    case = case or CASES[DEFAULT_CASE]
    wb = Workbook()
    wb.remove(wb.active)
    rows = read_sheet(src, "WhatIf", case.whatif_csv)
    write_rows(wb.create_sheet("WhatIf"), rows)
    about = wb.create_sheet("About")
    lines = [
        [f"What-if scenarios for the reference case: planner batch {case.out.relative_to(ROOT).as_posix()} "
         f"--whatif {case.whatif_out.relative_to(ROOT).as_posix()}"],
        ["Each row changes one sheet of the reference input; rows with one scenario name form one scenario."],
    ]
    if "period" in rows[0]:
        lines.append(["A row naming a period changes that period's rows of the key only; blank: every period."])
    if "question" in rows[0]:
        lines.append(["The question column (first row of each scenario) says what the scenario answers."])
    lines += [
        ["The basis column tags each figure [S]/[D]/[E] as in the reference Sources sheet."],
        [f"Source of truth: {(src / case.whatif_csv).relative_to(ROOT).as_posix()}. "
         "Regenerate: python scripts/build_reference.py"],
    ]
    _finish(wb, about, lines)
    return wb


def build_regimes_workbook(case: Case) -> Workbook:
    """The case's regime set: Regimes, RegimeChanges (with each row's basis) and About."""
    wb = Workbook()
    wb.remove(wb.active)
    names = [f"{sheet}{case.regimes_suffix}.csv" for sheet in REGIME_SHEETS]
    for sheet, name in zip(REGIME_SHEETS, names, strict=True):
        write_rows(wb.create_sheet(sheet), read_sheet(REGIMES_DIR, sheet, name))
    about = wb.create_sheet("About")
    assert case.regimes_out is not None
    lines = [
        [f"Licence regimes for the five-year case: planner solve {case.out.relative_to(ROOT).as_posix()} "
         f"--regimes {case.regimes_out.relative_to(ROOT).as_posix()}"],
        ["Regimes: one row per regime with its probability (they add to 1), the question it answers and the basis "
         "of the probability; the first regime changes nothing (the case as it stands)."],
        ["RegimeChanges: what each regime changes in the case, as WhatIf rows; a row naming a period changes that "
         "period's rows of the key only. The basis column tags each figure [S]/[D]/[E]/[U] and is ignored by the "
         "planner."],
        ["Probabilities are estimates [E] made for this dataset (December 2026, shared/research/"
         "domain-review-2026-12.md): do not cite them as facts."],
        [f"Source of truth: {(REGIMES_DIR / names[0]).relative_to(ROOT).as_posix()} and "
         f"{(REGIMES_DIR / names[1]).relative_to(ROOT).as_posix()} (see "
         f"{REGIMES_DIR.relative_to(ROOT).as_posix()}/README.md). Regenerate: python scripts/build_reference.py"],
    ]
    _finish(wb, about, lines, title="Licence regimes for the rare-earth magnet sourcing case")
    return wb


def _finish(wb: Workbook, about, lines: list[list[str]], title: str | None = None) -> None:  # noqa: ANN001
    """The About sheet's lines and the workbook's properties, dated FIXED_TIME (a titled workbook's first
    About line is bold)."""
    write_rows(about, lines, header=False)
    if title is not None:
        about["A1"].font = Font(bold=True)
    about.column_dimensions["A"].width = 100
    wb.properties.creator = "scripts/build_reference.py"
    if title is not None:
        wb.properties.title = title
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME


def workbook_bytes(wb: Workbook) -> bytes:
    """Serialised with the planner's writer (no wall-clock time in it), entries dated FIXED_TIME."""
    return planner_workbook_bytes(wb, FIXED_TIME.timetuple()[:6])


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".xlsx", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def build_case(case: Case) -> tuple[bytes, bytes | None]:
    whatif = None if case.whatif_src is None else workbook_bytes(build_whatif_workbook(case.whatif_src, case))
    return workbook_bytes(build_workbook(case.src, case)), whatif


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=sorted(CASES), default=None,
                        help=f"build one case (default with --out: {DEFAULT_CASE}; without: every case)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"output workbook (default: the case's, e.g. {DEFAULT_OUT.relative_to(ROOT)})")
    parser.add_argument("--whatif-out", type=Path, default=None,
                        help=f"what-if workbook (default: the case's, e.g. {WHATIF_OUT.relative_to(ROOT)})")
    parser.add_argument("--regimes-out", type=Path, default=None,
                        help="regime-set workbook of a case that has one (2026_2030; default: its own, "
                             "inputs/regimes_2026_2030.xlsx, written only when --out and --whatif-out are not given)")
    args = parser.parse_args(argv)
    if args.case is None and args.out is None and args.whatif_out is None:
        names = list(CASES)
    else:
        names = [args.case or DEFAULT_CASE]
    for name in names:
        case = CASES[name]
        try:
            data, whatif = build_case(case)
        except BuildError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        out = args.out or case.out
        write_atomic(out, data)
        if whatif is None:
            print(f"wrote {out} (case {name})")
            continue
        whatif_out = args.whatif_out or case.whatif_out
        write_atomic(whatif_out, whatif)
        print(f"wrote {out} and {whatif_out} (case {name})")
        # the regime set: to --regimes-out, else to its own path when this run builds the defaults (a build to
        # other paths, as the tests make, leaves the committed workbook alone)
        regimes_out = args.regimes_out or (case.regimes_out if args.out is None and args.whatif_out is None else None)
        if case.regimes_out is not None and regimes_out is not None:
            try:
                regimes = workbook_bytes(build_regimes_workbook(case))
            except BuildError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            write_atomic(regimes_out, regimes)
            print(f"wrote {regimes_out} (case {name}, regimes)")
        if not case.packaged:
            continue
        for built, default, payload in ((out, case.out, data), (whatif_out, case.whatif_out, whatif)):
            if built.resolve() == default.resolve():
                write_atomic(PACKAGE_DATA / default.name, payload)
                print(f"wrote {(PACKAGE_DATA / default.name).relative_to(ROOT)} (the installed package's copy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
