"""Fuzz the input side: random damage to the valid workbook must never be an internal error (exit 1).

Hypothesis starts from the valid workbook of tests/test_bad_inputs.py (sheets as lists of rows), applies
1-4 random mutations (replace a cell with a hostile value, delete a row, delete a column header, rename a
sheet, duplicate a row), writes the .xlsx and runs ``planner validate`` and ``planner solve -o`` through
``CliRunner``. Whatever the damage, the exit code is one of 0, 3, 4, 5 (``validate``: 0 or 3); an invalid
input (3) says "Nothing was written." and leaves no output file; ``validate`` and ``solve`` agree on validity.

A mutation is a plain tuple ``(kind, sheet, row, col, value, new_name)``; ``sheet``, ``row`` and ``col``
are resolved against the workbook as it is at that moment (modulo its size), so a falsifying example can be
kept verbatim as an ``@example``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from planner.cli import main
from tests.test_bad_inputs import VALID, ExcelError, Formula, Sheets, valid, write_xlsx

# Values a careless or hostile workbook holds. Text is written as text (data_type "s"), so "=1+1" is text
# that looks like a formula; Formula("=1+1") is a real formula with no saved result.
POOL: list[object] = [
    None, "", " ", "=1+1", '=HYPERLINK("http://x","y")', Formula("=1+1"), Formula("=A1/0"),
    "#REF!", ExcelError("#REF!"), ExcelError("#DIV/0!"), ExcelError("#N/A"),
    "NA", "None", "null", "n/a", "NaN", "nan", "inf", "-Infinity", "1E+309", "1,000", "100 t", "60%", "abc",
    True, False, 0, 1, -1, -50, 0.5, 60, 1e-7, 1e5, 1e15, 1e300, -1e300, 1.7976931348623157e308,
    float("nan"), float("inf"), float("-inf"), 2.5, 123, "00123", "123",
    "MINE_A", "MINE_B", "REF_MY", "PLANT_DE", "ORE", "NDPR_OXIDE", "*", "stage:mine", "company:Nope",
    "mine", "refiner", "plant", "smelter", "CN", "AU", "yes", "no", "maybe", "candidate",
    dt.datetime(2024, 1, 31),
]

# Text without the characters openpyxl refuses to write (control characters, lone surrogates).
TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12)
VALUES = st.one_of(st.sampled_from(POOL), TEXT, st.floats(allow_nan=True, allow_infinity=True),
                   st.integers(min_value=-(10**18), max_value=10**18))
SHEET_NAMES = ["Supplies", "Site", "sites", "SUPPLY", "Lanes ", "Demand2", "Settings", "WhatIf", "Sheet1",
               "Controls", "Recipes", "CoProducts", "Notes"]
KINDS = ["cell", "cell", "cell", "delete_row", "delete_header", "rename_sheet", "duplicate_row"]

Mutation = tuple[str, str, int, int, object, str]
MUTATION = st.tuples(st.sampled_from(KINDS), st.sampled_from(list(VALID)), st.integers(0, 8), st.integers(0, 9),
                     VALUES, st.sampled_from(SHEET_NAMES))


class InternalErrorExit(AssertionError):
    """The planner exited 1 ("Internal error (this is a bug in planner)")."""


def apply(sheets: Sheets, mutations: list[Mutation]) -> None:
    """Apply the mutations in order (``sheet``: that sheet if still present and non-empty, else the first)."""
    for kind, sheet, row, col, value, new_name in mutations:
        names = [n for n, rows in sheets.items() if rows]
        if not names:
            return
        name = sheet if sheet in names else names[0]
        rows = sheets[name]
        r = row % len(rows)
        if kind == "cell":
            c = col % (len(rows[r]) + 1)  # up to one past the end: an extra column
            while len(rows[r]) <= c:
                rows[r].append(None)
            rows[r][c] = value
        elif kind == "delete_row":
            del rows[r]
        elif kind == "delete_header":
            if rows[0]:
                rows[0][col % len(rows[0])] = None
        elif kind == "rename_sheet":
            if new_name != name:
                sheets[new_name] = sheets.pop(name)  # replaces a sheet of that name, if any
        else:  # duplicate_row
            rows.insert(r + 1, list(rows[r]))


def run(args: list[str]):  # noqa: ANN201
    result = CliRunner().invoke(main, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    if result.exit_code == 1 or "Internal error" in result.stderr:
        raise InternalErrorExit(f"planner {args[0]} exited {result.exit_code}:\n{result.stderr}")
    return result


# The default run tries fifteen damaged workbooks (and every kept example); the long run, marked slow
# (pytest -m slow, run by CI), hundreds.
FUZZ = settings(max_examples=15, deadline=None, database=None, report_multiple_bugs=False,
                suppress_health_check=[HealthCheck.too_slow])
FUZZ_LONG = settings(FUZZ, max_examples=300)


@FUZZ
@given(mutations=st.lists(MUTATION, min_size=1, max_size=4))
# Falsifying examples found by this test (and by the same mutations applied cell by cell), kept:
@example(mutations=[("cell", "Sites", 1, 0, None, "Sheet1")])  # Sites!A2 blank: sorted() of a NaN among ids
@example(mutations=[("cell", "Supply", 1, 0, None, "Sheet1")])  # Supply!A2 blank: difflib on a float
@example(mutations=[("cell", "Lanes", 1, 0, None, "Sheet1")])  # Lanes!A2 blank: ":" in a float
@example(mutations=[("cell", "Demand", 1, 1, ExcelError("#N/A"), "Sheet1")])  # Demand!B2 error: difflib on None
@example(mutations=[("cell", "Supply", 3, 1, None, "Sheet1")])  # Supply!B4 blank: sorted() of a NaN among products
@example(mutations=[("cell", "Sites", 1, 8, 1e300, "Sheet1")])  # Sites!I2 processing_days 1e300: OverflowError
def test_damaged_workbooks_never_cause_an_internal_error(mutations: list[Mutation]) -> None:
    _never_an_internal_error(mutations)


@pytest.mark.slow
@FUZZ_LONG
@given(mutations=st.lists(MUTATION, min_size=1, max_size=4))
def test_damaged_workbooks_never_cause_an_internal_error_long(mutations: list[Mutation]) -> None:
    _never_an_internal_error(mutations)


def _never_an_internal_error(mutations: list[Mutation]) -> None:
    sheets = valid()
    apply(sheets, mutations)
    with tempfile.TemporaryDirectory() as tmp:
        src = write_xlsx(Path(tmp) / "in" / "input.xlsx", sheets)
        out_dir = Path(tmp) / "out"
        out_dir.mkdir()
        out = out_dir / "plan.xlsx"
        before = src.read_bytes()

        checked = run(["validate", str(src)])
        where = f"{mutations}\nvalidate stderr:\n{checked.stderr}"
        assert checked.exit_code in (0, 3), where

        solved = run(["solve", str(src), "-o", str(out), "--time-limit", "20"])
        where += f"\nsolve stdout:\n{solved.stdout}\nsolve stderr:\n{solved.stderr}"
        event(f"validate exit {checked.exit_code}, solve exit {solved.exit_code}")
        assert solved.exit_code in (0, 3, 4, 5), where
        assert src.read_bytes() == before, "the input was changed"
        if solved.exit_code == 3:
            assert "Nothing was written." in solved.stderr, where
        if solved.exit_code == 0:
            assert sorted(p.name for p in out_dir.iterdir()) == ["plan.xlsx"], where
        else:
            assert list(out_dir.iterdir()) == [], where  # no output, no temp file
        # one validation for both commands: what validate accepts, solve does not reject as invalid
        assert (checked.exit_code == 3) == (solved.exit_code == 3), where
