"""The fast .xlsx reader (python-calamine) gives exactly the RawBook of the reference reader (openpyxl).

A differential test: every workbook here is read twice, ``read_input(path, engine="openpyxl")`` and
``read_input(path, engine="calamine")``, and the two results must be identical: the same sheets in the same
order, hidden flags, headers, Excel row numbers, and for every cell the same kind and a value that compares
equal and has the same type (int/float/str/bool), or the same InputError message. Workbooks:

* the bundled ``inputs/*.xlsx`` and a plan written by ``planner solve``;
* every case of the bad-input catalogue (tests/test_bad_inputs.py), hostile bytes included, and random
  damage to its valid workbook (the mutations of tests/test_fuzz.py, with extra awkward text);
* a workbook built here with openpyxl: error cells of every kind next to text cells holding the same
  characters, dates, booleans, whitespace-only text, "NA", leading and middle blank rows, hidden rows,
  hidden and very hidden sheets, formulas without a saved value (first row, last row, far column), very
  long and unicode text, a chartsheet;
* workbooks written byte by byte for what openpyxl cannot write: formulas with saved values (number,
  text, error, boolean, shared), shared strings, rich text, ``_x000D_`` escapes, text without
  ``xml:space="preserve"``, cells and rows without ``r``, a stale ``<dimension>``, odd attribute quoting,
  error codes calamine does not know, namespace prefixes, date formats, DTDs.

Where the fast path must hand a sheet to openpyxl (dates, text calamine reads differently, ...), the test
also checks which reader produced each sheet (``RawSheet.engine``), so that a silent fallback cannot hide
a broken fast path.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
import tempfile
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import planner.input.read  # noqa: F401 - the tests below patch the module as planner.input.read
from planner.cli import main
from planner.errors import InputError
from planner.input import read as reader
from planner.input.read import BOOL, DATE, EMPTY, ERROR, FORMULA, NUMBER, TEXT, read_input
from planner.input.validate import load
from tests.test_bad_inputs import CASES, ExcelError, Formula, valid, write_xlsx
from tests.test_fuzz import MUTATION, apply
from tests.test_validate import assert_same_inputs

pytest.importorskip("python_calamine")

REPO = Path(__file__).resolve().parents[1]
ERROR_CODES = ["#DIV/0!", "#N/A", "#REF!", "#VALUE!", "#NAME?", "#NUM!", "#NULL!"]


# --------------------------------------------------------------------------- the comparison


def _value(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    return value


def snapshot(book: reader.RawBook, types: bool = True) -> dict:
    """Everything a RawBook says, comparable with == (NaN made equal to itself; with the value types)."""
    return {
        name: {
            "hidden": s.hidden,
            "hidden_rows": s.hidden_rows,
            "headers": s.headers,
            "rows": [(r, [(c.kind, _value(c.value), type(c.value).__name__ if types else "") for c in cells])
                     for r, cells in s.rows],
        }
        for name, s in book.sheets.items()
    } | {"_order": list(book.sheets), "_kind": book.kind}


def read(path: Path, engine: str, max_rows: int = reader.MAX_ROWS) -> reader.RawBook | str:
    try:
        return read_input(path, max_rows, engine=engine)
    except InputError as exc:
        return f"InputError: {exc.message}"


def read_both(path: Path, max_rows: int = reader.MAX_ROWS, types: bool = True) -> reader.RawBook | str:
    """Read with both engines, assert the same result, return the fast path's."""
    ref = read(path, "openpyxl", max_rows)
    fast = read(path, "calamine", max_rows)
    if isinstance(ref, str) or isinstance(fast, str):
        assert fast == ref
        return fast
    assert snapshot(fast, types) == snapshot(ref, types)
    if types:
        assert fast == ref or _has_nan(ref)
    assert all(s.engine == "openpyxl" for s in ref.sheets.values())
    return fast


def _has_nan(book: reader.RawBook) -> bool:
    return any(isinstance(c.value, float) and math.isnan(c.value)
               for s in book.sheets.values() for _, cells in s.rows for c in cells)


def engines(book: reader.RawBook) -> dict[str, str]:
    return {name: s.engine for name, s in book.sheets.items()}


def cells(book: reader.RawBook, sheet: str) -> dict[str, tuple[str, object]]:
    """Non-blank cells of a sheet by Excel address (header row included), as (kind, value)."""
    from planner.errors import column_letter  # noqa: PLC0415

    s = book.sheets[sheet]
    out = {}
    for r, row in [(None, s.headers), *s.rows]:
        for i, c in enumerate(row):
            if r is None:
                if c:
                    out[f"header {column_letter(i)}"] = (TEXT, c)
            elif c.kind != EMPTY:
                out[f"{column_letter(i)}{r}"] = (c.kind, c.value)
    return out


# --------------------------------------------------------------------------- a workbook written byte by byte

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
STYLES = (  # cell formats: 0 General, 1 yyyy-mm-dd (custom, a date), 2 "0.00" (built-in 2, a number)
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><styleSheet {NS}>'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="1"><fill><patternFill patternType="none"/></fill></fills><borders count="1"><border/></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)


def raw_xlsx(path: Path, sheets: dict[str, str], shared: list[str] | None = None, states: dict[str, str] | None = None,
             styles: str = STYLES, whole: dict[str, str] | None = None) -> Path:
    """An .xlsx from XML text: ``sheets`` maps a name to the inside of <sheetData> (or, in ``whole``, to the
    complete sheet XML); ``shared``: the inside of each <si> of the shared strings."""
    states = states or {}
    whole = whole or {}
    names = list(sheets) + [n for n in whole if n not in sheets]
    ct = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/xl/workbook.xml" '
          'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
          '<Override PartName="/xl/styles.xml" '
          'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>']
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    rels = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rIdS" Type="{rel}/styles" Target="styles.xml"/>']
    entries, files = [], {}
    for i, name in enumerate(names, start=1):
        ct.append(f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
                  'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>')
        rels.append(f'<Relationship Id="rId{i}" Type="{rel}/worksheet" Target="worksheets/sheet{i}.xml"/>')
        state = f' state="{states[name]}"' if name in states else ""
        entries.append(f'<sheet name="{name}" sheetId="{i}"{state} r:id="rId{i}"/>')
        files[f"xl/worksheets/sheet{i}.xml"] = whole.get(name) or (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet {NS}>'
            f"<sheetData>{sheets[name]}</sheetData></worksheet>")
    if shared is not None:
        ct.append('<Override PartName="/xl/sharedStrings.xml" '
                  'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
        rels.append(f'<Relationship Id="rIdSS" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>')
        files["xl/sharedStrings.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst {NS} count="{len(shared)}" '
            f'uniqueCount="{len(shared)}">' + "".join(f"<si>{s}</si>" for s in shared) + "</sst>")
    files["[Content_Types].xml"] = "".join(ct) + "</Types>"
    files["_rels/.rels"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    files["xl/workbook.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook {NS} xmlns:r="{rel}">'
        f'<sheets>{"".join(entries)}</sheets></workbook>')
    files["xl/_rels/workbook.xml.rels"] = "".join(rels) + "</Relationships>"
    files["xl/styles.xml"] = styles
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text.encode("utf-8"))
    return path


def row(r: int, *cells: str) -> str:
    return f'<row r="{r}">{"".join(cells)}</row>'


def text(ref: str, value: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'


def num(ref: str, value: str, style: int | None = None) -> str:
    s = f' s="{style}"' if style is not None else ""
    return f'<c r="{ref}"{s}><v>{value}</v></c>'


# --------------------------------------------------------------------------- the bundled workbooks


@pytest.mark.parametrize("path", sorted((REPO / "inputs").glob("*.xlsx")), ids=lambda p: p.name)
def test_bundled_inputs_read_the_same(path: Path) -> None:
    book = read_both(path)
    assert set(engines(book).values()) == {"calamine"}


def test_a_written_plan_reads_the_same(tmp_path: Path) -> None:
    out = tmp_path / "plan.xlsx"
    result = CliRunner().invoke(main, ["solve", str(REPO / "inputs" / "rare_earth_magnets.xlsx"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    book = read_both(out)
    assert len(book.sheets) > 3


def test_load_gives_the_same_inputs_with_either_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    src = REPO / "inputs" / "rare_earth_magnets.xlsx"
    monkeypatch.setattr(reader, "DEFAULT_ENGINE", "openpyxl")
    ref = load(src)
    monkeypatch.setattr(reader, "DEFAULT_ENGINE", "calamine")
    assert_same_inputs(load(src), ref)


# --------------------------------------------------------------------------- the bad-input catalogue

BUILT = [c for c in CASES if c.target is None]


@pytest.mark.parametrize("case", BUILT, ids=[c.id for c in BUILT])
def test_bad_input_catalogue_reads_the_same(case, tmp_path: Path) -> None:  # noqa: ANN001
    sheets = valid()
    if case.mutate:
        case.mutate(sheets)
    src = write_xlsx(tmp_path / "input.xlsx", sheets, merged=case.merged, hidden=case.hidden)
    if case.raw:
        src.write_bytes(case.raw(src.read_bytes()))
    max_rows = int(case.args[case.args.index("--max-rows") + 1]) if "--max-rows" in case.args else reader.MAX_ROWS
    book = read_both(src, max_rows)
    if case.id.startswith("error_"):  # error cells are read on the fast path, not handed to openpyxl
        assert set(engines(book).values()) == {"calamine"}


def test_error_cells_are_errors_and_text_twins_are_text(tmp_path: Path) -> None:
    sheets = valid()
    sheets["Notes"] = [["error", "text"], *[[ExcelError(code), code] for code in ERROR_CODES]]
    book = read_both(write_xlsx(tmp_path / "e.xlsx", sheets))
    assert engines(book)["Notes"] == "calamine"
    got = cells(book, "Notes")
    for r, code in enumerate(ERROR_CODES, start=2):
        assert got[f"A{r}"] == (ERROR, code)
        assert got[f"B{r}"] == (TEXT, code)


def test_unsaved_formulas_and_entities_together_are_refused_the_same(tmp_path: Path) -> None:
    from tests.test_bad_inputs import entity_bomb  # noqa: PLC0415

    sheets = valid()
    sheets["Supply"][1][2] = Formula("=1+1")
    src = write_xlsx(tmp_path / "in.xlsx", sheets)
    src.write_bytes(entity_bomb(src.read_bytes()))
    assert read_both(src) == f"InputError: {src} contains XML entity declarations (never written by Excel); " \
                             "refusing to read it"


# --------------------------------------------------------------------------- a workbook built with openpyxl

LONG = "long " * 6553  # 32,765 characters, near Excel's cell limit
UNICODE = "Zürich – 東京 – 😀 – עברית – e\u0301 – \u00a0x\u00a0"


def built_workbook(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Cells"
    # rows 1-2 blank; header in row 3 from column B; data below with blank rows in the middle
    ws["B3"], ws["C3"], ws["D3"], ws["E3"] = "kind", "value", "twin", "far"
    r = 4
    for code in ERROR_CODES:
        ws.cell(r, 2, "error")
        ws.cell(r, 3).value = code
        ws.cell(r, 3).data_type = "e"
        ws.cell(r, 4).value = code
        ws.cell(r, 4).data_type = "s"
        r += 1
    r += 2  # two blank rows
    values = [True, False, 0, 1, -1, 0.5, 1.0, 2.0, -0.0, 1e-7, 1e15, 1e16, 1e19, 1e300, -1e300, 123456789012345,
              2**53 - 1, 0.1 + 0.2, " ", "\t", "  \n ", "\u00a0", "", " x ", "x  ", "NA", "None", "null", "nan", "inf",
              "=1+1", "#REF!", "00123", "1,000", "60%", LONG, UNICODE, "a\nb", "tab\there", "<&>\"'"]
    for v in values:
        ws.cell(r, 2, type(v).__name__)
        ws.cell(r, 3).value = v
        if isinstance(v, str):
            ws.cell(r, 3).data_type = "s"
        r += 1
    ws.row_dimensions[5].hidden = True
    ws.row_dimensions[r - 1].hidden = True
    ws.cell(r + 3, 9, "far away")  # a lone cell after blank rows, far to the right
    ws.cell(2, 7).value = 0  # above the header: becomes the header row
    # formulas without a saved value: in the data, beyond the last row and beyond the last column
    ws["F5"] = "=1+1"
    ws.cell(r + 10, 2).value = "=SUM(A1:A3)"
    ws.cell(4, 30).value = "=NOW()"
    hidden = wb.create_sheet("Hidden")
    hidden.append(["a", "b"])
    hidden.append([1, "x"])
    hidden.sheet_state = "hidden"
    very = wb.create_sheet("VeryHidden")
    very.append(["only a header"])
    very.sheet_state = "veryHidden"
    wb.create_sheet("Empty")
    first = wb.create_sheet("FormulaFirst")  # an unsaved formula in the first used row: it is the header
    first["C2"] = "=A1"
    first["B4"] = "data"
    odd = wb.create_sheet("R&D – ü 'x'")  # a sheet name with XML entities and quotes
    odd.append(["h"])
    odd.append([1])
    offset = wb.create_sheet("Offset")
    offset["D5"], offset["E5"] = "h1", "h2"
    offset["D6"], offset["E7"] = 1, 2.5
    dates = wb.create_sheet("Dates")
    dates.append(["when", "n"])
    for v in [dt.datetime(2024, 1, 31, 12, 30), dt.date(2024, 2, 29), dt.time(6, 15), dt.datetime(1900, 1, 1),
              dt.timedelta(days=1, hours=6)]:
        dates.append([v, 1])
    big = wb.create_sheet("BigNumbers")
    big.append(["n"])
    big.append([2**53 + 2])  # written with 16 digits: openpyxl reads an exact int
    big.append([9999999999999998])
    chart = wb.create_chartsheet("Chart")
    from openpyxl.chart import BarChart, Reference  # noqa: PLC0415

    bar = BarChart()
    bar.add_data(Reference(hidden, min_col=1, min_row=1, max_row=2))
    chart.add_chart(bar)
    wb.save(path)
    return path


def test_built_workbook_reads_the_same(tmp_path: Path) -> None:
    book = read_both(built_workbook(tmp_path / "built.xlsx"))
    assert list(book.sheets) == ["Cells", "Hidden", "VeryHidden", "Empty", "FormulaFirst", "R&D – ü 'x'", "Offset",
                                 "Dates", "BigNumbers"]  # the chartsheet is no sheet of cells
    assert engines(book) == {"Cells": "calamine", "Hidden": "calamine", "VeryHidden": "calamine", "Empty": "calamine",
                             "FormulaFirst": "calamine", "R&D – ü 'x'": "calamine", "Offset": "calamine",
                             "Dates": "openpyxl", "BigNumbers": "openpyxl"}
    assert [s.hidden for s in book.sheets.values()] == [False, True, True, False, False, False, False, False, False]
    got = cells(book, "Cells")
    s = book.sheets["Cells"]
    assert s.headers[:7] == ["", "", "", "", "", "", "0"]  # G2 = 0 is the first non-blank row
    rows = [r for r, _ in s.rows]
    assert rows[0] == 3 and 11 not in rows and 12 not in rows  # Excel row numbers, blank rows skipped
    assert 5 in rows  # a hidden row is read like a visible one
    assert got["C4"] == (ERROR, "#DIV/0!") and got["D4"] == (TEXT, "#DIV/0!")
    assert got["F5"] == (FORMULA, None) and got["AD4"] == (FORMULA, None)
    assert got["C13"] == (BOOL, True) and got["C14"] == (BOOL, False)  # after two blank rows
    assert got["C16"] == (NUMBER, 1) and type(got["C16"][1]) is int  # True and 1 stay apart
    assert got["C18"] == (NUMBER, 0.5) and got["C21"] == (NUMBER, 0)  # -0.0
    assert "C31" not in got and "C35" not in got and got["C36"] == (TEXT, " x ")  # blanks; " x " keeps its own
    assert (TEXT, "NA") in got.values() and (TEXT, LONG) in got.values() and (TEXT, UNICODE) in got.values()
    assert [c for c in got.values() if c[0] == DATE] == []
    assert book.sheets["FormulaFirst"].headers == ["", "", "None"]  # as the openpyxl reader has always done
    assert book.sheets["Offset"].rows == [(6, [reader.Cell(None, EMPTY)] * 3 + [reader.Cell(1, NUMBER)]),
                                          (7, [reader.Cell(None, EMPTY)] * 4 + [reader.Cell(2.5, NUMBER)])]
    assert (DATE, dt.datetime(2024, 1, 31, 12, 30)) in cells(book, "Dates").values()


@pytest.mark.parametrize("max_rows", [1, 5, 60])
def test_row_limit_is_the_same(tmp_path: Path, max_rows: int) -> None:
    src = built_workbook(tmp_path / "built.xlsx")
    result = read_both(src, max_rows)
    if max_rows < 60:
        assert result == f"InputError: Cells has more than {max_rows:,} data rows (limit: --max-rows {max_rows})"


def test_xlsxwriter_workbook_reads_the_same(tmp_path: Path) -> None:
    """xlsxwriter writes like Excel: shared strings, formulas with saved results, _x000D_ for a carriage return."""
    xlsxwriter = pytest.importorskip("xlsxwriter")
    path = tmp_path / "xw.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    bold, date = wb.add_format({"bold": True}), wb.add_format({"num_format": "yyyy-mm-dd"})
    ws = wb.add_worksheet("Data & more")
    ws.write_row("B3", ["site_id", "value", "twin"])
    for r, code in enumerate(ERROR_CODES, start=4):
        ws.write_formula(r - 1, 2, "=1/0" if code == "#DIV/0!" else "=NA()", None, code)
        ws.write_string(r - 1, 3, code)
        ws.write_string(r - 1, 1, f"S{r}")
    ws.write_formula("C12", '="a"&"b"', None, "ab")
    ws.write_formula("C13", "=1+1", None, 2)
    ws.write_formula("C14", "=TRUE()", None, True)
    ws.write_formula("C15", "=1+1")  # xlsxwriter saves 0 as the result
    ws.write_row("B17", [" x ", "   ", "NA", True, False, 0, 1, 0.5, -1e-7, 1e300, UNICODE, LONG])
    ws.write_rich_string("B18", "a ", bold, "bold", " c")
    ws.set_row(16, None, None, {"hidden": True})
    hidden = wb.add_worksheet("Hidden")
    hidden.write_row(0, 0, ["a", "b"])
    hidden.hide()
    dates = wb.add_worksheet("Dates")
    dates.write_row(0, 0, ["when"])
    dates.write_datetime(1, 0, dt.datetime(2024, 1, 2), date)
    crlf = wb.add_worksheet("CRLF")
    crlf.write_row(0, 0, ["note"])
    crlf.write_string(1, 0, "line 1\r\nline 2")
    wb.close()
    book = read_both(path)
    assert engines(book) == {"Data & more": "calamine", "Hidden": "calamine", "Dates": "openpyxl", "CRLF": "openpyxl"}
    got = cells(book, "Data & more")
    assert got["C4"] == (ERROR, "#DIV/0!") and got["D4"] == (TEXT, "#DIV/0!") and got["C12"] == (TEXT, "ab")
    assert got["C14"] == (BOOL, True) and got["C15"] == (NUMBER, 0) and got["B18"] == (TEXT, "a bold c")
    assert cells(book, "CRLF")["A2"] == (TEXT, "line 1_x000D_\nline 2")  # openpyxl keeps the escape


# --------------------------------------------------------------------------- workbooks written byte by byte


def test_formulas_with_saved_values(tmp_path: Path) -> None:
    src = raw_xlsx(tmp_path / "f.xlsx", {"F": (
        row(1, text("A1", "a"), text("B1", "b"), text("C1", "c"), text("D1", "d"), text("E1", "e"), text("F1", "f"),
            text("G1", "g"))
        + row(2, '<c r="A2"><f>1+1</f><v>2</v></c>', '<c r="B2" t="str"><f>"a"&amp;"b"</f><v>ab</v></c>',
              '<c r="C2" t="e"><f>1/0</f><v>#DIV/0!</v></c>', '<c r="D2" t="b"><f>TRUE()</f><v>1</v></c>',
              '<c r="E2"><f>1+1</f></c>', '<c r="F2" t="str"><f>"#x"</f><v>#x</v></c>',
              '<c r="G2"><f t="shared" ref="G2:G3" si="0">A2*2</f><v>4</v></c>')
        + row(3, '<c r="A3" t="e"><v>#N/A</v></c>', '<c r="G3"><f t="shared" si="0"/></c>'))})
    book = read_both(src)
    assert engines(book) == {"F": "calamine"}
    assert cells(book, "F") == {
        **{f"header {c}": (TEXT, c.lower()) for c in "ABCDEFG"},
        "A2": (NUMBER, 2), "B2": (TEXT, "ab"), "C2": (ERROR, "#DIV/0!"), "D2": (BOOL, True), "E2": (FORMULA, None),
        "F2": (TEXT, "#x"), "G2": (NUMBER, 4), "A3": (ERROR, "#N/A"), "G3": (FORMULA, None),
    }


def test_error_cells_however_written(tmp_path: Path) -> None:
    odd = raw_xlsx(tmp_path / "odd.xlsx", {"E": (
        row(1, text("A1", "h"))
        + "<row r='2'><c r='A2' t = 'e'><v>#N/A</v></c><c\nr=\"B2\"\nt=\"e\"><v>#REF!</v></c>"
          '<c r="C2" s="0" t="e" ><v>#VALUE!</v></c><c r="D2" t="e"/><c r="E2" t="e"><v></v></c></row>')})
    book = read_both(odd)
    assert {k: v for k, v in cells(book, "E").items() if k[0] in "ABCDE" and k[1] == "2"} == {
        "A2": (ERROR, "#N/A"), "B2": (ERROR, "#REF!"), "C2": (ERROR, "#VALUE!")}
    no_ref = raw_xlsx(tmp_path / "noref.xlsx", {"E": '<row r="1"><c t="inlineStr"><is><t>h</t></is></c></row>'
                                                      '<row r="2"><c t="e"><v>#N/A</v></c></row>'})
    book = read_both(no_ref)
    assert engines(book) == {"E": "openpyxl"} and cells(book, "E")["A2"] == (ERROR, "#N/A")
    spill = row(1, text("A1", "h")) + row(2, '<c r="A2" t="e"><v>#SPILL!</v></c>')
    new_code = raw_xlsx(tmp_path / "spill.xlsx", {"E": spill, "Other": row(1, text("A1", "x"))})
    book = read_both(new_code)  # calamine refuses an error code it does not know: openpyxl reads that sheet
    assert engines(book) == {"E": "openpyxl", "Other": "calamine"} and cells(book, "E")["A2"] == (ERROR, "#SPILL!")


SHARED = [
    "<t>plain</t>", '<t xml:space="preserve">  kept  </t>', "<t>  lead</t>", "<t>trail  </t>", "<t>   </t>",
    "<t>a_x000D_b</t>", "<t>x005F_y</t>", '<r><t>rich</t></r><r><rPr><b/></rPr><t xml:space="preserve"> text</t></r>',
    '<t>漢字</t><rPh sb="0" eb="2"><t>カンジ</t></rPh>', "<t>a&amp;b&#10;c</t>", "<t></t>", "<t>#N/A</t>", "<t>NA</t>",
]


def test_shared_strings(tmp_path: Path) -> None:
    safe = [0, 1, 4, 7, 8, 10, 11, 12]  # read alike by both libraries
    risky = [i for i in range(len(SHARED)) if i not in safe]

    def sheet(indices: list[int]) -> str:
        return row(1, text("A1", "h")) + "".join(row(r, f'<c r="A{r}" t="s"><v>{i}</v></c>')
                                                 for r, i in enumerate(indices, start=2))

    src = raw_xlsx(tmp_path / "ss.xlsx", {"Safe": sheet(safe), "Risky": sheet(risky), "One": sheet([2])}, shared=SHARED)
    book = read_both(src)
    assert engines(book) == {"Safe": "calamine", "Risky": "openpyxl", "One": "openpyxl"}
    assert cells(book, "Risky")["A2"] == (TEXT, "  lead") and cells(book, "Risky")["A4"] == (TEXT, "a_x000D_b")
    assert cells(book, "Safe")["A8"] == (TEXT, "#N/A") and cells(book, "Safe")["A9"] == (TEXT, "NA")


def test_inline_text_calamine_reads_differently(tmp_path: Path) -> None:
    for i, t in enumerate(["<t>  lead</t>", "<t>a_x000D_b</t>", "<t>a&#32;</t>", '<t xml:space="default"> x </t>']):
        book = read_both(raw_xlsx(tmp_path / f"t{i}.xlsx", {"T": row(1, text("A1", "h")) + row(2, f'<c r="A2" '
                                                                                          f't="inlineStr"><is>{t}</is></c>')}))
        assert engines(book) == {"T": "openpyxl"}, t
    book = read_both(raw_xlsx(tmp_path / "ok.xlsx", {"T": row(1, text("A1", "h")) + row(2, text("A2", "   "))
                                                     + row(3, text("A3", "in  side")) + row(4, text("A4", "x"))}))
    assert engines(book) == {"T": "calamine"}  # blank-only text is blank for both; inner blanks are kept


def test_numbers_written_oddly(tmp_path: Path) -> None:
    head = row(1, text("A1", "h"))
    # openpyxl keeps every digit of an integer, reads "3.0" and "1E3" as floats, and Python's int() takes
    # " 3" and "1_000": all read by openpyxl
    for i, v in enumerate([" 3", "3 ", "1_000", "12345678901234567891", "-9007199254740993", "9007199254740992",
                           "3.0", "1E3", "2.9999999999999999"]):
        book = read_both(raw_xlsx(tmp_path / f"n{i}.xlsx", {"N": head + row(2, num("A2", v))}))
        assert engines(book) == {"N": "openpyxl"}, v
    book = read_both(raw_xlsx(tmp_path / "f.xlsx", {"N": head + row(2, num("A2", "0.25"), num("B2", "-0"),
                                                                     num("C2", "1e-07"), num("D2", "1e+16"),
                                                                     num("E2", "9007199254740991"))}))
    assert engines(book) == {"N": "calamine"}


def test_cells_and_rows_without_r_and_a_stale_dimension(tmp_path: Path) -> None:
    body = ('<row><c t="inlineStr"><is><t>h</t></is></c><c><v>2</v></c></row>'
            '<row><c><v>3</v></c><c/><c><v>4</v></c></row>'
            '<row r="7"><c><v>7</v></c><c r="D7"><v>8</v></c><c><v>9</v></c></row><row><c><v>10</v></c></row>')
    stale = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet {NS}><dimension ref="A1:A1"/><sheetData>'
             + row(1, text("A1", "h")) + row(2, num("A2", "1")) + row(9, num("C9", "2")) + "</sheetData></worksheet>")
    book = read_both(raw_xlsx(tmp_path / "r.xlsx", {"NoR": body, "Stale": ""}, whole={"Stale": stale}))
    assert engines(book) == {"NoR": "calamine", "Stale": "calamine"}
    assert [r for r, _ in book.sheets["NoR"].rows] == [2, 7, 8]
    assert [r for r, _ in book.sheets["Stale"].rows] == [2, 9]


@pytest.mark.filterwarnings("ignore:Cell A3 is marked as a date:UserWarning")
def test_date_formats_and_iso_dates(tmp_path: Path) -> None:
    head = row(1, text("A1", "h"), text("B1", "n"))
    book = read_both(raw_xlsx(tmp_path / "d.xlsx", {
        "Styled": head + row(2, num("A2", "-50", 1), num("B2", "400", 1)) + row(3, num("A3", "3000000", 1)),
        "Iso": head + row(2, '<c r="A2" t="d"><v>2024-01-02T03:04:05</v></c>'),
        "Plain": head + row(2, num("A2", "45000.5", 2), num("B2", "7")),
    }))
    assert engines(book) == {"Styled": "openpyxl", "Iso": "openpyxl", "Plain": "calamine"}
    assert cells(book, "Styled")["A3"] == (ERROR, "#VALUE!")  # a date format on a serial beyond the calendar


def test_namespace_prefixes_go_to_openpyxl(tmp_path: Path) -> None:
    prefixed = ('<?xml version="1.0" encoding="UTF-8"?><x:worksheet xmlns:x="http://schemas.openxmlformats.org/'
                'spreadsheetml/2006/main"><x:sheetData><x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>h</x:t>'
                '</x:is></x:c></x:row><x:row r="2"><x:c r="A2" t="e"><x:v>#N/A</x:v></x:c><x:c r="B2"><x:f>1+1</x:f>'
                "</x:c></x:row></x:sheetData></x:worksheet>")
    other = row(1, text("A1", "h")) + row(2, '<c r="A2"><f>1+1</f></c>')  # a plain <f: the formula pass is due
    book = read_both(raw_xlsx(tmp_path / "p.xlsx", {"P": "", "Q": other}, whole={"P": prefixed}))
    assert engines(book) == {"P": "openpyxl", "Q": "calamine"}
    assert cells(book, "P")["A2"] == (ERROR, "#N/A") and cells(book, "P")["B2"] == (FORMULA, None)
    assert cells(book, "Q")["A2"] == (FORMULA, None)


def test_more_row_elements_than_the_limit_go_to_openpyxl(tmp_path: Path) -> None:
    body = row(1, text("A1", "h")) + row(2, num("A2", "1")) + "".join(f'<row r="{r}"/>' for r in range(3, 10))
    src = raw_xlsx(tmp_path / "rows.xlsx", {"R": body})
    book = read_both(src, max_rows=2)  # 9 <row> elements, one data row: no error
    assert engines(book) == {"R": "openpyxl"}
    assert engines(read_both(src, max_rows=100)) == {"R": "calamine"}


def test_dtd_anywhere_is_refused_the_same(tmp_path: Path) -> None:
    dtd = '<!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">]>'
    src = raw_xlsx(tmp_path / "dtd.xlsx", {"S": row(1, '<c r="A1" t="s"><v>0</v></c>')}, shared=["<t>x</t>"])
    data = {}
    with zipfile.ZipFile(src) as zf:
        for name in zf.namelist():
            data[name] = zf.read(name)
    data["xl/sharedStrings.xml"] = data["xl/sharedStrings.xml"].replace(b"?><sst", b"?>" + dtd.encode() + b"<sst")
    data["xl/sharedStrings.xml"] = data["xl/sharedStrings.xml"].replace(b"<t>x</t>", b"<t>&a;</t>")
    with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in data.items():
            zf.writestr(name, content)
    assert read_both(src).startswith(f"InputError: {src} ")


# --------------------------------------------------------------------------- random damage to the valid workbook

AWKWARD = st.text(st.sampled_from([" ", "\t", "\n", "\u00a0", "a", "Z", "_", "x", "0", "D", "#", "&", "<", "é", "東",
                                   "😀", "\u2028", "\u3000"]), max_size=10)
DAMAGE = st.tuples(st.sampled_from(["cell"]), st.sampled_from(list(valid())), st.integers(0, 8), st.integers(0, 9),
                   AWKWARD | st.sampled_from(["_x000D_", "a_x0041_b", "x005F_", " #N/A", "#N/A "]), st.just("Sheet1"))


# A few examples in the default run, many more in the slow runs (pytest -m slow, run by CI).
PROPS_QUICK = settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
PROPS_LONG = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
DAMAGES = st.lists(MUTATION | DAMAGE, min_size=1, max_size=6)


def _damaged_reads_the_same(mutations: list) -> None:  # noqa: ANN001
    sheets = valid()
    apply(sheets, mutations)
    with tempfile.TemporaryDirectory() as tmp:
        read_both(write_xlsx(Path(tmp) / "input.xlsx", sheets))


@PROPS_QUICK
@given(mutations=DAMAGES)
def test_random_damage_reads_the_same(mutations: list) -> None:  # noqa: ANN001
    _damaged_reads_the_same(mutations)


@pytest.mark.slow
@PROPS_LONG
@given(mutations=DAMAGES)
def test_random_damage_reads_the_same_many(mutations: list) -> None:  # noqa: ANN001
    _damaged_reads_the_same(mutations)


# --------------------------------------------------------------------------- random sheet XML

PIECES = ["a", "Z", " ", "  ", "\t", "\n", "&amp;", "&lt;", "&#10;", "&#32;", "_x000D_", "_x005F_x0041_", "x005F_",
          "é", "東", "#", "\u00a0", "N/A", "0", "1"]
XML_TEXT = st.lists(st.sampled_from(PIECES), max_size=5).map("".join)
T = st.tuples(XML_TEXT, st.booleans()).map(
    lambda p: f'<t xml:space="preserve">{p[0]}</t>' if p[1] else f"<t>{p[0]}</t>")
STRING = T | st.lists(T, min_size=1, max_size=3).map(lambda ts: "".join(f"<r>{t}</r>" for t in ts))
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
NUMBER_TEXT = st.one_of(
    st.integers(-(10**20), 10**20).map(str), FLOATS.map(repr), FLOATS.map(lambda f: f"{f:.3E}"),
    FLOATS.map(lambda f: f"{f:.17g}"),
    st.sampled_from(["3.0", "1E3", "-0", "0005", "+5", "3.", "1e-07", "2.9999999999999999", " 3", "1_000", "0.5"]),
)
ATTR_T = st.sampled_from(['t="{}"', "t='{}'", 't = "{}"'])
CELL = st.one_of(
    st.tuples(st.just("n"), NUMBER_TEXT, st.sampled_from(["", ' s="2"', ' t="n"', ' s="1"'])),
    st.tuples(st.just("s"), st.integers(0, 7), st.just("")),
    st.tuples(st.just("inline"), STRING, st.just("")),
    st.tuples(st.just("str"), XML_TEXT, st.just("")),
    st.tuples(st.just("b"), st.sampled_from(["0", "1"]), st.just("")),
    st.tuples(st.just("e"), st.sampled_from([*ERROR_CODES, "#SPILL!", "#GETTING_DATA"]), ATTR_T),
    st.tuples(st.just("f"), st.sampled_from(["", "<v>7</v>", '<v>x</v>" t="str', "<v />"]), st.just("")),
    st.tuples(st.just("blank"), st.just(""), st.just("")),
)
ROWS = st.lists(st.tuples(st.integers(1, 3), st.booleans(),
                          st.lists(st.tuples(st.integers(1, 3), st.booleans(), CELL), max_size=6)), max_size=8)


def cell_xml(ref: str, cell: tuple[str, object, str]) -> str:
    kind, value, extra = cell
    if kind == "n":
        return f"<c{ref}{extra}><v>{value}</v></c>"
    if kind == "s":
        return f'<c{ref} t="s"><v>{value}</v></c>'
    if kind == "inline":
        return f'<c{ref} t="inlineStr"><is>{value}</is></c>'
    if kind == "str":
        return f'<c{ref} t="str"><f>A1</f><v>{value}</v></c>'
    if kind == "b":
        return f'<c{ref} t="b"><v>{value}</v></c>'
    if kind == "e":
        return f"<c{ref} {extra.format('e')}><v>{value}</v></c>"
    if kind == "f":
        if value.endswith("str"):  # a text result
            return f'<c{ref} t="str"><f>A1</f><v>x</v></c>'
        return f"<c{ref}><f>1+1</f>{value}</c>"
    return f'<c{ref} s="2"/>'


SHARED_STRINGS = st.lists(STRING, min_size=8, max_size=8)


@PROPS_QUICK
@given(rows=ROWS, shared=SHARED_STRINGS)
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_random_sheet_xml_reads_the_same(rows: list, shared: list[str]) -> None:  # noqa: ANN001
    _sheet_xml_reads_the_same(rows, shared)


@pytest.mark.slow
@PROPS_LONG
@given(rows=ROWS, shared=SHARED_STRINGS)
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_random_sheet_xml_reads_the_same_many(rows: list, shared: list[str]) -> None:  # noqa: ANN001
    _sheet_xml_reads_the_same(rows, shared)


def _sheet_xml_reads_the_same(rows: list, shared: list[str]) -> None:  # noqa: ANN001
    from planner.errors import column_letter  # noqa: PLC0415

    body, r = [], 0
    for gap, with_r, row_cells in rows:
        r = r + gap if with_r else r + 1  # a row without r follows the previous one
        c, xml = 0, []
        for col_gap, cell_r, cell in row_cells:
            c += col_gap if cell_r else 1
            xml.append(cell_xml(f' r="{column_letter(c - 1)}{r}"' if cell_r else "", cell))
        body.append((f'<row r="{r}">' if with_r else "<row>") + "".join(xml) + "</row>")
    with tempfile.TemporaryDirectory() as tmp:
        read_both(raw_xlsx(Path(tmp) / "x.xlsx", {"X": "".join(body), "Y": row(1, text("A1", "y"))}, shared=shared))


# --------------------------------------------------------------------------- choosing the engine



def test_engine_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_xlsx(tmp_path / "in.xlsx", valid())
    with pytest.raises(ValueError, match="unknown xlsx engine"):
        read_input(src, engine="xlrd")
    assert set(engines(read_input(src)).values()) == {"calamine"}  # auto
    monkeypatch.setattr(reader, "DEFAULT_ENGINE", "openpyxl")
    assert set(engines(read_input(src)).values()) == {"openpyxl"}
    assert set(engines(read_input(src, engine="calamine")).values()) == {"calamine"}
    monkeypatch.setattr(reader, "DEFAULT_ENGINE", "auto")
    monkeypatch.setitem(sys.modules, "python_calamine", None)  # not installed
    assert set(engines(read_input(src)).values()) == {"openpyxl"}
    with pytest.raises(InputError, match="python-calamine is not installed"):
        read_input(src, engine="calamine")
    csv_book = read_input(REPO / "inputs" / "reference", engine="calamine")  # CSV folders ignore the engine
    assert {s.engine for s in csv_book.sheets.values()} == {"csv"}


# --------------------------------------------------------------------------- issue 11: what the cells do not say


def test_hostile_catalogue_reads_the_same(tmp_path: Path) -> None:
    """Every .xlsx case of tests/test_hostile_inputs.py: merged ranges, hidden rows and columns, autoFilters,
    formulas with placeholder values under fullCalcOnLoad, sheets named alike, read alike by both readers."""
    from tests.test_hostile_inputs import CASES as HOSTILE  # noqa: PLC0415
    from tests.test_hostile_inputs import edit_zip  # noqa: PLC0415

    for case in (c for c in HOSTILE if c.folder is None):
        sheets = valid()
        if case.mutate:
            case.mutate(sheets)
        src = write_xlsx(tmp_path / f"{case.id}.xlsx", sheets, merged=case.merged)
        if case.xml:
            edit_zip(src, case.xml)
        read_both(src)


def test_recalculation_flag_and_marks(tmp_path: Path) -> None:
    head = row(1, text("A1", "h"), text("B1", "n"))
    body = (head + '<row r="2" hidden="1"><c r="A2"><f>1+1</f><v>0</v></c><c r="B2"><v>5</v></c></row>'
            + row(3, '<c r="A3"><f>1+1</f></c>', '<c r="B3" t="e"><f>1/0</f><v>#DIV/0!</v></c>'))
    whole = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet {NS}><cols><col min="2" max="3" hidden="true"/>'
             f'</cols><sheetData>{body}</sheetData><autoFilter ref="A1:B3"/><mergeCells count="1">'
             '<mergeCell ref="A5:B6"/></mergeCells></worksheet>')
    src = raw_xlsx(tmp_path / "r.xlsx", {"R": ""}, whole={"R": whole})
    book = read_both(src)
    sheet = book.sheets["R"]
    assert (sheet.merged, sheet.hidden_rows, sheet.hidden_columns, sheet.autofilter) == (
        ["A5:B6"], [2], [2, 3], "A1:B3")
    assert cells(book, "R")["A2"] == (NUMBER, 0) and cells(book, "R")["A3"] == (FORMULA, None)  # no flag
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["xl/workbook.xml"] = members["xl/workbook.xml"].replace(
        b"</workbook>", b'<calcPr calcId="191029" fullCalcOnLoad="1"/></workbook>')
    with zipfile.ZipFile(src, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    book = read_both(src)
    got = cells(book, "R")
    assert got["A2"] == (FORMULA, reader.RECALC) and got["B3"] == (FORMULA, reader.RECALC)
    assert got["A3"] == (FORMULA, None) and got["B2"] == (NUMBER, 5)  # no value at all; not a formula


def test_prefixed_formula_without_value_alone_is_found(tmp_path: Path) -> None:
    prefixed = ('<?xml version="1.0" encoding="UTF-8"?><x:worksheet xmlns:x="http://schemas.openxmlformats.org/'
                'spreadsheetml/2006/main"><x:sheetData><x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>h</x:t>'
                '</x:is></x:c></x:row><x:row r="2"><x:c r="A2"><x:f>1+1</x:f></x:c></x:row></x:sheetData>'
                "</x:worksheet>")
    book = read_both(raw_xlsx(tmp_path / "p.xlsx", {"P": ""}, whole={"P": prefixed}))
    assert cells(book, "P")["A2"] == (FORMULA, None)
