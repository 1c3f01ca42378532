#!/usr/bin/env python3
"""Build the reference input workbooks from the CSVs in inputs/.

    python scripts/build_reference.py                      # every case, and the package copies
    python scripts/build_reference.py [--case NAME] --out PATH [--whatif-out PATH]

Reads one CSV per contract sheet (Sites, Supply, Recipes, CoProducts, Lanes,
Demand, Controls, Settings) plus Sources.csv, and writes one .xlsx workbook
with those sheets in that order, then a Sources sheet and an About sheet; and
the case's WhatIf.csv into its what-if workbook. Two cases:

* ``2026`` (the bundled default): inputs/reference/ and inputs/whatif/ ->
  inputs/rare_earth_magnets.xlsx and inputs/whatif_reference.xlsx, also copied
  into planner/data/ (the installed package's bundled case);
* ``v1_2025`` (the first reference case, kept unchanged because tests assert its
  figures): inputs/v1_2025/reference/ and inputs/v1_2025/whatif/ ->
  inputs/rare_earth_magnets_v1_2025.xlsx and inputs/whatif_v1_2025.xlsx.

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
import io
import os
import re
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

ROOT = Path(__file__).resolve().parents[1]
SRC_DIR = ROOT / "inputs" / "reference"
DEFAULT_OUT = ROOT / "inputs" / "rare_earth_magnets.xlsx"
WHATIF_DIR = ROOT / "inputs" / "whatif"
WHATIF_OUT = ROOT / "inputs" / "whatif_reference.xlsx"
V1_DIR = ROOT / "inputs" / "v1_2025"
# The installed package carries its own copies (an installed wheel has no inputs/ folder): written here
# too, from the same bytes, whenever the default outputs are built; tests/test_package.py holds them equal.
PACKAGE_DATA = ROOT / "planner" / "data"
FIXED_TIME = dt.datetime(2026, 11, 24, 0, 0, 0)


class Case:
    """One reference case: where its CSVs are, where its workbooks go, what its About sheet says."""

    def __init__(self, name: str, src: Path, whatif_src: Path, out: Path, whatif_out: Path,
                 data_as_of: str, models: str | None = None, packaged: bool = False):
        self.name, self.src, self.whatif_src = name, src, whatif_src
        self.out, self.whatif_out = out, whatif_out
        self.data_as_of, self.models, self.packaged = data_as_of, models, packaged


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
# The what-if workbook (planner batch --whatif); `question` (the one line a scenario answers, on its first
# row) and `basis` (the source of each figure) are extra columns the planner ignores. The v1 case has no
# question column.
WHATIF_BASE = ["scenario", "sheet", "key", "column", "operation", "value"]
WHATIF_FORMS = (WHATIF_BASE + ["question", "basis"], WHATIF_BASE + ["basis"])
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


def read_sheet(src: Path, sheet: str) -> list[list[object]]:
    """Rows (header first) with numbers converted and blanks as None."""
    path = src / f"{sheet}.csv"
    if not path.exists():
        raise BuildError(f"{path}: missing")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    if sheet == "WhatIf":
        columns, numeric = next((f for f in WHATIF_FORMS if f == list(df.columns)), WHATIF_FORMS[0]), set()
    else:
        columns, numeric = SHEETS[sheet]
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
            elif sheet in ("Settings", "WhatIf") and col == "value" and NUMBER.match(text):
                out.append(to_number(text, f"{path.name} line {i}, {col}"))
            else:
                out.append(text)
        rows.append(out)
    return rows


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
    for sheet in SHEETS:
        write_rows(wb.create_sheet(sheet), read_sheet(src, sheet))
    about = wb.create_sheet("About")
    lines = [
        ["Rare-earth permanent-magnet sourcing: reference dataset for planner (input contract v1)"],
        [f"Data as of: {case.data_as_of}"],
        *([[case.models]] if case.models else []),
        ["Tags in Sources: [S] stated in the cited source; [D] derived by arithmetic from [S]; "
         "[E] estimate made for this dataset (not a fact); [U] widely reported but unconfirmed."],
        ["Figures tagged [E] are estimates: do not cite them as facts."],
        ["Units: tonnes per year, USD per kg (unit costs are the cost added at each site), "
         "calendar days, fractions in [0, 1]."],
        [f"Source of truth: {case.src.relative_to(ROOT).as_posix()}/*.csv "
         f"(see {case.src.relative_to(ROOT).as_posix()}/README.md)."],
        ["Regenerate: python scripts/build_reference.py [--out PATH]"],
    ]
    write_rows(about, lines, header=False)
    about["A1"].font = Font(bold=True)
    about.column_dimensions["A"].width = 100
    wb.properties.creator = "scripts/build_reference.py"
    wb.properties.title = "Rare-earth magnet sourcing reference dataset"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    return wb


def build_whatif_workbook(src: Path, case: Case | None = None) -> Workbook:
    case = case or CASES[DEFAULT_CASE]
    wb = Workbook()
    wb.remove(wb.active)
    rows = read_sheet(src, "WhatIf")
    write_rows(wb.create_sheet("WhatIf"), rows)
    about = wb.create_sheet("About")
    lines = [
        [f"What-if scenarios for the reference case: planner batch {case.out.relative_to(ROOT).as_posix()} "
         f"--whatif {case.whatif_out.relative_to(ROOT).as_posix()}"],
        ["Each row changes one sheet of the reference input; rows with one scenario name form one scenario."],
    ]
    if "question" in rows[0]:
        lines.append(["The question column (first row of each scenario) says what the scenario answers."])
    lines += [
        ["The basis column tags each figure [S]/[D]/[E] as in the reference Sources sheet."],
        [f"Source of truth: {(src / 'WhatIf.csv').relative_to(ROOT).as_posix()}. "
         "Regenerate: python scripts/build_reference.py"],
    ]
    write_rows(about, lines, header=False)
    about.column_dimensions["A"].width = 100
    wb.properties.creator = "scripts/build_reference.py"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    return wb


def workbook_bytes(wb: Workbook) -> bytes:
    """Serialise without openpyxl's save(), which stamps the current time,
    then rewrite the zip with fixed entry timestamps."""
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).save()
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


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


def build_case(case: Case) -> tuple[bytes, bytes]:
    return (workbook_bytes(build_workbook(case.src, case)),
            workbook_bytes(build_whatif_workbook(case.whatif_src, case)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=sorted(CASES), default=None,
                        help=f"build one case (default with --out: {DEFAULT_CASE}; without: every case)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"output workbook (default: the case's, e.g. {DEFAULT_OUT.relative_to(ROOT)})")
    parser.add_argument("--whatif-out", type=Path, default=None,
                        help=f"what-if workbook (default: the case's, e.g. {WHATIF_OUT.relative_to(ROOT)})")
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
        whatif_out = args.whatif_out or case.whatif_out
        write_atomic(out, data)
        write_atomic(whatif_out, whatif)
        print(f"wrote {out} and {whatif_out} (case {name})")
        if not case.packaged:
            continue
        for built, default, payload in ((out, case.out, data), (whatif_out, case.whatif_out, whatif)):
            if built.resolve() == default.resolve():
                write_atomic(PACKAGE_DATA / default.name, payload)
                print(f"wrote {(PACKAGE_DATA / default.name).relative_to(ROOT)} (the installed package's copy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
