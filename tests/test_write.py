"""Writing workbooks: text stays text, numbers stay finite, a file is written whole or not at all."""

from __future__ import annotations

import gc
import os
import re
import sys
import tempfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import planner.output.write
from planner.api import plan
from planner.errors import OutputError
from planner.input.validate import load
from planner.output.sheets import recommendation_tables
from planner.output.write import Column, Table, safe_sheet_name, write_workbook
from tests.test_validate import good, write_xlsx

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "inputs" / "rare_earth_magnets.xlsx"
SHEETS = ["Findings", "Summary", "Plants", "Charts", "Sourcing", "Made where", "Lanes used", "Sites", "Suppliers", "Limits",
          "Licenses", "Candidates", "Run info"]
# sheets that are tables under a frozen header row (Findings, Summary and Charts are read top to bottom)
TABLE_SHEETS = [n for n in SHEETS if n not in ("Findings", "Summary", "Charts", "Limits", "Made where")]
EVIL = '=HYPERLINK("http://evil","x")'
# The control characters XML 1.0 cannot hold; the writer documents that it replaces them with U+FFFD.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def one_column(values: list[object], name: str = "T") -> list[Table]:
    return [Table(name, [Column("value")], [[v] for v in values])]


def read_column(path: Path, name: str = "T") -> list[openpyxl.cell.Cell]:
    wb = openpyxl.load_workbook(path)
    ws = wb[name]
    return [row[0] for row in ws.iter_rows(min_row=2, max_col=1)]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# A write that fails midway abandons openpyxl's write-only row generators; collected later, their finalizers
# raise "I/O operation on closed file" (harmless, the temp file is gone). Collect them inside the test that
# caused them, so the noise stays there and never lands in an unrelated test.
abandoned_writers = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def collect_garbage():  # noqa: ANN201
    yield
    gc.collect()


# --------------------------------------------------------------------------- text is text


@pytest.mark.parametrize("text", [
    '=HYPERLINK("http://x","y")', "=1+1", "+1-555", "-5", "-", "@risk", "@SUM(A1:A2)", "\tTabbed", "#REF!", "TRUE",
    "0012", "1e5",
])
def test_risky_text_reads_back_as_the_same_string(tmp_path, text):
    out = tmp_path / "out.xlsx"
    warnings = write_workbook(out, one_column([text]))
    assert warnings == []
    (cell,) = read_column(out)
    assert cell.value == text
    assert cell.data_type == "s"  # never a formula ("f"), error ("e"), number or boolean


def test_control_characters_are_replaced_and_reported(tmp_path):
    out = tmp_path / "out.xlsx"
    warnings = write_workbook(out, one_column(["Mine\x07A", "plain", "tab\tand\nnewline"]))
    cells = read_column(out)
    assert [c.value for c in cells] == ["Mine\ufffdA", "plain", "tab\tand\nnewline"]
    assert len(warnings) == 1
    assert "sheet T" in warnings[0] and "control characters" in warnings[0]


# --------------------------------------------------------------------------- whole or not at all


@abandoned_writers
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_number_raises_and_leaves_nothing(collect_garbage, tmp_path, bad):
    out = tmp_path / "out.xlsx"
    with pytest.raises(ValueError, match="non-finite"):
        write_workbook(out, one_column([1.0, bad]))
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@abandoned_writers
def test_non_finite_number_leaves_an_existing_target_untouched(collect_garbage, tmp_path):
    out = tmp_path / "out.xlsx"
    out.write_bytes(b"previous plan")
    with pytest.raises(ValueError):
        write_workbook(out, one_column([float("nan")]))
    assert out.read_bytes() == b"previous plan"
    assert leftovers(tmp_path) == []


@abandoned_writers
def test_failure_while_saving_leaves_the_target_and_no_temp_file(collect_garbage, tmp_path, monkeypatch):
    out = tmp_path / "out.xlsx"
    out.write_bytes(b"previous plan")

    def broken_save(wb, filename):  # noqa: ANN001, ANN202
        Path(filename).write_bytes(b"PK\x03\x04 half a workbook")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(planner.output.write, "save_workbook", broken_save)  # where every workbook is saved
    with pytest.raises(OutputError, match="the disk is full") as info:  # exit 6 with a message, not a traceback
        write_workbook(out, one_column(["a", 1.0]))
    assert info.value.exit_code == 6
    assert out.read_bytes() == b"previous plan"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xlsx"]


@abandoned_writers
def test_failure_to_replace_the_target_is_an_output_error(collect_garbage, tmp_path, monkeypatch):
    out = tmp_path / "out.xlsx"
    out.write_bytes(b"previous plan")

    def denied(src, dst):  # noqa: ANN001, ANN202
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(planner.output.write.os, "replace", denied)
    with pytest.raises(OutputError) as info:
        write_workbook(out, one_column(["a", 1.0]))
    assert info.value.exit_code == 6
    assert out.read_bytes() == b"previous plan"
    # the finished workbook is kept beside the locked target (B.7), and no temp file is left
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and names[0] == "out.locked-" + names[0][len("out.locked-"):] and names[1] == "out.xlsx"
    assert names[0].endswith(".xlsx") and str(info.value.kept).endswith(names[0])
    assert [c.value for c in read_column(tmp_path / names[0])] == ["a", 1.0]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_written_workbook_gets_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "out.xlsx"
        write_workbook(out, one_column(["a"]))
        assert out.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(old)


# --------------------------------------------------------------------------- sheet names


@pytest.mark.parametrize(("name", "expected"), [
    ("Lanes used", "Lanes used"),
    ("a:b\\c/d?e*f[g]h", "a_b_c_d_e_f_g_h"),
    ("Q3/Q4 [draft]", "Q3_Q4 _draft_"),
    ("x" * 40, "x" * 31),
    ("Scenario: CN export ban on Dy/Tb oxide", "Scenario_ CN export ban on Dy_T"),
    ("''", "Sheet"),
])
def test_safe_sheet_name(name, expected):
    cleaned = safe_sheet_name(name)
    assert cleaned == expected
    assert len(cleaned) <= 31
    assert not set(cleaned) & set(":\\/?*[]")


def test_safe_sheet_name_never_ends_with_an_apostrophe():
    cleaned = safe_sheet_name("a" * 30 + "'b")
    assert len(cleaned) <= 31
    assert not cleaned.endswith("'") and not cleaned.startswith("'")


# --------------------------------------------------------------------------- the recommendation workbook


@pytest.fixture(scope="module")
def reference_plan(tmp_path_factory):  # noqa: ANN001, ANN201
    result = plan(load(REFERENCE))
    out = tmp_path_factory.mktemp("rec") / "plan.xlsx"
    write_workbook(out, recommendation_tables(result))
    return result, out


def test_recommendation_workbook_sheets_and_frozen_headers(reference_plan):
    _, out = reference_plan
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == SHEETS
    for name in TABLE_SHEETS:
        ws = wb[name]
        assert ws.freeze_panes == "A2", name
        assert ws["A1"].value and ws["A1"].font.b, f"{name}: no bold header above the frozen pane"


def test_summary_header_is_frozen(reference_plan):
    _, out = reference_plan
    ws = openpyxl.load_workbook(out)["Summary"]
    assert ws["A4"].value == "Item"  # two title lines, a blank line, then the header
    assert ws.freeze_panes == "A5"


def test_summary_total_equals_the_plan_total(reference_plan):
    result, out = reference_plan
    ws = openpyxl.load_workbook(out)["Summary"]
    rows = {r[0].value: r[1].value for r in ws.iter_rows(min_row=5) if r[0].value}
    assert rows["Total cost"] == pytest.approx(result.summary["total_cost_usd"], abs=0.005)
    assert rows["Total cost"] == pytest.approx(result.to_json()["total_cost_usd"], abs=0.005)
    assert isinstance(rows["Total cost"], float | int)


def test_recommendation_workbook_has_no_formulas(reference_plan):
    _, out = reference_plan
    wb = openpyxl.load_workbook(out)
    kinds = {c.data_type for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None}
    assert kinds <= {"s", "n"}, kinds


def test_formula_named_site_survives_as_text(tmp_path):
    sheets = good()
    sheets["Sites"][1][1] = EVIL  # MINE_AU's name
    sheets["Sites"][1][2] = EVIL  # and its company
    sheets["Sites"][1][5] = "candidate"  # so that its name is listed on the Candidates sheet
    sheets["Sites"][1][6] = 1000
    src = write_xlsx(tmp_path / "in.xlsx", sheets)
    inputs = load(src)
    assert inputs.sites.set_index("site_id").at["MINE_AU", "name"] == EVIL
    result = plan(inputs)
    out = tmp_path / "plan.xlsx"
    write_workbook(out, recommendation_tables(result))

    wb = openpyxl.load_workbook(out)
    hits = [(ws.title, c.coordinate, c.data_type) for ws in wb.worksheets for row in ws.iter_rows() for c in row
            if c.value == EVIL]
    assert {t for t, _, _ in hits} >= {"Candidates", "Sites", "Sourcing"}, hits
    assert all(dt == "s" for _, _, dt in hits), hits
    assert not [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.data_type == "f"]


# --------------------------------------------------------------------------- any text round-trips

def expected_read_back(text: str) -> str | None:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = CONTROL.sub("\ufffd", text)
    return text or None  # an empty string is an empty cell


ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ANY_TEXT)
@example(text="")
@example(text="=cmd|' /C calc'!A0")
@example(text="\x00\x01\x1f bell\x07")
@example(text="\n leading newline")
@example(text="  spaces  ")
@example(text="_x0041_ escaped-looking")
@example(text="\u2028\x85\x7f")
@example(text="cr\r\nlf \r and \ufffe\uffff")
def test_any_text_round_trips(text):
    with tempfile.TemporaryDirectory(prefix="planner-write-prop-") as folder:
        out = Path(folder) / "prop.xlsx"
        warnings = write_workbook(out, one_column([text]))
        (cell,) = read_column(out)
        assert cell.value == expected_read_back(text)
        if cell.value is not None:
            assert cell.data_type == "s"
        assert bool(warnings) == bool(CONTROL.search(text) or "\r" in text)
        assert leftovers(Path(folder)) == []


def test_noncharacters_do_not_corrupt_the_workbook(tmp_path):
    out = tmp_path / "out.xlsx"
    write_workbook(out, one_column(["Evil\uffffCo"]))
    (cell,) = read_column(out)
    assert cell.value in ("Evil\ufffdCo", "EvilCo", "Evil\uffffCo")


def test_carriage_return_round_trips(tmp_path):
    out = tmp_path / "out.xlsx"
    warnings = write_workbook(out, one_column(["line one\r\nline two"]))
    (cell,) = read_column(out)
    assert cell.value == "line one\r\nline two" or warnings


def test_a_wide_table_prints_at_a_readable_scale_with_its_first_column_repeated(tmp_path):
    # A batch comparison has 28 columns: fitted to one page wide it printed too small to read (issue 15).
    from planner.output.write import PAGE_WIDTH_CHARS, PRINT_SCALE, Column, Table, write_workbook  # noqa: PLC0415

    wide = Table("Wide", [Column(f"column {i}", 20) for i in range(30)], [[f"v{i}" for i in range(30)]])
    narrow = Table("Narrow", [Column("a", 20), Column("b", 20)], [["x", "y"]])
    assert 30 * 20 > PAGE_WIDTH_CHARS
    write_workbook(tmp_path / "w.xlsx", [wide, narrow])
    wb = openpyxl.load_workbook(tmp_path / "w.xlsx")
    ws = wb["Wide"]
    assert not ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.scale == PRINT_SCALE
    assert ws.print_title_cols == "$A:$A"
    assert wb["Narrow"].sheet_properties.pageSetUpPr.fitToPage and wb["Narrow"].page_setup.fitToWidth == 1


def test_shares_stacked_to_100_percent_have_an_axis_that_ends_at_100_percent(tmp_path):
    from planner.output.write import Chart, Column, Table, write_workbook  # noqa: PLC0415

    t = Table("S", [Column("stage"), Column("CN"), Column("AU")], [["magnet", 0.7, 0.3], ["metal", 0.9, 0.1]],
              charts=[Chart("bar", "shares", x=0, ys=[1, 2], stacked=True, y_format="0%", y_max=1.0)])
    write_workbook(tmp_path / "s.xlsx", [t])
    with __import__("zipfile").ZipFile(tmp_path / "s.xlsx") as z:
        xml = z.read(next(n for n in z.namelist() if n.startswith("xl/charts/chart"))).decode()
    assert re.search(r'<(c:)?max val="1(\.0)?"', xml) and re.search(r'<(c:)?min val="0(\.0)?"', xml)


def test_a_workbook_carries_no_wall_clock_time(tmp_path):
    """The same tables give the same bytes whenever they are written: the zip entries and the document's
    created/modified properties carry a fixed date, not the clock's (openpyxl's save() stamps the clock)."""
    import datetime  # noqa: PLC0415
    import zipfile  # noqa: PLC0415

    tables = [Table("Plan", [Column("site"), Column("tonnes")], [["REF_B", 12.5]])]
    write_workbook(tmp_path / "a.xlsx", tables)
    with zipfile.ZipFile(tmp_path / "a.xlsx") as z:
        assert {i.date_time for i in z.infolist()} == {planner.output.write.ZIP_TIME}
    props = openpyxl.load_workbook(tmp_path / "a.xlsx").properties
    assert props.created == props.modified == datetime.datetime(*planner.output.write.ZIP_TIME)
    write_workbook(tmp_path / "b.xlsx", tables)
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
