"""A what-if that leaves the input invalid is reported at the user's workbook row, once.

On a v2 input a row with a blank period is held once per period, and rows are sorted: the in-memory table's
row numbers are not the workbook's. The expected rows here are found by reading the workbook with openpyxl,
not from the planner's own bookkeeping.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from planner.input.overrides import Change, Scenario, ScenarioError, apply_scenario
from planner.input.validate import load

INPUTS = Path(__file__).resolve().parents[1] / "inputs"


def workbook_row(path: Path, sheet: str, site: str) -> int:
    ws = openpyxl.load_workbook(path, read_only=True)[sheet]
    rows = ws.iter_rows(values_only=True)
    header = [str(h) for h in next(rows)]
    at = header.index("site_id")
    found = [n for n, values in enumerate(rows, start=2) if values and values[at] == site]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("name", ["rare_earth_magnets_2026_2030.xlsx", "rare_earth_magnets.xlsx"])
def test_an_invalid_change_names_the_workbook_row_once(name: str) -> None:
    path = INPUTS / name
    row = workbook_row(path, "Sites", "MAG_CN_JLMAG")
    inputs = load(path)
    with pytest.raises(ScenarioError) as info:
        apply_scenario(inputs, Scenario("no country", (Change("Sites", "MAG_CN_JLMAG", "country", "set", "", row=4),)))
    message = str(info.value)
    assert f"Sites row {row} (country): value required" in message, message
    assert message.count("Sites row") == 1, message  # held once per period, reported once


def test_a_row_the_whatif_adds_is_named_as_such() -> None:
    inputs = load(INPUTS / "rare_earth_magnets_2026_2030.xlsx")
    change = Change("Supply", "NO_SUCH_SITE/NDFEB_HT", "capacity_t", "set", 5, row=7)
    with pytest.raises(ScenarioError) as info:
        apply_scenario(inputs, Scenario("new supply", (change,)))
    message = str(info.value)
    assert 'Supply, a row the what-if adds (site_id): unknown site "NO_SUCH_SITE"' in message, message
