"""The second hostile-input catalogue (issue 11, sections 3 and 4), run through the command line.

Like tests/test_bad_inputs.py, every case starts from its ONE small valid workbook (``VALID``), applies one
mutation, and writes the input as an .xlsx (openpyxl, then raw zip/XML edits for what openpyxl cannot write:
xlsxwriter's formula placeholders, hidden rows, two sheets named alike) or as a folder of CSV files written
the way Excel on Windows writes them (cp1252, UTF-16 "Unicode text", semicolons, upper-case extensions),
beside a PREVIOUS output. For every rejection the test asserts: the exit code; the problem lines on stderr,
located ``Sheet!A1 (column): message``; "Nothing was written."; the previous output byte-identical; the input
byte-identical; no other file in ``out/`` or ``in/``. For every accepted case: a plan (or comparison) that
every XML parser accepts (no character a workbook cannot hold), and what the case is about.

Classes:

* A. non-finite and absurd numbers: refused before solving, exit 3 (a cell, against the sanity caps of the
  data dictionary) or 2 (an option);
* B. control characters: refused at their cell, or (file names, sweep titles) never written raw;
* C. WhatIf rows checked up front: located errors, "baseline" reserved; a delete beside numeric rows runs;
* D. formulas whose saved value is a placeholder (``fullCalcOnLoad``);
* E. merged cells, sheets and files named alike, Settings keys given twice, hidden rows and columns, ``.CSV``;
* F. CSV folders as Excel on Windows writes them;
* G. invisible and look-alike characters shown escaped; lane groups naming invalid countries.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.dom import minidom

import openpyxl
import pytest
from click.testing import CliRunner

from planner import cli
from planner.cli import main
from planner.input import schema
from tests.test_bad_inputs import (
    PREVIOUS,
    InternalErrorExit,
    NothingWrittenMissing,
    Sheets,
    listing,
    problem_lines,
    valid,
    write_xlsx,
)

CP1252_HINT = 'Excel\'s "CSV (Comma delimited)" writes the Windows code page: save the file as "CSV UTF-8 (Comma ' \
              'delimited)"'
MERGED = "only the first holds a value and the others read as blank; unmerge them and fill in every cell"
RECALC = ("holds a formula whose saved value is a placeholder: the workbook asks Excel to recalculate every formula "
          "when it is opened (xlsxwriter writes it so); open and save the file in Excel, or paste values")
CAP_HINT = " (above the sanity cap: check the unit and for a typo)"
SHEETS = "one of Sites, Supply, Recipes, CoProducts, Lanes, Demand, Controls, Settings"


# --------------------------------------------------------------------------- writing inputs


def csv_folder(folder: Path, sheets: Sheets, encoding: str = "utf-8", delimiter: str = ",",
               names: dict[str, str] | None = None) -> None:
    """One file per sheet, as Excel writes CSV (CRLF); ``names`` renames files (``Sites`` -> ``Sites.CSV``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in sheets.items():
        buf = io.StringIO()
        csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(
            [["" if v is None else v for v in r] for r in rows])
        (folder / (names or {}).get(name, f"{name}.csv")).write_bytes(buf.getvalue().encode(encoding))


def edit_zip(path: Path, edit: Callable[[dict[str, bytes]], None]) -> None:
    """Rewrite the members of an .xlsx (for what openpyxl cannot write)."""
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    edit(members)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def sheet_member(members: dict[str, bytes], sheet: str) -> str:
    """The worksheet member of a sheet written by write_xlsx (sheets in VALID order, then added ones)."""
    book = members["xl/workbook.xml"].decode()
    names = re.findall(r'<sheet name="([^"]*)"', book)
    return f"xl/worksheets/sheet{names.index(sheet) + 1}.xml"


def cell_xml(members: dict[str, bytes], sheet: str, ref: str, xml: str) -> None:
    """Replace the <c r="ref"> element of a sheet by ``xml``."""
    name = sheet_member(members, sheet)
    text = members[name].decode()
    new, n = re.subn(rf'<c r="{ref}"[^>]*?(?:/>|>.*?</c>)', xml, text, count=1)
    assert n == 1, (ref, text[:500])
    members[name] = new.encode()


def full_calc_on_load(members: dict[str, bytes], flag: str = "1") -> None:
    """What xlsxwriter writes: <calcPr fullCalcOnLoad="1"/> (openpyxl writes it too)."""
    book = members["xl/workbook.xml"].decode()
    book = re.sub(r"<calcPr[^>]*/>", "", book)
    members["xl/workbook.xml"] = book.replace("</workbook>", f'<calcPr calcId="124519" fullCalcOnLoad="{flag}"/>'
                                                             "</workbook>").encode()


def no_calc_pr(members: dict[str, bytes]) -> None:
    """As Excel saves a workbook it has calculated: no fullCalcOnLoad."""
    members["xl/workbook.xml"] = re.sub(rb"<calcPr[^>]*/>", b"", members["xl/workbook.xml"])


def hide_rows(sheet: str, rows: list[int], autofilter: str | None = None) -> Callable[[dict[str, bytes]], None]:
    def edit(members: dict[str, bytes]) -> None:
        name = sheet_member(members, sheet)
        text = members[name].decode()
        for r in rows:
            text, n = re.subn(rf'<row r="{r}"', f'<row r="{r}" hidden="1"', text)
            assert n == 1
        if autofilter:
            text = text.replace("</sheetData>", f'</sheetData><autoFilter ref="{autofilter}"/>')
        members[name] = text.encode()
    return edit


def rename_sheet(old: str, new: str) -> Callable[[dict[str, bytes]], None]:
    """Rename a sheet in workbook.xml (openpyxl refuses names that differ only in case)."""
    def edit(members: dict[str, bytes]) -> None:
        members["xl/workbook.xml"] = members["xl/workbook.xml"].replace(
            f'<sheet name="{old}"'.encode(), f'<sheet name="{new}"'.encode())
    return edit


# --------------------------------------------------------------------------- the case table


@dataclass
class Case:
    id: str
    exit: int
    mutate: Callable[[Sheets], None] | None = None  # one mutation of the valid sheets
    xml: Callable[[dict[str, bytes]], None] | None = None  # then: raw edits of the .xlsx members
    folder: Callable[[Path, Sheets], None] | None = None  # or: write the input as a CSV folder here
    merged: dict[str, list[str]] | None = None
    command: str = "solve"
    args: tuple[str, ...] = ()
    problems: list[str] | None = None  # exactly these problem lines, in this order
    contains: tuple[str, ...] = ()  # substrings of stderr
    check: Callable[[Path, object], None] | None = None  # (the output, the result) of an accepted case
    input_name: str = "input.xlsx"


def _cell(sheet: str, row: int, col: int, value: object) -> Callable[[Sheets], None]:
    def mutate(s: Sheets) -> None:
        s[sheet][row][col] = value
    return mutate


def _settings(key: str, value: object) -> Callable[[Sheets], None]:
    def mutate(s: Sheets) -> None:
        s["Settings"].append([key, value])
    return mutate


def _whatif(*rows: list[object]) -> Callable[[Sheets], None]:
    def mutate(s: Sheets) -> None:
        s["WhatIf"] = [["scenario", "sheet", "key", "column", "operation", "value"], *map(list, rows)]
    return mutate


def _both(*mutations: Callable[[Sheets], None]) -> Callable[[Sheets], None]:
    def mutate(s: Sheets) -> None:
        for m in mutations:
            m(s)
    return mutate


def _csv(mutate: Callable[[Sheets], None] | None = None, **kwargs: object) -> Callable[[Path, Sheets], None]:
    def write(folder: Path, s: Sheets) -> None:
        if mutate:
            mutate(s)
        csv_folder(folder, s, **kwargs)
    return write


def _renamed_site(old: str, new: str) -> Callable[[Sheets], None]:
    """Rename a site in one place only (Lanes keep the old spelling, or the other way round)."""
    def mutate(s: Sheets) -> None:
        for row in s["Sites"][1:]:
            if row[0] == old:
                row[0] = new
    return mutate


def _lane_from(value: str) -> Callable[[Sheets], None]:
    return _cell("Lanes", 1, 0, value)


# -- checks of accepted cases


def plan_json(result) -> dict:  # noqa: ANN001
    return json.loads(result.stdout)


def c_delivered(tonnes: float) -> Callable[[Path, object], None]:
    def check(out: Path, result) -> None:  # noqa: ANN001
        assert plan_json(result)["plants"][0]["delivered_t"] == pytest.approx(tonnes, abs=1e-3), result.stdout
    return check


def c_scenarios(expected: dict[str, str]) -> Callable[[Path, object], None]:
    def check(out: Path, result) -> None:  # noqa: ANN001
        status = {e["scenario"]: e["status"] for e in plan_json(result)["scenarios"]}
        assert status == expected, result.stdout
    return check


def c_warns(*texts: str) -> Callable[[Path, object], None]:
    def check(out: Path, result) -> None:  # noqa: ANN001
        for t in texts:
            assert t in result.stderr, f"{t!r} not on stderr:\n{result.stderr}"
    return check


def c_all(*checks: Callable[[Path, object], None]) -> Callable[[Path, object], None]:
    def check(out: Path, result) -> None:  # noqa: ANN001
        for c in checks:
            c(out, result)
    return check


def c_no_control_characters(out: Path, result) -> None:  # noqa: ANN001
    wb = openpyxl.load_workbook(out)
    texts = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    wb.close()
    assert not any(re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", t) for t in texts)


# -- whole-case helpers


def whatif_rows() -> list[list[object]]:
    return [["cheaper mine B", "Supply", "MINE_B/ORE", "unit_cost_usd_per_kg", "multiply", 0.5]]


BATCH = ("--jobs", "1", "--json")
W = "WhatIf"

CASES: list[Case] = [
    # ================================================================ A. non-finite and absurd numbers
    Case("A_capacity_1e308", 3, mutate=_cell("Supply", 1, 2, 1e308), problems=[
        f"Supply!C2 (capacity_t): expected a number >= 0 and <= 1,000,000,000, got 1e+308{CAP_HINT}"]),
    Case("A_demand_just_above_the_cap", 3, mutate=_cell("Demand", 1, 2, 1.000001e9), problems=[
        f"Demand!C2 (quantity_t): expected a number >= 0 and <= 1,000,000,000, got 1e+09{CAP_HINT}"]),
    Case("A_price_1e300", 3, mutate=_cell("Supply", 2, 3, 1e300), problems=[
        f"Supply!D3 (unit_cost_usd_per_kg): expected a number >= 0 and <= 1,000,000, got 1e+300{CAP_HINT}"]),
    Case("A_freight_in_usd_per_tonne", 3, mutate=_cell("Lanes", 1, 3, 2.5e6), problems=[
        f"Lanes!D2 (freight_usd_per_kg): expected a number >= 0 and <= 1,000,000, got 2.5e+06{CAP_HINT}"]),
    Case("A_qualification_cost_1e15", 3, mutate=_cell("Sites", 1, 6, 1e15), problems=[
        "Sites!G2 (qualification_cost_usd): expected a number >= 0 and <= 1,000,000,000,000, got 1e+15"
        f"{CAP_HINT}"]),
    # openpyxl writes the largest double with 15 digits, which rounds up to infinity when read back
    Case("A_recipe_factor_max_float", 3, mutate=_cell("Recipes", 1, 2, 1.7976931348623157e308), problems=[
        "Recipes!C2 (input_t_per_t): expected a number > 0, got inf (not a finite number)"]),
    Case("A_recipe_factor_1e7", 3, mutate=_cell("Recipes", 1, 2, 1e7), problems=[
        f"Recipes!C2 (input_t_per_t): expected a number > 0 and <= 1,000,000, got 1e+07{CAP_HINT}"]),
    Case("A_negative_huge_is_below_zero", 3, mutate=_cell("Supply", 1, 2, -1e308), problems=[
        "Supply!C2 (capacity_t): expected a number >= 0, got -1e+308"]),
    Case("A_settings_shortage_cost_1e300", 3, mutate=_settings("denial_cost_usd_per_kg", 1e300), problems=[
        "Settings!B4 (value of denial_cost_usd_per_kg): expected a number >= 0 and <= 1,000,000, got 1e+300"
        f"{CAP_HINT}"]),
    Case("A_settings_time_limit_1e308", 3, mutate=_settings("time_limit_s", 1e308), problems=[
        "Settings!B4 (value of time_limit_s): expected a number > 0 and <= 10,000,000, got 1e+308"
        f"{CAP_HINT}"]),
    Case("A_settings_risk_weight_infinity_text", 3, mutate=_settings("risk_weight", "Infinity"), problems=[
        'Settings!B4 (value of risk_weight): expected a number >= 0, got "Infinity" (not a finite number)']),
    Case("A_csv_capacity_1e308_text", 3, folder=_csv(_cell("Supply", 1, 2, "1e308")), problems=[
        f"Supply!C2 (capacity_t): expected a number >= 0 and <= 1,000,000,000, got 1e+308{CAP_HINT}"]),
    Case("A_csv_cost_nan_text", 3, folder=_csv(_cell("Supply", 1, 3, "NaN")), problems=[
        'Supply!D2 (unit_cost_usd_per_kg): expected a number >= 0, got "NaN" (not a finite number)']),
    Case("A_cap_itself_is_accepted", 0, mutate=_cell("Supply", 1, 2, 1e9), command="validate"),
    Case("A_time_limit_inf", 2, args=("--time-limit", "inf"), contains=("--time-limit",)),
    Case("A_time_limit_nan", 2, args=("--time-limit", "nan"), contains=("'nan' is not a finite number",)),
    Case("A_time_limit_1e308", 2, args=("--time-limit", "1e308"), contains=("--time-limit",)),
    Case("A_mip_gap_nan", 2, args=("--mip-gap", "nan"), contains=("'nan' is not a finite number",)),
    Case("A_batch_time_limit_nan", 2, command="batch", args=("--time-limit", "NaN"),
         contains=("'NaN' is not a finite number",)),
    Case("A_sweep_to_inf", 2, command="sweep", args=("--param", "risk_weight", "--from", "0", "--to", "inf"),
         contains=("'inf' is not a finite number",)),
    Case("A_sweep_from_nan", 2, command="sweep", args=("--param", "risk_weight", "--from", "nan", "--to", "1"),
         contains=("'nan' is not a finite number",)),
    Case("A_sweep_capacity_to_1e308", 2, command="sweep",
         args=("--param", "Supply:MINE_A/ORE:capacity_t", "--from", "0", "--to", "1e308"),
         contains=("--to 1e+308: Supply:MINE_A/ORE:capacity_t: expected a number >= 0 and <= 1,000,000,000",)),
    Case("A_sweep_share_in_percent", 2, command="sweep",
         args=("--param", "max_exposed_share", "--from", "100", "--to", "0"),
         contains=("--from 100: max_exposed_share: expected a number >= 0 and <= 1, got 100",)),
    Case("A_whatif_add_nan", 3, mutate=_whatif(["more", "Supply", "MINE_A/ORE", "capacity_t", "add", "nan"]),
         command="batch", args=BATCH, problems=[
             'WhatIf!F2 (value): add needs a number: expected a number, got "nan" (not a finite number)']),
    Case("A_whatif_multiply_1e308", 3,
         mutate=_whatif(["boom", "Supply", "MINE_A/ORE", "capacity_t", "multiply", 1e308]), command="batch",
         args=BATCH, problems=["WhatIf!F2 (value): multiply needs a number: expected a number between "
                               "-1,000,000,000,000 and 1,000,000,000,000, got 1e+308"]),
    Case("A_whatif_set_over_the_cap", 3,
         mutate=_whatif(["huge", "Demand", "PLANT_DE/NDPR_OXIDE", "quantity_t", "set", "1e12"]), command="batch",
         args=BATCH, problems=["WhatIf!F2 (value): not a valid Demand.quantity_t: expected a number >= 0 and <= "
                               f"1,000,000,000, got 1e+12{CAP_HINT}"]),
    # a product that overflows only once applied (1e9 t x 1e3) is the scenario's error; the others run
    Case("A_whatif_overflow_when_applied", 0, command="batch", args=BATCH, mutate=_whatif(
        ["big", "Supply", "MINE_A/ORE", "capacity_t", "multiply", 1e9], *whatif_rows()),
         check=c_scenarios({"baseline": "optimal", "big": "error", "cheaper mine B": "optimal"})),

    # ================================================================ B. control characters
    Case("B_csv_scenario_name_bel", 3, command="batch", args=BATCH, folder=_csv(_whatif(
        ["beep\x07", "Supply", "MINE_B/ORE", "unit_cost_usd_per_kg", "multiply", 0.5])), problems=[
        'WhatIf!A2 (scenario): contains the control character U+0007, which a workbook cannot hold: "beep\\x07"; '
        "delete it"]),
    Case("B_csv_site_name_bel", 3, folder=_csv(_cell("Sites", 1, 1, "Mine\x07A")), problems=[
        'Sites!B2 (name): contains the control character U+0007, which a workbook cannot hold: "Mine\\x07A"; '
        "delete it"]),
    Case("B_csv_note_ansi_escape", 3, folder=_csv(_cell("Controls", 1, 6, "\x1b[31mred\x1b[0m")), problems=[
        "Controls!G2 (note): contains the control character U+001B, which a workbook cannot hold: "
        '"\\x1b[31mred\\x1b[0m"; delete it']),
    Case("B_csv_company_vertical_tab", 3, folder=_csv(_cell("Sites", 2, 2, "Mine\x0bCo")), problems=[
        'Sites!C3 (company): contains the control character U+000B, which a workbook cannot hold: '
        '"Mine\\x0bCo"; delete it']),
    Case("B_csv_noncharacter_uffff", 3, folder=_csv(_cell("Sites", 1, 1, "Mine\uffffA")), problems=[
        'Sites!B2 (name): contains the control character U+FFFF, which a workbook cannot hold: "Mine\\uffffA"; '
        "delete it"]),
    Case("B_csv_ctrl_z_at_the_end", 3, folder=lambda d, s: (csv_folder(d, s), (d / "Demand.csv").write_bytes(
        (d / "Demand.csv").read_bytes() + b"\x1a")), contains=(
        'Demand!A3 (site_id): contains the control character U+001A, which a workbook cannot hold: "\\x1a"; '
        "delete it",)),
    Case("B_csv_tab_inside_an_id", 3, folder=_csv(_both(_renamed_site("MINE_A", "MINE\tA"))), contains=(
        'Sites!A2 (site_id): contains an invisible character (U+0009): "MINE\\tA"; delete it',)),
    Case("B_csv_line_break_in_a_name_is_text", 0, folder=_csv(_cell("Sites", 1, 1, "Mine A\r\nnorth pit")),
         check=c_no_control_characters, args=("--json",)),
    Case("B_csv_c1_and_del_in_a_name_are_written", 0, folder=_csv(_cell("Sites", 1, 1, "Mine\x7f\x85A")),
         check=c_no_control_characters, args=("--json",)),
    Case("B_input_folder_name_with_bel", 0, folder=_csv(), input_name="in\x07put", args=("--json",),
         check=c_no_control_characters),
    Case("B_sweep_param_with_bel", 2, command="sweep",
         args=("--param", "Supply:MINE_A/ORE\x07:capacity_t", "--from", "100", "--to", "400", "--steps", "2"),
         contains=('--param "Supply:MINE_A/ORE\\x07:capacity_t" contains an invisible or control character',)),
    Case("B_scenario_names_unsafe_for_sheets", 0, command="batch", args=(*BATCH, "--detail"), mutate=_whatif(
        ["a/b: [x]?*", "Supply", "MINE_B/ORE", "unit_cost_usd_per_kg", "multiply", 0.5],
        ["a\\b: [x]?*", "Supply", "MINE_B/ORE", "unit_cost_usd_per_kg", "multiply", 0.6],
        ["'" + "long name " * 6, "Supply", "MINE_B/ORE", "unit_cost_usd_per_kg", "multiply", 0.7]),
         check=c_no_control_characters),

    # ================================================================ C. WhatIf checked up front
    Case("C_delete_beside_numeric_rows", 0, command="batch", args=(*BATCH, "--detail"), mutate=_whatif(
        ["mine A closes", "Supply", "MINE_B/ORE", "capacity_t", "add", 400],
        ["mine A closes", "Supply", "MINE_A/ORE", "capacity_t", "delete", None],
        ["mine A closes", "Lanes", "MINE_A/REF_MY", None, "delete", None], *whatif_rows()),
         check=c_scenarios({"baseline": "optimal", "mine A closes": "optimal", "cheaper mine B": "optimal"})),
    Case("C_csv_delete_with_blank_column_and_value", 0, command="batch", args=BATCH, folder=_csv(_whatif(
        ["no mine A", "Supply", "MINE_A/ORE", "", "delete", ""], *whatif_rows())),
         check=c_scenarios({"baseline": "optimal", "no mine A": "optimal", "cheaper mine B": "optimal"})),
    Case("C_scenario_named_baseline", 3, command="batch", args=BATCH, mutate=_whatif(
        *whatif_rows(), ["baseline", "Demand", "PLANT_DE/NDPR_OXIDE", "quantity_t", "set", 120]), problems=[
        'WhatIf!A3 (scenario): "baseline" is the name of the unchanged input in every batch; give the scenario '
        "another name"]),
    Case("C_scenario_named_Baseline_with_blanks", 3, command="batch", args=BATCH, mutate=_whatif(
        [" Baseline ", "Demand", "PLANT_DE/NDPR_OXIDE", "quantity_t", "set", 120]), problems=[
        'WhatIf!A2 (scenario): "Baseline" is the name of the unchanged input in every batch; give the scenario '
        "another name"]),
    Case("C_unknown_column", 3, command="batch", args=BATCH, mutate=_whatif(
        ["more", "Supply", "MINE_A/ORE", "capacity", "add", 100]), problems=[
        'WhatIf!D2 (column): unknown column "capacity" in Supply (did you mean "capacity_t"?)']),
    Case("C_operand_not_a_number", 3, command="batch", args=BATCH, mutate=_whatif(
        ["double", "Supply", "MINE_A/ORE", "capacity_t", "multiply", "x2"]), problems=[
        'WhatIf!F2 (value): multiply needs a number: expected a number, got "x2"']),
    Case("C_add_to_a_text_column", 3, command="batch", args=BATCH, mutate=_whatif(
        ["rename", "Sites", "MINE_A", "name", "add", 1]), problems=[
        "WhatIf!E2 (operation): add needs a numeric column; Sites.name is text"]),
    Case("C_key_with_too_many_parts", 3, command="batch", args=BATCH, mutate=_whatif(
        ["more", "Supply", "MINE_A/ORE/extra", "capacity_t", "add", 100]), problems=[
        'WhatIf!C2 (key): "MINE_A/ORE/extra" has 3 parts; Supply rows are named by site_id/product']),
    Case("C_unknown_setting", 3, command="batch", args=BATCH, mutate=_whatif(
        ["risky", "Settings", "risk_weigth", None, "set", 2]), problems=[
        'WhatIf!C2 (key): unknown setting "risk_weigth" (did you mean "risk_weight"?)']),
    Case("C_set_percent_in_a_fraction", 3, command="batch", args=BATCH, mutate=_whatif(
        ["approvals", "Controls", "CN/NDPR_OXIDE", "approval_probability", "set", 60]), problems=[
        "WhatIf!F2 (value): not a valid Controls.approval_probability: expected a number >= 0 and <= 1, got 60 "
        "(a fraction, not percent: use 0.6 for 60 %)"]),
    Case("C_every_problem_at_once", 3, command="batch", args=BATCH, mutate=_whatif(
        ["baseline", "Suply", "MINE_A/ORE", "capacity_t", "add", 100],
        ["ok", "Supply", "MINE_A/ORE", "capacity_t", "add", "lots"]), problems=[
        'WhatIf!A2 (scenario): "baseline" is the name of the unchanged input in every batch; give the scenario '
        "another name",
        f'WhatIf!B2 (sheet): unknown sheet "Suply" ({SHEETS}) (did you mean "Supply"?)',
        'WhatIf!F3 (value): add needs a number: expected a number, got "lots"']),
    Case("C_names_in_any_case", 0, command="batch", args=BATCH, mutate=_whatif(
        ["shout", "SUPPLY", "MINE_B/ORE", "Unit_Cost_USD_per_kg", "Multiply", 0.5],
        ["risk", "settings", "RISK_WEIGHT", None, "set", 2]),
         check=c_scenarios({"baseline": "optimal", "shout": "optimal", "risk": "optimal"})),
    Case("C_validate_reports_the_whatif", 3, command="validate", mutate=_whatif(
        ["baseline", "Supply", "MINE_A/ORE", "capacity_t", "add", 100]), contains=(
        'WhatIf!A2 (scenario): "baseline" is the name of the unchanged input',)),

    # ================================================================ D. formulas flagged for recalculation
    # xlsxwriter writes <f>..</f><v>0</v> and asks Excel to recalculate on open: 0 is a placeholder
    Case("D_placeholder_in_a_required_number", 3, xml=lambda m: (cell_xml(
        m, "Supply", "C2", '<c r="C2"><f>200+200</f><v>0</v></c>'), full_calc_on_load(m)),
        problems=[f"Supply!C2 (capacity_t): {RECALC}"]),
    Case("D_placeholder_in_an_optional_column", 3, xml=lambda m: (cell_xml(
        m, "Lanes", "G2", '<c r="G2"><f>7*2</f><v>0</v></c>'), full_calc_on_load(m)),
        problems=[f"Lanes!G2 (transit_days): {RECALC}"]),
    Case("D_placeholder_text_in_an_id", 3, xml=lambda m: (cell_xml(
        m, "Demand", "A2", '<c r="A2" t="str"><f>"PLANT_"&amp;"DE"</f><v></v></c>'), full_calc_on_load(m, "true")),
        contains=("Demand!A2 (site_id): holds a formula",)),
    Case("D_shared_formula_children", 3, xml=lambda m: (
        cell_xml(m, "Supply", "D2", '<c r="D2"><f t="shared" ref="D2:D3" si="0">6*1</f><v>0</v></c>'),
        cell_xml(m, "Supply", "D3", '<c r="D3"><f t="shared" si="0"/><v>0</v></c>'), full_calc_on_load(m)),
        problems=[f"Supply!D2 (unit_cost_usd_per_kg): {RECALC}", f"Supply!D3 (unit_cost_usd_per_kg): {RECALC}"]),
    Case("D_saved_results_without_the_flag_are_read", 0, args=("--json",), xml=lambda m: (cell_xml(
        m, "Demand", "C2", '<c r="C2"><f>50*2</f><v>100</v></c>'), no_calc_pr(m)), check=c_delivered(100)),
    Case("D_flag_off_explicitly", 0, args=("--json",), xml=lambda m: (cell_xml(
        m, "Demand", "C2", '<c r="C2"><f>50*2</f><v>100</v></c>'), full_calc_on_load(m, "0")),
        check=c_delivered(100)),
    Case("D_placeholders_in_an_unread_sheet", 0, args=("--json",),
         mutate=lambda s: s.update(Notes=[["note"], ["x"]]), xml=lambda m: (cell_xml(
             m, "Notes", "A2", '<c r="A2"><f>1+1</f><v>0</v></c>'), full_calc_on_load(m)), check=c_delivered(100)),

    # ================================================================ E. merged, named alike, twice, hidden
    Case("E_merged_ids_down_a_column", 3, mutate=_cell("Supply", 2, 0, None), merged={"Supply": ["A2:A3"]},
         contains=(f"Supply!A2 (site_id): cells A2:A3 are merged: {MERGED}",)),
    Case("E_merged_optional_cells", 3, merged={"Lanes": ["G2:G3"]},
         problems=[f"Lanes!G2 (transit_days): cells G2:G3 are merged: {MERGED}"]),
    Case("E_merged_across_a_row", 3, merged={"Sites": ["B2:C2"]},
         problems=[f"Sites!B2 (name): cells B2:C2 are merged: {MERGED}"]),
    Case("E_merged_in_an_unread_sheet", 0, mutate=lambda s: s.update(Notes=[["a", "b"], ["x", None]]),
         merged={"Notes": ["A2:B2"]}, command="validate"),
    Case("E_two_sheets_differing_in_case", 3, mutate=lambda s: s.update(Sheet2=valid()["Supply"]),
         xml=rename_sheet("Sheet2", "supply"), problems=[
             'Supply: "Supply" and "supply" are one sheet (names match whatever the case and surrounding blanks); '
             "delete or rename all but one"]),
    Case("E_two_sheets_differing_in_spacing", 3, mutate=lambda s: s.update(Sheet2=valid()["Settings"]),
         xml=rename_sheet("Sheet2", "Settings "), problems=[
             'Settings: "Settings" and "Settings " are one sheet (names match whatever the case and surrounding '
             "blanks); delete or rename all but one"]),
    Case("E_csv_files_differing_in_case", 3, folder=lambda d, s: (csv_folder(d, s), (d / "supply.csv").write_bytes(
        (d / "Supply.csv").read_bytes())), problems=[
        "Supply: Supply.csv and supply.csv name one sheet (names match whatever the case); delete or rename all "
        "but one"]),
    Case("E_csv_same_sheet_two_extensions", 3, folder=lambda d, s: (csv_folder(d, s), (d / "Sites.CSV").write_bytes(
        (d / "Sites.csv").read_bytes())), problems=[
        "Sites: Sites.CSV and Sites.csv name one sheet (names match whatever the case); delete or rename all "
        "but one"]),
    Case("E_csv_upper_case_extension", 0, folder=_csv(names={"Sites": "Sites.CSV", "Lanes": "Lanes.Csv"}),
         args=("--json",), check=c_delivered(100)),
    Case("E_settings_key_twice_in_two_cases", 3, mutate=_both(_settings("risk_weight", 1),
                                                              _settings("RISK_WEIGHT", 5)), problems=[
        'Settings!A5 (key): duplicate "risk_weight" (Settings!A4 and Settings!A5; "risk_weight" and "RISK_WEIGHT" '
        "are one key)"]),
    Case("E_settings_key_twice_with_blanks", 3, mutate=_settings(" allow_shortage ", "no"), problems=[
        'Settings!A4 (key): duplicate "allow_shortage" (Settings!A2 and Settings!A4)']),
    Case("E_rows_hidden_by_a_filter", 0, args=("--json",), xml=hide_rows("Supply", [2], "A1:D4"),
         check=c_all(c_delivered(100), c_warns(
             "Warning: Supply row 2: 1 data row hidden in Excel by the filter on A1:D4 (rows 2) is read like a "
             "visible row"))),
    Case("E_rows_hidden_by_hand", 0, args=("--json",), xml=hide_rows("Lanes", [2, 4]), check=c_warns(
        "Warning: Lanes row 2: 2 data rows hidden in Excel (rows 2, 4) are read like visible rows")),
    Case("E_hidden_column", 0, args=("--json",), xml=lambda m: m.update({
        sheet_member(m, "Lanes"): m[sheet_member(m, "Lanes")].replace(
            b"<sheetData>", b'<cols><col min="7" max="7" width="0" hidden="1"/></cols><sheetData>')}),
         check=c_warns("Warning: Lanes!G1 (transit_days): this column is hidden in Excel and is read like a visible "
                       "one")),

    # ================================================================ F. CSV folders from Excel on Windows
    Case("F_cp1252_accent", 3, folder=_csv(_cell("Sites", 1, 1, "Zürich mine"), encoding="cp1252"), problems=[
        f'Sites!B2 (name): not UTF-8 text: byte 0xFC in "Z\\xfcrich mine"; {CP1252_HINT}']),
    Case("F_cp1252_euro_and_dash_in_two_files", 3, folder=_csv(_both(
        _cell("Controls", 1, 6, "€ per kg – MOFCOM"), _cell("Sites", 3, 2, "Réfinerie")), encoding="cp1252"),
         problems=[f'Controls!G2 (note): not UTF-8 text: byte 0x80 in "\\x80 per kg \\x96 MOFCOM"; {CP1252_HINT}',
                   f'Sites!C4 (company): not UTF-8 text: byte 0xE9 in "R\\xe9finerie"; {CP1252_HINT}']),
    Case("F_utf16_unicode_text_tabs", 0, folder=_csv(_cell("Sites", 1, 1, "Zürich – 東京"), encoding="utf-16",
                                                     delimiter="\t"), args=("--json",), check=c_delivered(100)),
    Case("F_utf16_big_endian", 0, folder=lambda d, s: [
        (f.write_bytes(codecs.BOM_UTF16_BE + f.read_bytes().decode("utf-8").encode("utf-16-be")))
        for f in (csv_folder(d, s), *d.iterdir())[1:]], args=("--json",), check=c_delivered(100)),
    Case("F_utf16_without_bom", 3, folder=lambda d, s: (csv_folder(d, s), (d / "Sites.csv").write_bytes(
        (d / "Sites.csv").read_bytes().decode().encode("utf-16-le"))), contains=(
        "Sites.csv holds NUL bytes: UTF-16 text without a byte-order mark",)),
    Case("F_utf8_with_bom_is_fine", 0, folder=_csv(encoding="utf-8-sig"), args=("--json",), check=c_delivered(100)),
    Case("F_semicolons", 0, folder=_csv(delimiter=";"), args=("--json",), check=c_delivered(100)),
    Case("F_semicolons_and_decimal_commas", 3, folder=_csv(_cell("Supply", 1, 3, "6,0"), delimiter=";"),
         problems=['Supply!D2 (unit_cost_usd_per_kg): expected a number >= 0, got "6,0"']),
    Case("F_very_long_field", 3, folder=_csv(_cell("Sites", 1, 1, "x" * 200_000)), problems=[
        "Sites row 2: a cell longer than 131,072 characters (an unclosed quote?) (Sites.csv line 2)"]),
    Case("F_unclosed_quote", 3, folder=lambda d, s: (csv_folder(d, s), (d / "Supply.csv").write_bytes(
        (d / "Supply.csv").read_bytes().replace(b"MINE_B", b'"MINE_B', 1))), problems=[
        'Supply row 3: a quoted cell is never closed (a stray " ?) (Supply.csv line 4)']),
    Case("F_long_text_under_the_limit_is_cut_when_written", 0, folder=_csv(_cell("Sites", 1, 1, "y" * 40_000)),
         args=("--json",), check=c_no_control_characters),
    Case("F_unicode_text_saved_as_txt", 3, folder=lambda d, s: [
        f.rename(f.with_suffix(".txt")) for f in (csv_folder(d, s), *d.iterdir())[1:]],
         contains=('is a folder with no .csv files', 'may be Excel\'s "Unicode text": rename them to .csv')),

    # ================================================================ G. invisible and look-alike characters
    Case("G_zero_width_space_in_a_reference", 3, mutate=_lane_from("MINE\u200b_A"), problems=[
        'Lanes!A2 (from_site): contains an invisible character (U+200B ZERO WIDTH SPACE): "MINE\\u200b_A"; '
        "delete it"]),
    Case("G_no_break_space_in_an_id", 3, mutate=_renamed_site("MINE_B", "MINE\u00a0B"), contains=(
        'Sites!A3 (site_id): contains an invisible character (U+00A0 NO-BREAK SPACE): "MINE\\xa0B"; delete it',)),
    Case("G_bidi_override_in_an_id", 3, mutate=_cell("Demand", 1, 1, "NDPR\u202e_OXIDE"), contains=(
        'Demand!B2 (product): contains an invisible character (U+202E RIGHT-TO-LEFT OVERRIDE): '
        '"NDPR\\u202e_OXIDE"',)),
    Case("G_nfd_accent_in_a_reference", 3, mutate=_both(
        _renamed_site("MINE_A", "MIN\u00c9_A"), _lane_from("MINE\u0301_A"), _cell("Supply", 1, 0, "MIN\u00c9_A")),
         problems=['Lanes!A2 (from_site): unknown site "MINE\\u0301_A" (not in sheet Sites) '
                   '(did you mean "MINÉ_A"?)']),
    Case("G_cyrillic_letter_in_a_reference", 3, mutate=_cell("Demand", 1, 0, "PL\u0410NT_DE"), problems=[
        'Demand!A2 (site_id): unknown site "PL\\u0410NT_DE" (not in sheet Sites) (did you mean "PLANT_DE"?)']),
    Case("G_greek_omicron_in_a_product", 0, mutate=_cell("Demand", 1, 1, "NDPR_\u039fXIDE"), args=("--json",),
         check=c_warns('Warning: Demand!B2 (product): no site in Supply makes "NDPR_\\u039fXIDE" '
                       '(did you mean "NDPR_OXIDE"?)')),
    Case("G_cyrillic_words_are_shown_as_they_are", 3, mutate=_cell("Demand", 1, 0, "ЗАВОД"), problems=[
        'Demand!A2 (site_id): unknown site "ЗАВОД" (not in sheet Sites)']),
    Case("G_lane_group_country_uk", 3, mutate=_both(_lane_from("country:UK")), problems=[
        'Lanes!A2 (from_site): "UK" is not an ISO 3166-1 alpha-2 country code (did you mean "GB"?)']),
    Case("G_lane_group_country_el", 3, mutate=_cell("Lanes", 3, 1, "country:el"), problems=[
        'Lanes!B4 (to_site): "el" is not an ISO 3166-1 alpha-2 country code (did you mean "GR"?)']),
    Case("G_lane_group_country_unassigned", 3, mutate=_lane_from("country:ZX"), problems=[
        'Lanes!A2 (from_site): "ZX" is not an ISO 3166-1 alpha-2 country code']),
    Case("G_lane_group_country_lower_case", 0, mutate=_cell("Lanes", 1, 0, "country:au"), args=("--json",),
         check=c_delivered(100)),
    Case("G_invisible_sheet_name", 3, xml=rename_sheet("Demand", "Demand\u200b"), contains=(
        'Demand: required sheet missing (did you mean "Demand\\u200b"?)',)),
]


# --------------------------------------------------------------------------- the test


def parses_as_xml(path: Path) -> None:
    """Every XML member of a written workbook is well-formed (a control character would not be)."""
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.endswith((".xml", ".rels")):
                minidom.parseString(zf.read(name))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_hostile_input(case: Case, tmp_path: Path) -> None:
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    out_dir.mkdir()
    out = out_dir / "plan.xlsx"
    out.write_bytes(PREVIOUS)
    sheets = valid()
    if case.folder:
        src = in_dir / (case.input_name if case.input_name != "input.xlsx" else "case")
        case.folder(src, sheets)
    else:
        if case.mutate:
            case.mutate(sheets)
        src = write_xlsx(in_dir / case.input_name, sheets, merged=case.merged)
        if case.xml:
            edit_zip(src, case.xml)
    target = [str(src)] if case.command == "validate" else [str(src), "-o", str(out)]
    before_in, before_out = listing(in_dir), listing(out_dir)

    result = CliRunner().invoke(main, [case.command, *target, *case.args])

    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    where = f"planner {case.command} {' '.join(case.args)}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    if result.exit_code == 1 or "Internal error" in result.stderr or "Traceback" in result.stderr:
        raise InternalErrorExit(where)
    assert result.exit_code == case.exit, where
    assert listing(in_dir) == before_in, "the input (or its folder) changed"
    for text in case.contains:
        assert text in result.stderr, f"{text!r} not on stderr\n{where}"
    if case.problems is not None:
        assert problem_lines(result.stderr) == case.problems, where
    after_out = listing(out_dir)
    if case.exit == 0:
        if case.command != "validate":
            assert after_out["plan.xlsx"] != before_out["plan.xlsx"], "the plan was not written"
            parses_as_xml(out)
        assert set(after_out) == set(before_out), f"unexpected files in out/: {sorted(after_out)}"
        if case.check:
            case.check(out, result)
    else:
        assert after_out == before_out, "out/ changed"
        if case.exit == 3 and "Nothing was written." not in result.stderr:
            raise NothingWrittenMissing(where)


def test_the_command_line_caps_the_time_limit_as_the_data_dictionary_does() -> None:
    assert cli.MAX_TIME_LIMIT_S == schema.MAX_TIME_LIMIT_S == schema.SETTING_BY_KEY["time_limit_s"].cap


def test_every_number_column_is_capped() -> None:
    """No number an input can give the solver is unbounded above (days have MAX_DAYS)."""
    for sheet in schema.SHEETS:
        for col in sheet.columns:
            if col.kind == "number":
                assert col.upper is not None, f"{sheet.name}.{col.name}"
    for setting in schema.SETTINGS_KEYS:
        if setting.kind == "number":
            assert setting.as_column().upper is not None, setting.key
