"""The bad-input catalogue (research note Part B.8), one parametrised test, run through the command line.

Every case starts from ONE small valid workbook made in code (``VALID``: two mines, one refiner, one plant,
a recipe, lanes, demand, one Controls row, Settings), applies one mutation (or replaces the file with hostile
bytes generated here, never committed), writes it to ``tmp_path/in/input.xlsx`` beside a PREVIOUS output
``tmp_path/out/plan.xlsx``, and runs ``planner solve INPUT -o tmp_path/out/plan.xlsx`` with ``CliRunner``.

For every rejection the test asserts: the exit code; every problem line on stderr (``Sheet!A1 (column):
message`` where the case is about a cell); "Nothing was written."; the previous output byte-identical; the
input byte-identical (sha256 before and after); and no other file in ``out/`` or ``in/`` (no temp files).
For every accepted case (exit 0) it asserts that the plan was written (and whatever the case is about).

Exit codes: 2 usage, 3 invalid or unsafe input, 4 infeasible, 5 no solution within limits, 6 output not
writable, 130 interrupted. Cases marked NEW were specified here while being implemented in ``planner/``
(#6 --max-rows, #15 unsaved formulas, #27 numerics warning / --strict-numerics, #30 plan kept as
``plan.locked-*.xlsx``); known bugs in existing behaviour are ``xfail(strict=True, raises=<the specific
failure>)`` with the reason, so a fix turns them into XPASS failures and any other failure still fails.

Catalogue rows not run here, and why:

* #1 "is a directory": a folder is a valid input in this contract (a folder of CSV files, one per sheet),
  so a directory is not a usage error; an empty folder is an invalid input (``input_is_an_empty_folder``).
* #21 ``lead_time (weeks)`` / cost in EUR: the contract has no unit table; an unknown header is an
  "unknown column, ignored" warning by contract, and a required column under another unit name is a
  missing column (``unit_mismatch_capacity_kg``). Risk as percent is ``probability_typed_as_percent``.
* #25 time limit hit with an incumbent: the valid case is an LP solved in milliseconds, so no time limit
  can stop it after a first plan and before the optimum deterministically (tests/test_solve_status.py
  covers it on a large MIP).
* #28 control characters (``\\x07``) in an input cell: openpyxl refuses to write them, so such an .xlsx
  cannot be built here; the writer's replacement of control characters is tested in tests/test_write.py.
* #32 duplicate scenario names and names with ``/`` or > 31 characters: rows with one name *form* one
  scenario by contract (not an error), and sheet-name sanitising is tested in tests/test_batch.py.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from planner.cli import main
from planner.input import schema

REPO = Path(__file__).resolve().parents[1]
PREVIOUS = b"PREVIOUS plan.xlsx: last week's plan, which a failed run must leave byte-identical\n"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

# --------------------------------------------------------------------------- the valid workbook


class Formula:
    """A cell written by openpyxl as a formula (``=1+1``): openpyxl stores no cached value for it."""

    def __init__(self, text: str) -> None:
        self.text = text


class InternalErrorExit(AssertionError):
    """The planner exited 1 ("Internal error (this is a bug in planner)")."""


class LeadTimeBroken(AssertionError):
    """A plan was written that breaks a lead-time limit the input sets."""


class NothingWrittenMissing(AssertionError):
    """A rejection whose stderr lacks "Nothing was written." (raised last, so xfail can target it alone)."""


class ExcelError:
    """A cell written as an Excel error value (``cell.value = "#REF!"; cell.data_type = "e"``)."""

    def __init__(self, code: str) -> None:
        self.code = code


# Sheets as lists of rows, header first: row n of a list is Excel row n + 1; column 0 is A.
# Ore needed: 100 t x 5.26 = 526 t > 400 t per mine, so the optimal plan uses BOTH mines
# (MINE_A 400 t, MINE_B 126 t): every mine appears in the plan's Sites sheet.
# Longest route: 28 + 14 + 70 + 35 = 147 days (MINE_A) and 21 + 30 + 70 + 35 = 156 days (MINE_B).
VALID: dict[str, list[list[object]]] = {
    "Sites": [
        ["site_id", "name", "company", "country", "stage", "status", "qualification_cost_usd", "min_volume_t",
         "processing_days"],
        ["MINE_A", "Mine A", "MineCo A", "AU", "mine", "qualified", 0, 0, 28],
        ["MINE_B", "Mine B", "MineCo B", "US", "mine", "qualified", 0, 0, 21],
        ["REF_MY", "Refinery Malaysia", "RefCo", "MY", "refiner", "qualified", 0, 0, 70],
        ["PLANT_DE", "Our plant", "Us", "DE", "plant", "qualified", 0, 0, 0],
    ],
    "Supply": [
        ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg"],
        ["MINE_A", "ORE", 400, 6.0],
        ["MINE_B", "ORE", 400, 7.0],
        ["REF_MY", "NDPR_OXIDE", 200, 60.0],
    ],
    "Recipes": [
        ["product", "input", "input_t_per_t", "site_id"],
        ["NDPR_OXIDE", "ORE", 5.26, None],
    ],
    "Lanes": [
        ["from_site", "to_site", "product", "freight_usd_per_kg", "duty_usd_per_kg", "tariff_pct", "transit_days"],
        ["MINE_A", "REF_MY", None, 0.10, 0, 0, 14],
        ["MINE_B", "REF_MY", None, 0.20, 0, 0, 30],
        ["REF_MY", "PLANT_DE", None, 0.30, 0, 0, 35],
    ],
    "Demand": [
        ["site_id", "product", "quantity_t", "max_lead_time_days", "max_exposed_share", "shortage_cost_usd_per_kg"],
        ["PLANT_DE", "NDPR_OXIDE", 100, 200, None, None],
    ],
    "Controls": [
        ["country", "product", "approval_probability", "approval_days", "denial_cost_usd_per_kg", "content_rule",
         "note"],
        ["CN", "NDPR_OXIDE", 0.6, 63, 500, "no", "MOFCOM 18/2025"],
    ],
    "Settings": [
        ["key", "value"],
        ["allow_shortage", "yes"],
        ["shortage_cost_usd_per_kg", 800],
    ],
}

Sheets = dict[str, list[list[object]]]


def valid() -> Sheets:
    return copy.deepcopy(VALID)


def write_xlsx(path: Path, sheets: Sheets, merged: dict[str, list[str]] | None = None,
               hidden: tuple[str, ...] = ()) -> Path:
    """Write sheets with openpyxl. Text stays text (no accidental formulas); ``Formula``/``ExcelError`` cells
    become a formula without a cached value / an error cell; ``merged`` merges ranges per sheet."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value is None:
                    continue
                cell = ws.cell(row=r, column=c)
                if isinstance(value, Formula):
                    cell.value = value.text  # openpyxl: data_type "f", no cached value
                elif isinstance(value, ExcelError):
                    cell.value = value.code
                    cell.data_type = "e"
                else:
                    cell.value = value
                    if isinstance(value, str):
                        cell.data_type = "s"
        for rng in (merged or {}).get(name, []):
            ws.merge_cells(rng)
        if name in hidden:
            ws.sheet_state = "hidden"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


# --------------------------------------------------------------------------- hostile files, from bytes


def entity_bomb(valid_xlsx: bytes) -> bytes:
    """A valid workbook whose first sheet (xl/worksheets/sheet1.xml) carries a DTD with nested entities."""
    dtd = (
        '<!DOCTYPE worksheet [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
        '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
    )
    src = zipfile.ZipFile(io.BytesIO(valid_xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                text = data.decode("utf-8")
                if text.startswith("<?xml"):
                    end = text.index("?>") + 2
                    text = text[:end] + dtd + text[end:]
                else:
                    text = dtd + text
                # use the entity in the first header cell, as a billion-laughs file would
                text = text.replace("<t>site_id</t>", "<t>&lol4;</t>", 1)
                data = text.encode("utf-8")
            dst.writestr(info, data)
    assert b"<!ENTITY" in zipfile.ZipFile(io.BytesIO(out.getvalue())).read("xl/worksheets/sheet1.xml")
    return out.getvalue()


def zip_bomb(valid_xlsx: bytes) -> bytes:
    """A valid workbook plus an extra member of 60 MB of zeros, deflated (about 1,000:1)."""
    out = io.BytesIO(valid_xlsx)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/media/padding.bin", bytes(60_000_000))
    return out.getvalue()


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096)
CSV_TEXT = b"site_id,name,country,stage\nMINE_A,Mine A,AU,mine\n"


# --------------------------------------------------------------------------- the case table


@dataclass
class Ctx:
    """What a case's hooks may touch."""

    tmp: Path
    inp: Path  # tmp/in/input.xlsx
    out_dir: Path  # tmp/out
    out: Path  # tmp/out/plan.xlsx (the PREVIOUS output, PREVIOUS bytes)
    monkeypatch: pytest.MonkeyPatch
    cleanup: list[Callable[[], None]] = field(default_factory=list)


@dataclass
class Case:
    id: str
    exit: int
    mutate: Callable[[Sheets], None] | None = None  # one mutation of the valid sheets
    raw: Callable[[bytes], bytes] | None = None  # or: the input file's bytes, from the valid workbook's bytes
    merged: dict[str, list[str]] | None = None
    hidden: tuple[str, ...] = ()
    command: str = "solve"
    args: tuple[str, ...] = ()  # extra options
    problems: list[str] | None = None  # exactly these problem lines ("  ..." on stderr), in this order
    contains: tuple[str, ...] = ()  # substrings of stderr
    prepare: Callable[[Ctx], None] | None = None  # before the run (owner file, monkeypatch, chmod, ...)
    target: Callable[[Ctx], list[str]] | None = None  # replaces "INPUT -o OUT" (usage cases)
    check: Callable[[Ctx, object], None] | None = None  # extra checks after the run
    allowed_extra: Callable[[str], bool] | None = None  # a new file in out/ that the case allows
    nothing_written: bool = True  # a rejection says "Nothing was written." (not when a plan was kept aside)
    marks: tuple = ()


def _cell(sheet: str, row: int, col: int, value: object) -> Callable[[Sheets], None]:
    """Set one cell (row 0 is the header, Excel row 1; col 0 is A)."""

    def mutate(s: Sheets) -> None:
        s[sheet][row][col] = value

    return mutate


def _settings(s: Sheets, key: str, value: object) -> None:
    for row in s["Settings"][1:]:
        if row[0] == key:
            row[1] = value
            return
    s["Settings"].append([key, value])


def _rename_site(s: Sheets, old: str, new: object) -> None:
    """Rename a site everywhere it is referenced."""
    for sheet, cols in (("Sites", (0,)), ("Supply", (0,)), ("Lanes", (0, 1)), ("Demand", (0,))):
        for row in s[sheet][1:]:
            for c in cols:
                if row[c] == old:
                    row[c] = new


def sites_sheet(path: Path) -> list[dict]:
    """The rows of the plan's Sites sheet, as dicts by header, with each cell's data type."""
    wb = openpyxl.load_workbook(path)
    try:
        ws = wb["Sites"]
        rows = list(ws.iter_rows())
        # headers as people read them ("Made (t)") back to the field names the checks use ("made_t")
        header = [str(c.value).lower().replace(" (t)", "_t").replace(" ", "_") for c in rows[0]]
        return [{h: (c.value, c.data_type) for h, c in zip(header, r, strict=False)} for r in rows[1:]]
    finally:
        wb.close()


# -- mutations


def m_supplies(s: Sheets) -> None:
    s["Supplies"] = s.pop("Supply")


def m_no_lanes_sheet(s: Sheets) -> None:
    del s["Lanes"]


def m_no_capacity_column(s: Sheets) -> None:
    for row in s["Supply"]:
        del row[2]


def m_duplicate_header(s: Sheets) -> None:
    s["Supply"][0].append("Product")
    for row in s["Supply"][1:]:
        row.append(row[1])


def m_unit_mismatch(s: Sheets) -> None:
    s["Supply"][0][2] = "capacity (kg/yr)"
    for row in s["Supply"][1:]:
        row[2] = row[2] * 1000


def m_empty_demand(s: Sheets) -> None:
    del s["Demand"][1:]


def m_duplicate_site(s: Sheets) -> None:
    s["Sites"].append(["MINE_A", "Mine A again", "MineCo A", "AU", "mine", "qualified", 0, 0, 28])


def m_duplicate_site_after_trim(s: Sheets) -> None:
    s["Sites"].append(["  MINE_A ", "Mine A again", "MineCo A", "AU", "mine", "qualified", 0, 0, 28])


def m_na_and_none(s: Sheets) -> None:
    _rename_site(s, "MINE_B", "None")  # a site called None ...
    s["Sites"][2][1] = "None"  # ... whose name is None ...
    s["Sites"][2][3] = "NA"  # ... in Namibia


def m_colliding_ids(s: Sheets) -> None:
    _rename_site(s, "MINE_A", "MINE-01")
    _rename_site(s, "MINE_B", "MINE_01")


def m_mixed_type_ids(s: Sheets) -> None:
    _rename_site(s, "PLANT_DE", "123")
    s["Sites"][4][0] = 123  # the plant's id typed as a number; Lanes and Demand refer to it as text "123"


def m_leading_zeros_stay_distinct(s: Sheets) -> None:
    m_mixed_type_ids(s)
    s["Demand"][1][0] = "00123"


def m_infeasible_demand(s: Sheets) -> None:
    s["Demand"][1][2] = 500  # the mines give ore for 800 / 5.26 = 152.1 t at most
    _settings(s, "allow_shortage", "no")


def m_lead_time_below_every_route(s: Sheets) -> None:
    s["Demand"][1][3] = 10  # every route takes 147 days or more
    _settings(s, "allow_shortage", "no")


def m_no_lane_to_plant(s: Sheets) -> None:
    del s["Lanes"][3]  # REF_MY -> PLANT_DE: the plant has no eligible supplier
    _settings(s, "allow_shortage", "no")


def m_five_lanes_only_lanes_over_3(s: Sheets) -> None:
    # Only Lanes may exceed --max-rows 3: drop MINE_B (Sites 3 rows, Supply 2) and give Lanes 5 valid rows.
    s["Sites"] = [r for r in s["Sites"] if r[0] != "MINE_B"]
    s["Supply"] = [r for r in s["Supply"] if r[0] != "MINE_B"]
    s["Supply"][1][2] = 1000
    s["Lanes"] = [s["Lanes"][0],
                  ["MINE_A", "REF_MY", None, 0.10, 0, 0, 14],
                  ["REF_MY", "PLANT_DE", None, 0.30, 0, 0, 35],
                  ["stage:mine", "stage:refiner", "ORE", 0.50, 0, 0, 20],
                  ["country:MY", "*", "NDPR_OXIDE", 0.40, 0, 0, 40],
                  ["company:RefCo", "PLANT_DE", "NDPR_OXIDE", 0.35, 0, 0, 30]]


def m_hostile_numbers(s: Sheets) -> None:
    s["Supply"][1][3] = 1e-7  # Supply!D2, next to ...
    s["Supply"][2][3] = 1e5  # ... Supply!D3: 12 orders of magnitude apart


def m_formula_looking_text(s: Sheets) -> None:
    s["Sites"][1][2] = '=HYPERLINK("http://evil.example/x","click me")'  # MINE_A's company
    _rename_site(s, "MINE_B", "+1-555")
    s["Sites"][2][2] = "@risk"


def m_whatif(s: Sheets) -> None:
    s["WhatIf"] = [
        ["scenario", "sheet", "key", "column", "operation", "value"],
        ["cheaper mine B", "Supply", "MINE_B/ORE", "unit_cost_usd_per_kg", "multiply", 0.5],
        ["typo in key", "Supply", "MINE_Z/ORE", "capacity_t", "add", 100],
        ["more demand", "Demand", "PLANT_DE/NDPR_OXIDE", "quantity_t", "set", 120],
    ]


# -- hooks


def owner_file(ctx: Ctx) -> None:
    (ctx.out_dir / "~$plan.xlsx").write_bytes(b"Excel owner file: someone has plan.xlsx open")


def read_only_folder(ctx: Ctx) -> None:
    ctx.out_dir.chmod(0o555)
    ctx.cleanup.append(lambda: ctx.out_dir.chmod(0o755))


def replace_is_denied(ctx: Ctx) -> None:
    """Excel holds plan.xlsx: replacing it is denied (after the solve); other renames still work."""
    import planner.output.write  # noqa: PLC0415

    real = planner.output.write.os.replace

    def replace(src, dst, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if Path(dst).resolve() == ctx.out.resolve():
            raise PermissionError(13, "Permission denied")
        return real(src, dst, *args, **kwargs)

    ctx.monkeypatch.setattr(planner.output.write.os, "replace", replace)


def ctrl_c(ctx: Ctx) -> None:
    import planner.api  # noqa: PLC0415

    def interrupted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise KeyboardInterrupt

    ctx.monkeypatch.setattr(planner.api, "build_model", interrupted)


def ctrl_c_while_saving(ctx: Ctx) -> None:
    """Ctrl-C once the whole workbook is in the temporary file beside the target, before it replaces it."""
    import planner.output.write  # noqa: PLC0415

    def interrupted(fd):  # noqa: ANN001, ANN202
        raise KeyboardInterrupt

    ctx.monkeypatch.setattr(planner.output.write.os, "fsync", interrupted)


def missing_input(ctx: Ctx) -> list[str]:
    return [str(ctx.inp.with_name("nope.xlsx")), "-o", str(ctx.out)]


def empty_folder(ctx: Ctx) -> list[str]:
    folder = ctx.inp.parent / "empty_folder"
    folder.mkdir()
    return [str(folder), "-o", str(ctx.out)]


def output_is_input(ctx: Ctx) -> list[str]:
    return [str(ctx.inp), "-o", str(ctx.inp)]


def output_in_inputs(ctx: Ctx) -> list[str]:
    target = REPO / "inputs" / f"zz_test_bad_inputs_{uuid.uuid4().hex}.xlsx"
    before = listing(REPO / "inputs")

    def after() -> None:
        assert not target.exists(), f"{target} was written"
        assert listing(REPO / "inputs") == before, "the bundled inputs/ folder changed"

    ctx.cleanup.append(after)
    return [str(ctx.inp), "-o", str(target)]


# -- checks of accepted cases


def c_na_and_none(ctx: Ctx, result) -> None:  # noqa: ANN001
    rows = {r["site"][0]: r for r in sites_sheet(ctx.out)}
    assert "None" in rows, rows.keys()
    assert rows["None"]["country"] == ("NA", "s")
    assert rows["None"]["site"] == ("None", "s")


def c_colliding_ids(ctx: Ctx, result) -> None:  # noqa: ANN001
    rows = {r["site"][0]: r for r in sites_sheet(ctx.out)}
    assert {"MINE-01", "MINE_01"} <= set(rows), rows.keys()
    made = {k: rows[k]["made_t"][0] for k in ("MINE-01", "MINE_01")}
    assert made == pytest.approx({"MINE-01": 400, "MINE_01": 126}, abs=1e-3), made  # distinct, both used


def c_mixed_type_ids(ctx: Ctx, result) -> None:  # noqa: ANN001
    assert "Delivered 100.0 t of 100.0 t" in result.stdout  # "123" (text) met 123 (number): the plant was served


def c_formula_text(ctx: Ctx, result) -> None:  # noqa: ANN001
    rows = {r["site"][0]: r for r in sites_sheet(ctx.out)}
    assert rows["MINE_A"]["company"] == ('=HYPERLINK("http://evil.example/x","click me")', "s")
    assert rows["+1-555"]["site"] == ("+1-555", "s")
    assert rows["+1-555"]["company"] == ("@risk", "s")


def c_numbers_span(ctx: Ctx, result) -> None:  # noqa: ANN001
    assert any(line.startswith("Warning: numbers span") for line in result.stderr.splitlines()), result.stderr


def c_hidden(ctx: Ctx, result) -> None:  # noqa: ANN001
    assert "Warning: Controls: this sheet is hidden in Excel but is read like a visible one" in result.stderr


def c_batch(ctx: Ctx, result) -> None:  # noqa: ANN001
    payload = json.loads(result.stdout)
    status = {e["scenario"]: e["status"] for e in payload["scenarios"]}
    assert status == {"baseline": "optimal", "cheaper mine B": "optimal", "typo in key": "error",
                      "more demand": "optimal"}, status
    typo = next(e for e in payload["scenarios"] if e["scenario"] == "typo in key")
    assert "MINE_Z" in typo["message"], typo


def c_locked(ctx: Ctx, result) -> None:  # noqa: ANN001
    kept = [p for p in ctx.out_dir.iterdir() if p.name.startswith("plan.locked-") and p.name.endswith(".xlsx")]
    assert len(kept) == 1, sorted(p.name for p in ctx.out_dir.iterdir())
    assert kept[0].name in result.stderr, result.stderr  # the message names the file kept
    wb = openpyxl.load_workbook(kept[0], read_only=True)  # the finished plan, whole
    assert "Summary" in wb.sheetnames and "Sites" in wb.sheetnames
    wb.close()


def c_max_rows_is_the_only_problem(ctx: Ctx, result) -> None:  # noqa: ANN001
    # the same workbook is valid without the limit: the limit, not the data, rejected it
    again = CliRunner().invoke(main, ["validate", str(ctx.inp)])
    assert again.exit_code == 0, again.output


BLANK_ID_BUG = (
    "BUG: a required id cell that does not coerce (blank, Excel error, formula without a saved value, True/False) "
    "in Sites.site_id, Supply.site_id/product, Lanes.from_site/to_site or Demand.site_id/product leaves None/NaN "
    "in the frame, and validate.py's cross-sheet checks crash on it (_check_references: sorted(site_ids) or "
    "sorted(made) TypeError; _group_problem: ':' in a float; _did_you_mean: difflib on a float/None): exit 1 "
    "'Internal error' instead of exit 3 with the cell's problem. In 258dae0 and bcef453."
)

CASES: list[Case] = [
    # ---- the valid workbook itself
    Case("valid_workbook", 0),
    # ---- #1 input missing (a folder is a valid input in this contract; an empty one is invalid)
    Case("input_missing", 2, target=missing_input, contains=("does not exist",)),
    Case("input_is_an_empty_folder", 3, target=empty_folder, contains=("is a folder with no .csv files",)),
    # ---- #2 not an xlsx at all
    Case("zero_byte_file", 3, raw=lambda v: b"", contains=("is not an Excel .xlsx workbook (not a zip archive)",)),
    Case("csv_renamed_xlsx", 3, raw=lambda v: CSV_TEXT,
         contains=("is not an Excel .xlsx workbook (not a zip archive)",)),
    Case("truncated_xlsx", 3, raw=lambda v: v[:300], contains=("is not an Excel .xlsx workbook",)),
    # ---- #3 legacy .xls or password-protected (OLE compound file)
    Case("ole_header", 3, raw=lambda v: OLE, contains=("is password-protected or in the old .xls format",)),
    # ---- #4 XML entities
    Case("xml_entities", 3, raw=entity_bomb, contains=("XML entity declarations",)),
    # ---- #5 zip bomb
    Case("zip_bomb", 3, raw=zip_bomb, contains=("zip bomb",)),
    # ---- #6 too many rows (NEW)
    Case("too_many_rows_solve", 3, mutate=m_five_lanes_only_lanes_over_3, args=("--max-rows", "3"),
         contains=("Lanes has more than 3 data rows (limit: --max-rows 3)",), check=c_max_rows_is_the_only_problem),
    Case("too_many_rows_validate", 3, mutate=m_five_lanes_only_lanes_over_3, command="validate",
         args=("--max-rows", "3"), contains=("Lanes has more than 3 data rows (limit: --max-rows 3)",)),
    # ---- #7 required sheet missing or misspelt
    Case("sheet_misspelt", 3, mutate=m_supplies, problems=[
        'Supply: required sheet missing (did you mean "Supplies"?); '
        "sheets found: Controls, Demand, Lanes, Recipes, Settings, Sites, Supplies"]),
    Case("sheet_missing", 3, mutate=m_no_lanes_sheet, problems=[
        "Lanes: required sheet missing; sheets found: Controls, Demand, Recipes, Settings, Sites, Supply"]),
    # ---- #8 column missing / duplicated / merged header
    Case("column_missing", 3, mutate=m_no_capacity_column, problems=[
        "Supply row 1 (capacity_t): required column missing; columns found: site_id, product, unit_cost_usd_per_kg"]),
    Case("column_twice", 3, mutate=m_duplicate_header,
         problems=["Supply!E1 (product): the column appears twice (also column B)"]),
    Case("merged_header_cells", 3, merged={"Supply": ["C1:D1"]}, problems=[
        "Supply row 1 (unit_cost_usd_per_kg): required column missing; columns found: site_id, product, capacity_t",
        "Supply!C1 (capacity_t): cells C1:D1 are merged: only the first holds a value and the others read as blank; "
        "unmerge them and fill in every cell"]),
    # ---- #9 empty sheet
    Case("empty_sheet", 3, mutate=m_empty_demand, problems=["Demand: the sheet has no data rows"]),
    # ---- #10 blank required cell
    Case("blank_required_cell", 3, mutate=_cell("Supply", 1, 2, None),
         problems=["Supply!C2 (capacity_t): value required"]),
    # A required *id* cell that does not coerce crashes the cross-sheet checks (found by tests/test_fuzz.py).
    # Only the cell's own line is pinned: references to the lost id may be reported as well.
    Case("blank_site_id", 3, mutate=_cell("Sites", 1, 0, None), contains=("  Sites!A2 (site_id): value required",)),
    Case("blank_supply_site_id", 3, mutate=_cell("Supply", 1, 0, None),
         contains=("  Supply!A2 (site_id): value required",)),
    Case("blank_lane_from_site", 3, mutate=_cell("Lanes", 1, 0, None),
         contains=("  Lanes!A2 (from_site): value required",)),
    Case("blank_supply_product", 3, mutate=_cell("Supply", 3, 1, None),
         contains=("  Supply!B4 (product): value required",)),
    Case("boolean_site_id", 3, mutate=_cell("Sites", 1, 0, True),
         contains=("  Sites!A2 (site_id): expected an id (text), got True",)),
    Case("error_in_demand_product", 3, mutate=_cell("Demand", 1, 1, ExcelError("#N/A")),
         contains=("  Demand!B2 (product): cell contains the Excel error #N/A",)),
    # ---- #11 text or boolean in a number
    Case("text_thousands_separator", 3, mutate=_cell("Supply", 1, 2, "1,000"),
         problems=['Supply!C2 (capacity_t): expected a number >= 0, got "1,000"']),
    Case("text_with_unit", 3, mutate=_cell("Supply", 1, 2, "100 t"),
         problems=['Supply!C2 (capacity_t): expected a number >= 0, got "100 t"']),
    Case("text_abc", 3, mutate=_cell("Demand", 1, 2, "abc"),
         problems=['Demand!C2 (quantity_t): expected a number >= 0, got "abc"']),
    Case("boolean_in_number", 3, mutate=_cell("Supply", 1, 2, True),
         problems=["Supply!C2 (capacity_t): expected a number >= 0, got True (a true/false value)"]),
    # ---- #12 negative or out of range
    Case("negative_capacity", 3, mutate=_cell("Supply", 2, 2, -50),
         problems=["Supply!C3 (capacity_t): expected a number >= 0, got -50"]),
    Case("probability_typed_as_percent", 3, mutate=_cell("Controls", 1, 2, 60), problems=[
        "Controls!C2 (approval_probability): expected a number >= 0 and <= 1, got 60 "
        "(a fraction, not percent: use 0.6 for 60 %)"]),
    Case("negative_transit_days", 3, mutate=_cell("Lanes", 1, 6, -3),  # the bound as the schema states it
         problems=[f"Lanes!G2 (transit_days): expected {schema.LANES.column('transit_days').bounds_text()}, got -3"]),
    # ---- #13 NaN / infinity as text
    Case("inf_text", 3, mutate=_cell("Supply", 1, 3, "inf"),
         problems=['Supply!D2 (unit_cost_usd_per_kg): expected a number >= 0, got "inf" (not a finite number)']),
    Case("nan_text", 3, mutate=_cell("Supply", 1, 3, "nan"),
         problems=['Supply!D2 (unit_cost_usd_per_kg): expected a number >= 0, got "nan" (not a finite number)']),
    Case("1e309_text", 3, mutate=_cell("Supply", 1, 3, "1E+309"),
         problems=['Supply!D2 (unit_cost_usd_per_kg): expected a number >= 0, got "1E+309" (not a finite number)']),
    # ---- #14 Excel error values
    Case("error_ref", 3, mutate=_cell("Supply", 1, 2, ExcelError("#REF!")),
         problems=["Supply!C2 (capacity_t): cell contains the Excel error #REF!"]),
    Case("error_div0", 3, mutate=_cell("Supply", 1, 3, ExcelError("#DIV/0!")),
         problems=["Supply!D2 (unit_cost_usd_per_kg): cell contains the Excel error #DIV/0!"]),
    Case("error_na", 3, mutate=_cell("Demand", 1, 2, ExcelError("#N/A")),
         problems=["Demand!C2 (quantity_t): cell contains the Excel error #N/A"]),
    # ---- #15 formula without a saved value (NEW)
    Case("formula_without_cached_value", 3, mutate=_cell("Supply", 1, 2, Formula("=1+1")), problems=[
        "Supply!C2 (capacity_t): holds a formula with no saved result; open and save the file in Excel, "
        "or paste values"]),
    # ---- #16 "NA" and "None" stay text (accepted)
    Case("na_country_and_site_named_none", 0, mutate=m_na_and_none, check=c_na_and_none),
    # ---- #17 duplicate ids, both rows cited
    Case("duplicate_id", 3, mutate=m_duplicate_site,
         problems=['Sites!A6 (site_id): duplicate "MINE_A" (Sites!A2 and Sites!A6)']),
    Case("duplicate_id_after_trimming", 3, mutate=m_duplicate_site_after_trim,
         problems=['Sites!A6 (site_id): duplicate "MINE_A" (Sites!A2 and Sites!A6)']),
    # ---- #18 ids that would collide after sanitising: two distinct valid mines (accepted)
    Case("ids_colliding_after_sanitising", 0, mutate=m_colliding_ids, check=c_colliding_ids),
    # ---- #19 unknown reference, with did-you-mean
    Case("unknown_reference", 3, mutate=_cell("Lanes", 3, 1, "PLANT_DF"), problems=[
        'Lanes!B4 (to_site): unknown site "PLANT_DF" (not in sheet Sites) (did you mean "PLANT_DE"?)']),
    # ---- #20 mixed-type ids: 123 and "123" are one id (accepted); "00123" is another
    Case("mixed_type_ids", 0, mutate=m_mixed_type_ids, check=c_mixed_type_ids),
    Case("leading_zeros_stay_distinct", 3, mutate=m_leading_zeros_stay_distinct, problems=[
        'Demand!A2 (site_id): unknown site "00123" (not in sheet Sites) (did you mean "123"?)']),
    # ---- #21 unit mismatch: a required column under another unit's name is missing
    Case("unit_mismatch_capacity_kg", 3, mutate=m_unit_mismatch,
         contains=("  Supply!C1 (capacity_t): required column missing", 'found "capacity (kg/yr)"')),
    # ---- #22 structural: unknown stage (3); a plant with no eligible supplier (4)
    Case("stage_smelter", 3, mutate=_cell("Sites", 2, 4, "smelter"),
         problems=['Sites!E3 (stage): expected one of mine, refiner, metal, magnet, plant, got "smelter"']),
    Case("plant_without_eligible_supplier", 4, mutate=m_no_lane_to_plant,
         contains=("no lane brings NDPR_OXIDE",)),
    # ---- #23 demand above capacity, shortage not allowed
    Case("demand_above_capacity", 4, mutate=m_infeasible_demand,
         contains=("demand cannot be met in full", "347.9 t short")),
    # ---- #24 limits only the solver finds: a lead-time limit shorter than every route
    Case("lead_time_below_every_route", 4, mutate=m_lead_time_below_every_route,
         contains=("demand cannot be met in full", "lead-time")),
    # ---- #26 time limit with no plan
    Case("time_limit_without_plan", 5, args=("--time-limit", "1e-9", "--solver", "highs"),
         contains=("no feasible plan found within the time limit",)),
    # ---- #27 numerically hostile data (NEW)
    Case("numbers_span_12_orders_warns", 0, mutate=m_hostile_numbers, check=c_numbers_span),
    Case("numbers_span_12_orders_strict", 3, mutate=m_hostile_numbers, args=("--strict-numerics",),
         contains=("numbers span",)),
    # ---- #28 text that looks like a formula is written as text (accepted)
    Case("formula_looking_text", 0, mutate=m_formula_looking_text, check=c_formula_text),
    # ---- hidden sheet: read, with a warning (accepted)
    Case("hidden_sheet", 0, hidden=("Controls",), check=c_hidden),
    # ---- #29 output path is the input / inside inputs/
    Case("output_is_the_input", 2, target=output_is_input,
         contains=("refusing to write the output over the input",)),
    Case("output_inside_inputs_folder", 2, target=output_in_inputs,
         contains=("refusing to write into the bundled inputs/ folder",)),
    # ---- #30 output open in Excel / read-only folder (before solving) / locked when replacing (NEW)
    Case("output_open_in_excel", 6, prepare=owner_file, contains=("is open in Excel",)),
    Case("output_folder_read_only", 6, prepare=read_only_folder, contains=("permission denied",),
         marks=(pytest.mark.skipif(IS_ROOT, reason="root ignores directory permissions"),)),
    # The finished plan IS written (as plan.locked-*.xlsx), so "Nothing was written." would be untrue here.
    Case("output_locked_when_replacing", 6, prepare=replace_is_denied, check=c_locked, nothing_written=False,
         allowed_extra=lambda name: name.startswith("plan.locked-") and name.endswith(".xlsx")),
    # ---- #31 Ctrl-C
    Case("ctrl_c_while_solving", 130, prepare=ctrl_c, contains=("Interrupted",)),
    Case("ctrl_c_while_writing", 130, prepare=ctrl_c_while_saving, contains=("Interrupted",)),
    # ---- #32 a scenario whose key matches nothing: reported with status error, the others run (exit 0);
    # one naming an unknown sheet is refused before anything is solved, with its cell
    Case("whatif_key_matches_nothing", 0, mutate=m_whatif, command="batch", args=("--jobs", "1", "--json"),
         check=c_batch),
    Case("whatif_unknown_sheet", 3, mutate=lambda s: (m_whatif(s), _cell("WhatIf", 2, 1, "Suply")(s)),
         command="batch", args=("--jobs", "1"), problems=[
             'WhatIf!B3 (sheet): unknown sheet "Suply" (one of Sites, Supply, Recipes, CoProducts, Lanes, Demand, '
             'Controls, Settings) (did you mean "Supply"?)']),
]


# --------------------------------------------------------------------------- the test


def sha256(path: Path) -> str:
    if path.is_dir():
        h = hashlib.sha256()
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(path)).encode())
            h.update(f.read_bytes())
        return h.hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (names relative to it, hidden ones too) with its sha256."""
    return {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def problem_lines(stderr: str) -> list[str]:
    """The problem lines of an error report: indented, not a finding ("  - ...") nor "...and n more"."""
    return [line[2:] for line in stderr.splitlines()
            if line.startswith("  ") and not line.startswith("  - ") and not line.startswith("  ...and")]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = Ctx(tmp_path, tmp_path / "in" / "input.xlsx", tmp_path / "out", tmp_path / "out" / "plan.xlsx", monkeypatch)
    ctx.out_dir.mkdir()
    ctx.out.write_bytes(PREVIOUS)
    sheets = valid()
    if case.mutate:
        case.mutate(sheets)
    write_xlsx(ctx.inp, sheets, merged=case.merged, hidden=case.hidden)
    if case.raw:
        ctx.inp.write_bytes(case.raw(ctx.inp.read_bytes()))
    try:
        if case.prepare:
            case.prepare(ctx)
        target = case.target(ctx) if case.target else (
            [str(ctx.inp)] if case.command == "validate" else [str(ctx.inp), "-o", str(ctx.out)])
        in_before, out_before = listing(ctx.inp.parent), listing(ctx.out_dir)

        result = CliRunner().invoke(main, [case.command, *target, *case.args])
        monkeypatch.undo()

        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        where = f"planner {case.command} {' '.join(case.args)}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        if result.exit_code == 1 or "Internal error" in result.stderr:
            raise InternalErrorExit(where)
        assert result.exit_code == case.exit, where
        assert listing(ctx.inp.parent) == in_before, "the input (or its folder) changed"
        for text in case.contains:
            assert text in result.stderr, f"{text!r} not on stderr\n{where}"
        if case.problems is not None:
            assert problem_lines(result.stderr) == case.problems, where
        out_after = listing(ctx.out_dir)
        if case.exit == 0:
            if case.command != "validate":
                assert out_after["plan.xlsx"] != out_before["plan.xlsx"], "the plan was not written"
                wb = openpyxl.load_workbook(ctx.out, read_only=True)
                wb.close()
            assert set(out_after) == set(out_before), f"unexpected files in out/: {sorted(out_after)}"
        else:
            assert ctx.out.read_bytes() == PREVIOUS, "the previous output was changed"
            extra = {n: h for n, h in out_after.items() if n not in out_before}
            if case.allowed_extra:
                extra = {n: h for n, h in extra.items() if not case.allowed_extra(n)}
            assert extra == {}, f"files left in out/: {sorted(extra)}"
            assert {n: out_after.get(n) for n in out_before} == out_before, "a file in out/ changed"
        if case.check:
            case.check(ctx, result)
        if case.exit != 0 and case.nothing_written and "Nothing was written." not in result.stderr:
            raise NothingWrittenMissing(f"'Nothing was written.' not on stderr\n{where}")
    finally:
        for fn in ctx.cleanup:
            fn()


# --------------------------------------------------------------------------- huge whole numbers of days

DAYS_OVERFLOW_BUG = (
    "BUG: a whole number of days >= 2**63 (here Sites!I2 processing_days = 1e19) passes validation (days have no "
    "upper bound) and wraps around in network.build_network's sites['processing_days'].astype(int): MINE_A's "
    "lead time becomes -8.4e18, the 200-day limit no longer excludes it, and exit 0 writes a plan delivering "
    "100 t with ore from a mine 1e19 days away while reporting max_lead_time_days 156 (correct: 76.05 t, or "
    "exit 3). Same before 45fcee2."
)
DAYS_HUGE_BUG = (
    "BUG: a whole number of days too large for int64 (1e300 in Sites.processing_days or Lanes.transit_days) "
    "passes the cell checks and crashes network.build_network (astype(int): OverflowError 'Python int too large "
    "to convert to C long'): exit 1 'Internal error' from planner solve (and, since 45fcee2, planner validate) "
    "instead of exit 3 (out of range) or a correct plan."
)


@pytest.mark.parametrize(
    ("sheet", "row", "col", "value", "where"),
    [
        pytest.param("Sites", 1, 8, 1e19, "Sites!I2 (processing_days)", id="processing_days_1e19"),
        pytest.param("Sites", 1, 8, 1e300, "Sites!I2 (processing_days)", id="processing_days_1e300"),
        pytest.param("Lanes", 1, 6, 1e19, "Lanes!G2 (transit_days)", id="transit_days_1e19"),
        pytest.param("Lanes", 1, 6, 1e300, "Lanes!G2 (transit_days)", id="transit_days_1e300"),
    ],
)
def test_huge_whole_days_are_refused_or_respected(tmp_path: Path, sheet: str, row: int, col: int, value: float,
                                                   where: str) -> None:
    """#12/#27: an absurd delay on MINE_A's route is either refused (3, naming the cell) or planned exactly:
    MINE_A cannot meet the 200-day limit, so only MINE_B's 400 t of ore is usable: 400 / 5.26 = 76.05 t."""
    sheets = valid()
    sheets[sheet][row][col] = value
    src = write_xlsx(tmp_path / "in" / "input.xlsx", sheets)
    out = tmp_path / "out" / "plan.xlsx"
    out.parent.mkdir()
    out.write_bytes(PREVIOUS)
    before = sha256(src)
    result = CliRunner().invoke(main, ["solve", str(src), "-o", str(out), "--json"])
    info = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert sha256(src) == before
    if result.exit_code == 1 or "Internal error" in result.stderr:
        raise InternalErrorExit(info)
    assert result.exit_code in (0, 3), info
    if result.exit_code == 3:
        assert any(line.startswith(where) for line in problem_lines(result.stderr)), info
        assert "Nothing was written." in result.stderr
        assert out.read_bytes() == PREVIOUS
        assert sorted(p.name for p in out.parent.iterdir()) == ["plan.xlsx"]
        return
    plant = json.loads(result.stdout)["plants"][0]
    if not (plant["max_lead_time_days"] <= 200 and plant["delivered_t"] == pytest.approx(400 / 5.26, abs=1e-3)):
        raise LeadTimeBroken(f"{plant}\n{info}")
    assert sorted(p.name for p in out.parent.iterdir()) == ["plan.xlsx"]


# --------------------------------------------------------------------------- installation safety


SAFETY_SCRIPT = """
import sys
from pathlib import Path
from planner.errors import InputError
from planner.input.read import read_input
try:
    book = read_input(Path(sys.argv[1]))
except InputError as exc:
    print("REFUSED:", exc.message)
    sys.exit(3)
print("READ", sorted(book.sheets))
"""


@pytest.mark.parametrize("defused", ["False", None])
def test_read_is_refused_when_openpyxl_does_not_use_defusedxml(tmp_path: Path, defused: str | None) -> None:
    # openpyxl reads OPENPYXL_DEFUSEDXML once, at import: a fresh process is needed.
    src = write_xlsx(tmp_path / "input.xlsx", valid())
    before = sha256(src)
    env = {k: v for k, v in os.environ.items() if k != "OPENPYXL_DEFUSEDXML"}
    if defused is not None:
        env["OPENPYXL_DEFUSEDXML"] = defused
    proc = subprocess.run([sys.executable, "-c", SAFETY_SCRIPT, str(src)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)
    if defused == "False":
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert "REFUSED:" in proc.stdout and "unsafe" in proc.stdout, proc.stdout + proc.stderr
    else:  # the control: the same read in a normal environment succeeds
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "READ" in proc.stdout
    assert sha256(src) == before
