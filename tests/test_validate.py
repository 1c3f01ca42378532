"""Input validation, one mutation at a time, on a small known-good workbook made in code.

Every test writes a real .xlsx (or CSV folder) to ``tmp_path``, reads it with
``planner.input.validate.load`` and checks the exact, located message a sourcing
manager would see (``Supply!C3 (capacity_t): expected a number >= 0, got -50``).
"""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from planner.errors import InputError
from planner.input.validate import load

REPO = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------- helpers


class ExcelError:
    """Marks a cell to be written as an Excel error value (data_type "e"), e.g. ``#REF!``."""

    def __init__(self, code: str) -> None:
        self.code = code


# Sheets as lists of rows, header first. Row n of a list is Excel row n + 1.
GOOD: dict[str, list[list[object]]] = {
    "Sites": [
        ["site_id", "name", "company", "country", "stage", "status", "qualification_cost_usd", "min_volume_t",
         "processing_days"],
        ["MINE_AU", "Mine Australia", "MineCo", "AU", "mine", "qualified", 0, 0, 28],
        ["REF_MY", "Refinery Malaysia", "RefCo", "MY", "refiner", "qualified", 0, 0, 70],
        ["PLANT_DE", "Our plant", "Us", "DE", "plant", "qualified", 0, 0, 0],
    ],
    "Supply": [
        ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg"],
        ["MINE_AU", "ORE", 5000, 6.0],
        ["REF_MY", "NDPR_OXIDE", 200, 60.0],
    ],
    "Recipes": [
        ["product", "input", "input_t_per_t", "site_id"],
        ["NDPR_OXIDE", "ORE", 5.26, None],
    ],
    "Lanes": [
        ["from_site", "to_site", "product", "freight_usd_per_kg", "duty_usd_per_kg", "tariff_pct", "transit_days"],
        ["MINE_AU", "REF_MY", None, 0.10, 0, 0, 14],
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


def good() -> dict[str, list[list[object]]]:
    return copy.deepcopy(GOOD)


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]], hidden: tuple[str, ...] = ()) -> Path:
    """Write sheets (lists of rows, header first) to ``path`` with openpyxl. Text stays text (no formulas)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value is None:
                    continue
                cell = ws.cell(row=r, column=c)
                if isinstance(value, ExcelError):
                    cell.value = value.code
                    cell.data_type = "e"
                else:
                    cell.value = value
                    if isinstance(value, str):
                        cell.data_type = "s"  # "=..." must stay text, as a user would type it with a quote
        if name in hidden:
            ws.sheet_state = "hidden"
    wb.save(path)
    return path


def write_csv_folder(folder: Path, sheets: dict[str, list[list[object]]]) -> Path:
    """The same sheets as a folder of CSV files named after the sheets."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in sheets.items():
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([["" if v is None else v for v in row] for row in rows])
    return folder


def problems(path: Path) -> list[str]:
    """The error messages of an input that must be rejected, as ``str(issue)``."""
    with pytest.raises(InputError) as info:
        load(path)
    assert all(i.severity == "error" for i in info.value.issues)
    return [str(i) for i in info.value.issues]


@pytest.fixture
def book(tmp_path):  # noqa: ANN001, ANN201
    """Write a (mutated) copy of the good workbook: ``book(mutate)`` -> path."""
    counter = iter(range(1000))

    def make(mutate=None, hidden: tuple[str, ...] = ()) -> Path:  # noqa: ANN001
        sheets = good()
        if mutate:
            mutate(sheets)
        return write_xlsx(tmp_path / f"in{next(counter)}.xlsx", sheets, hidden)

    return make


# --------------------------------------------------------------------------- the good case


def test_known_good_workbook_is_valid(book):
    inputs = load(book())
    assert inputs.warnings == ()
    assert list(inputs.sites["site_id"]) == ["MINE_AU", "PLANT_DE", "REF_MY"]  # canonically sorted
    assert list(inputs.supply["capacity_t"]) == [5000.0, 200.0]
    assert inputs.settings["allow_shortage"] is True
    assert inputs.settings["shortage_cost_usd_per_kg"] == 800.0
    assert inputs.settings["risk_weight"] == 1.0  # a default
    lanes = inputs.lanes.set_index("from_site")
    assert lanes.at["MINE_AU", "transit_days"] == 14
    assert lanes.at["MINE_AU", "product"] == ""  # blank = any product
    d = inputs.demand.iloc[0]
    assert d["max_lead_time_days"] == 200
    assert d["max_exposed_share"] is None  # blank: falls back to Settings


def test_headers_match_case_insensitively_after_trimming(book):
    def mutate(s):  # noqa: ANN001
        s["Supply"][0] = [" Site_ID", "PRODUCT ", "Capacity_T", "unit_cost_USD_per_kg"]

    inputs = load(book(mutate))
    assert list(inputs.supply["capacity_t"]) == [5000.0, 200.0]
    assert inputs.warnings == ()


# --------------------------------------------------------------------------- sheets and columns


def test_missing_required_sheet_suggests_the_misspelt_name(book):
    def mutate(s):  # noqa: ANN001
        s["Supplies"] = s.pop("Supply")

    assert problems(book(mutate)) == [
        'Supply: required sheet missing (did you mean "Supplies"?); '
        "sheets found: Controls, Demand, Lanes, Recipes, Settings, Sites, Supplies"
    ]


def test_missing_required_column_suggests_the_misspelt_header(book):
    def mutate(s):  # noqa: ANN001
        s["Supply"][0][2] = "capacity"

    assert problems(book(mutate)) == [
        'Supply!C1 (capacity_t): required column missing; found "capacity": rename it to "capacity_t"; '
        "columns found: site_id, product, capacity, unit_cost_usd_per_kg"
    ]


def test_duplicate_header(book):
    def mutate(s):  # noqa: ANN001
        s["Supply"][0].append("Product")
        for row in s["Supply"][1:]:
            row.append("ORE")

    assert problems(book(mutate)) == ["Supply!E1 (product): the column appears twice (also column B)"]


def test_unknown_extra_column_is_a_warning_not_an_error(book):
    def mutate(s):  # noqa: ANN001
        s["Supply"][0].append("comment")
        s["Supply"][1].append("spot price, Q3")

    inputs = load(book(mutate))
    assert [str(w) for w in inputs.warnings] == ["Supply!E1 (comment): unknown column, ignored"]
    assert inputs.warnings[0].severity == "warning"
    assert "comment" not in inputs.supply.columns
    assert list(inputs.supply["capacity_t"]) == [5000.0, 200.0]


def test_hidden_sheet_gives_a_warning(book):
    inputs = load(book(hidden=("Controls",)))
    assert [str(w) for w in inputs.warnings] == [
        "Controls: this sheet is hidden in Excel but is read like a visible one"
    ]
    assert len(inputs.controls) == 1  # still read


def test_misspelt_optional_sheet_is_refused(book):
    # A misspelt optional sheet would silently drop its rows (here allow_shortage and costs in Settings),
    # so a sheet name close to an absent known sheet is an error, not a warning.
    def mutate(s):  # noqa: ANN001
        s["Setings"] = s.pop("Settings")

    assert problems(book(mutate)) == ['Setings: unknown sheet (did you mean "Settings"?); rename it, or it is ignored']


def test_unrelated_extra_sheet_is_only_a_warning(book):
    def mutate(s):  # noqa: ANN001
        s["My notes"] = [["text"], ["call Lynas on Monday"]]

    inputs = load(book(mutate))
    assert [str(w) for w in inputs.warnings] == ["My notes: unknown sheet, ignored"]


# --------------------------------------------------------------------------- cells


def test_blank_required_cell(book):
    def mutate(s):  # noqa: ANN001
        s["Supply"][1][2] = None

    assert problems(book(mutate)) == ["Supply!C2 (capacity_t): value required"]


@pytest.mark.parametrize("text", ["1,000", "100 t"])
def test_text_in_a_number_is_not_guessed(book, text):
    def mutate(s):  # noqa: ANN001
        s["Supply"][1][2] = text

    assert problems(book(mutate)) == [f'Supply!C2 (capacity_t): expected a number >= 0, got "{text}"']


def test_boolean_in_a_number(book):
    def mutate(s):  # noqa: ANN001
        s["Supply"][1][2] = True

    assert problems(book(mutate)) == ["Supply!C2 (capacity_t): expected a number >= 0, got True (a true/false value)"]


def test_negative_capacity(book):
    def mutate(s):  # noqa: ANN001
        s["Supply"][2][2] = -50

    assert problems(book(mutate)) == ["Supply!C3 (capacity_t): expected a number >= 0, got -50"]


def test_probability_typed_as_percent_suggests_the_fraction(book):
    def mutate(s):  # noqa: ANN001
        s["Controls"][1][2] = 60

    assert problems(book(mutate)) == [
        "Controls!C2 (approval_probability): expected a number >= 0 and <= 1, got 60 "
        "(a fraction, not percent: use 0.6 for 60 %)"
    ]


def test_share_typed_as_percent_in_settings_suggests_the_fraction(book):
    def mutate(s):  # noqa: ANN001
        s["Settings"].append(["max_supplier_share", 40])

    assert problems(book(mutate)) == [
        "Settings!B4 (value of max_supplier_share): expected a number >= 0 and <= 1, got 40 "
        "(a fraction, not percent: use 0.4 for 40 %)"
    ]


@pytest.mark.parametrize("text", ["NaN", "nan", "inf", "-Infinity"])
def test_nan_and_inf_text_are_rejected(book, text):
    def mutate(s):  # noqa: ANN001
        s["Supply"][1][3] = text

    assert problems(book(mutate)) == [
        f'Supply!D2 (unit_cost_usd_per_kg): expected a number >= 0, got "{text}" (not a finite number)'
    ]


def test_excel_error_cell(book):
    def mutate(s):  # noqa: ANN001
        s["Supply"][1][2] = ExcelError("#REF!")

    assert problems(book(mutate)) == ["Supply!C2 (capacity_t): cell contains the Excel error #REF!"]


@pytest.mark.parametrize(
    ("sheet", "row", "col", "value", "message"),
    [
        ("Lanes", 1, 6, 2.5, "Lanes!G2 (transit_days): expected a whole number of days >= 0 and <= 36,525, got 2.5"),
        ("Sites", 1, 8, -3, "Sites!I2 (processing_days): expected a whole number of days >= 0 and <= 36,525, got -3"),
        ("Demand", 1, 3, "200.5", "Demand!D2 (max_lead_time_days): expected a whole number of days >= 0 and <= 36,525, got 200.5"),
    ],
)
def test_days_must_be_whole_and_non_negative(book, sheet, row, col, value, message):
    def mutate(s):  # noqa: ANN001
        s[sheet][row][col] = value

    assert problems(book(mutate)) == [message]


@pytest.mark.parametrize("code", ["AUS", "A", "12"])
def test_bad_country_code(book, code):
    def mutate(s):  # noqa: ANN001
        s["Sites"][1][3] = code

    assert problems(book(mutate)) == [f'Sites!D2 (country): expected a 2-letter ISO country code, got "{code}"']


def test_two_letters_that_are_not_an_iso_code_are_rejected(book):
    def mutate(s):  # noqa: ANN001
        s["Sites"][1][3] = "UK"

    msgs = problems(book(mutate))
    assert len(msgs) == 1 and msgs[0].startswith("Sites!D2 (country):")


def test_bad_enum_value_suggests_the_closest(book):
    def mutate(s):  # noqa: ANN001
        s["Sites"][2][4] = "refinery"

    assert problems(book(mutate)) == [
        'Sites!E3 (stage): expected one of mine, refiner, metal, magnet, plant, got "refinery" '
        '(did you mean "refiner"?)'
    ]


# --------------------------------------------------------------------------- cross-sheet rules


def test_duplicate_ids_cite_both_rows(book):
    def mutate(s):  # noqa: ANN001
        s["Sites"].append(["MINE_AU", "Same mine again", "MineCo", "AU", "mine", "qualified", 0, 0, 28])

    assert problems(book(mutate)) == ['Sites!A5 (site_id): duplicate "MINE_AU" (Sites!A2 and Sites!A5)']


def test_duplicate_supply_rows_cite_both_rows(book):
    def mutate(s):  # noqa: ANN001
        s["Supply"].append(["MINE_AU", "ORE", 10, 1.0])

    assert problems(book(mutate)) == ['Supply!A4 (site_id): duplicate "MINE_AU/ORE" (Supply!A2 and Supply!A4)']


def test_unknown_site_reference_suggests_the_closest(book):
    def mutate(s):  # noqa: ANN001
        s["Lanes"][2][1] = "PLANT_DF"

    assert problems(book(mutate)) == [
        'Lanes!B3 (to_site): unknown site "PLANT_DF" (not in sheet Sites) (did you mean "PLANT_DE"?)'
    ]


def test_demand_on_a_site_that_is_not_a_plant(book):
    def mutate(s):  # noqa: ANN001
        s["Demand"][1][0] = "REF_MY"

    assert problems(book(mutate)) == ['Demand!A2 (site_id): "REF_MY" has stage refiner; demand belongs to a plant']


def test_supply_on_a_plant(book):
    def mutate(s):  # noqa: ANN001
        s["Supply"].append(["PLANT_DE", "SCRAP", 10, 1.0])

    assert problems(book(mutate)) == ['Supply!A4 (site_id): "PLANT_DE" is a plant; plants receive, they do not supply']


def test_unknown_lane_groups(book):
    def mutate(s):  # noqa: ANN001
        s["Lanes"].append(["stage:smelter", "company:Nope", None, 0, 0, 0, 0])

    assert problems(book(mutate)) == [
        'Lanes!A4 (from_site): unknown stage "smelter" (expected one of mine, refiner, metal, magnet, plant)',
        'Lanes!B4 (to_site): unknown company "Nope" (not a company in Sites)',
    ]


def test_known_lane_groups_are_accepted(book):
    def mutate(s):  # noqa: ANN001
        s["Lanes"].append(["company:MineCo", "stage:refiner", "ORE", 0.2, 0, 0, 10])
        s["Lanes"].append(["country:MY", "*", None, 0.5, 0, 0, 40])

    assert len(load(book(mutate)).lanes) == 4


def test_lane_naming_one_site_twice_is_an_internal_transfer(book):
    # The contract forbids only *group* rows from pairing a site with itself. planner (schema.LANES doc, in the
    # working tree) reads a row naming one site on both sides as an internal transfer, so it is not an error.
    def mutate(s):  # noqa: ANN001
        s["Lanes"].append(["REF_MY", "REF_MY", "NDPR_OXIDE", 0, 0, 0, 0])

    inputs = load(book(mutate))
    assert inputs.warnings == ()
    lanes = inputs.lanes
    assert len(lanes[(lanes["from_site"] == "REF_MY") & (lanes["to_site"] == "REF_MY")]) == 1


def test_unknown_setting_key(book):
    def mutate(s):  # noqa: ANN001
        s["Settings"].append(["max_share", 0.5])

    assert problems(book(mutate)) == [
        'Settings!A4 (key): unknown setting "max_share" (did you mean "max_exposed_share"?)'
    ]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("allow_shortage", "maybe", 'Settings!B2 (value of allow_shortage): expected yes or no, got "maybe"'),
        ("shortage_cost_usd_per_kg", "lots",
         'Settings!B3 (value of shortage_cost_usd_per_kg): expected a number >= 0, got "lots"'),
    ],
)
def test_bad_setting_value(book, key, value, message):
    def mutate(s):  # noqa: ANN001
        for row in s["Settings"][1:]:
            if row[0] == key:
                row[1] = value

    assert problems(book(mutate)) == [message]


def test_recipe_cycle(book):
    def mutate(s):  # noqa: ANN001
        s["Recipes"].append(["ORE", "NDPR_OXIDE", 0.1, None])

    assert problems(book(mutate)) == ["Recipes: the bill of materials has a cycle: NDPR_OXIDE -> ORE -> NDPR_OXIDE"]


# --------------------------------------------------------------------------- text stays text


def test_na_country_is_namibia_in_xlsx_and_csv(book, tmp_path):
    def mutate(s):  # noqa: ANN001
        s["Sites"][1][3] = "NA"

    sheets = good()
    mutate(sheets)
    for inputs in (load(book(mutate)), load(write_csv_folder(tmp_path / "csv", sheets))):
        country = inputs.sites.set_index("site_id").at["MINE_AU", "country"]
        assert country == "NA"
        assert isinstance(country, str)


def test_site_named_none_is_kept_as_text(book):
    def mutate(s):  # noqa: ANN001
        s["Sites"][1][1] = "None"  # name
        s["Sites"][1][2] = "NULL"  # company
        # and a site whose id is the word None, referenced from other sheets
        s["Sites"].append(["None", "None", "None", "NA", "mine", "qualified", 0, 0, 0])
        s["Supply"].append(["None", "ORE", 10, 7.0])
        s["Lanes"].append(["None", "REF_MY", None, 0.1, 0, 0, 7])

    inputs = load(book(mutate))
    sites = inputs.sites.set_index("site_id")
    assert sites.at["MINE_AU", "name"] == "None"
    assert sites.at["MINE_AU", "company"] == "NULL"
    assert "None" in sites.index
    assert sites.at["None", "country"] == "NA"
    assert "None" in set(inputs.supply["site_id"])
    assert "None" in set(inputs.lanes["from_site"])


def test_numeric_id_matches_the_same_text_but_leading_zeros_stay_distinct(book):
    def mutate(s):  # noqa: ANN001
        s["Sites"][3][0] = 123  # the plant's id typed as a number
        s["Lanes"][2][1] = "123"  # referenced as text
        s["Demand"][1][0] = "123"

    inputs = load(book(mutate))
    assert "123" in set(inputs.sites["site_id"])
    assert list(inputs.demand["site_id"]) == ["123"]
    assert "123" in set(inputs.lanes["to_site"])

    def mutate_zeros(s):  # noqa: ANN001
        mutate(s)
        s["Demand"][1][0] = "00123"

    assert problems(book(mutate_zeros)) == [
        'Demand!A2 (site_id): unknown site "00123" (not in sheet Sites) (did you mean "123"?)'
    ]


# --------------------------------------------------------------------------- everything at once


def test_all_cell_problems_are_reported_at_once_and_sorted(book):
    def mutate(s):  # noqa: ANN001
        s["Supply"][2][2] = -50
        s["Sites"][1][3] = "AUS"
        s["Lanes"][1][6] = 2.5
        s["Demand"][1][2] = "lots"
        s["Controls"][1][2] = 60

    with pytest.raises(InputError) as info:
        load(book(mutate))
    issues = info.value.issues
    assert issues == sorted(issues)
    assert [str(i) for i in issues] == [
        "Controls!C2 (approval_probability): expected a number >= 0 and <= 1, got 60 "
        "(a fraction, not percent: use 0.6 for 60 %)",
        'Demand!C2 (quantity_t): expected a number >= 0, got "lots"',
        "Lanes!G2 (transit_days): expected a whole number of days >= 0 and <= 36,525, got 2.5",
        'Sites!D2 (country): expected a 2-letter ISO country code, got "AUS"',
        "Supply!C3 (capacity_t): expected a number >= 0, got -50",
    ]
    assert "5 problems" in info.value.message


def test_cell_and_reference_problems_are_reported_together(book):
    def mutate(s):  # noqa: ANN001
        s["Supply"][2][2] = -50  # a cell problem
        s["Lanes"][2][1] = "PLANT_DF"  # an unrelated unknown site
        s["Sites"].append(["MINE_AU", "Same mine again", "MineCo", "AU", "mine", "qualified", 0, 0, 28])

    msgs = problems(book(mutate))
    assert "Supply!C3 (capacity_t): expected a number >= 0, got -50" in msgs
    assert any(m.startswith('Lanes!B3 (to_site): unknown site "PLANT_DF"') for m in msgs)
    assert 'Sites!A5 (site_id): duplicate "MINE_AU" (Sites!A2 and Sites!A5)' in msgs


# --------------------------------------------------------------------------- CSV folder = workbook

TABLES = ("sites", "supply", "recipes", "coproducts", "lanes", "demand", "controls")


def assert_same_inputs(a, b) -> None:  # noqa: ANN001
    for name in TABLES:
        pd.testing.assert_frame_equal(
            getattr(a, name).reset_index(drop=True), getattr(b, name).reset_index(drop=True), obj=name
        )
    assert a.settings == b.settings
    assert [str(w) for w in a.warnings] == [str(w) for w in b.warnings]


def test_csv_folder_gives_the_same_tables_as_the_workbook(tmp_path):
    sheets = good()
    sheets["Sites"][1][3] = "NA"  # text that a careless reader would turn into a missing value
    sheets["Sites"][3][0] = 123
    sheets["Lanes"][2][1] = "123"
    sheets["Demand"][1][0] = "123"
    xlsx = load(write_xlsx(tmp_path / "in.xlsx", sheets))
    folder = load(write_csv_folder(tmp_path / "csv", sheets))
    assert_same_inputs(xlsx, folder)


def test_reference_csv_folder_gives_the_same_tables_as_the_reference_workbook():
    assert_same_inputs(load(REPO / "inputs" / "rare_earth_magnets.xlsx"), load(REPO / "inputs" / "reference"))
