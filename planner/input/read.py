"""Read an input workbook (.xlsx) or a folder of CSV files into raw, located cells.

Nothing is interpreted here beyond the kind of each cell: numbers stay numbers,
text stays text (``NA`` is Namibia, not missing), Excel error cells are kept as
errors so validation can name them. Typing and checking happen in ``validate``.

Two readers give the same ``RawBook`` for an .xlsx, after the same safety guards:

* openpyxl (read-only, streaming): the reference, and the fallback for anything below;
* python-calamine (Rust), used by default when installed: 5-10 times faster on a
  100,000-row sheet (bench/read_bench.py). It reads the cell values; a byte scan of
  each sheet's XML (no XML parser) supplies what calamine does not report, and sends a
  sheet (or the whole book) to openpyxl wherever the two would not agree exactly:

  - error cells: calamine reads ``#N/A`` etc. as blank cells; every ``<v>#...`` in
    the sheet is traced to its ``<c>`` and, when that has ``t="e"``, patched in as an
    ERROR cell with its text; an error code calamine does not know (``#SPILL!``)
    makes calamine fail, and openpyxl reads that sheet;
  - formulas without a saved value: the same openpyxl pass as before marks them (it
    now skips sheets whose XML holds no formula element: they have none to find);
  - dates: a sheet using a cell format that openpyxl takes for a date (styles.xml,
    read with openpyxl's own code), or where calamine returns a date, time or
    duration, is read by openpyxl (the two convert serial numbers differently);
  - text calamine reads differently (blanks around text in a ``<t>`` without
    ``xml:space="preserve"``, ``_x000D_`` escapes, character references), numbers
    whose int/float type or digits would differ (``3.0``, ``1E3``, ``1_000``,
    integers of 2**53 or more), namespace prefixes, and sheets with more ``<row>``
    elements than the row limit allows (openpyxl streams and stops at the limit);
  - a DOCTYPE/ENTITY declaration anywhere in the package: the whole book goes to
    openpyxl, whose defusedxml parser refuses it with the usual message;
  - sheet names, order and hidden state come from openpyxl's own workbook parser
    in both paths.

What the cells alone do not say is found by the same byte scan of each sheet's XML in
both paths (``_sheet_marks``), for validation to refuse or warn about: merged ranges,
hidden rows and columns, an autoFilter. Hidden rows are read like visible ones. A
workbook whose calcPr asks Excel to recalculate every formula on open
(``fullCalcOnLoad``, as xlsxwriter and openpyxl write it) has no trustworthy saved
results: there every formula cell is RECALC, whatever value was saved beside it
(xlsxwriter saves 0).

CSV folders: one ``.csv`` file per sheet (any case of the extension); UTF-8 (with or
without a byte-order mark) or UTF-16 with its byte-order mark (Excel's "Unicode text"),
separated by commas, or by tabs or semicolons when the header line has no comma. Bytes
that are not UTF-8 (Excel's "CSV (Comma delimited)" writes the Windows code page) are
reported cell by cell, never guessed.

Cells are canonical in both paths: blank cells after the last non-blank cell of a
row are dropped (openpyxl's row length depends on formatted blank cells, calamine's
on the sheet's used range; validation treats a missing cell as blank).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
import zipfile
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from planner.errors import InputError, Issue

# Cell kinds. FORMULA: a formula whose result was never saved (a file written by a script and never
# opened in Excel): its value is unknown, which must not pass for a blank.
EMPTY, NUMBER, TEXT, BOOL, ERROR, DATE, FORMULA = "empty", "number", "text", "bool", "error", "date", "formula"

MAX_ROWS = 1_000_000  # data rows per sheet, unless --max-rows says otherwise
MAX_FILE_MB = 200
MAX_UNCOMPRESSED_MB = 2000
MAX_RATIO = 200

# Which reader reads an .xlsx: "auto" (calamine when installed, else openpyxl), "calamine" (the same,
# but an error if python-calamine is missing) or "openpyxl" (the reference reader only).
ENGINES = ("auto", "calamine", "openpyxl")
DEFAULT_ENGINE = "auto"  # used when read_input/read_xlsx get engine=None


@dataclass(frozen=True)
class Cell:
    value: object
    kind: str


@dataclass
class RawSheet:
    """A sheet as found: its header texts and data rows with their Excel row numbers."""

    name: str
    headers: list[str]
    rows: list[tuple[int, list[Cell]]] = field(default_factory=list)
    hidden: bool = False
    hidden_rows: list[int] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)  # merged ranges, "A2:A3"
    hidden_columns: list[int] = field(default_factory=list)  # 1-based
    autofilter: str = ""  # the range of an autoFilter, if the sheet has one
    # which reader produced the cells ("calamine", "openpyxl", "csv"); not part of equality
    engine: str = field(default="", compare=False, repr=False)


@dataclass
class RawBook:
    path: Path
    sheets: dict[str, RawSheet]
    kind: str  # "xlsx" or "csv"


_EMPTY = Cell(None, EMPTY)
_TRUE = Cell(True, BOOL)
_FALSE = Cell(False, BOOL)
_FORMULA = Cell(None, FORMULA)
# A formula with a saved value in a workbook flagged for recalculation on open: the value is a placeholder.
RECALC = "recalculated on open"
_RECALC = Cell(RECALC, FORMULA)


def _cell_from_value(value: object, data_type: str | None = None) -> Cell:
    if value is None:
        return _EMPTY
    if data_type == "e":
        return Cell(str(value), ERROR)
    if isinstance(value, bool):
        return Cell(value, BOOL)
    if isinstance(value, (int, float)):
        return Cell(value, NUMBER)
    if isinstance(value, str):
        if value.strip() == "":
            return _EMPTY
        return Cell(value, TEXT)
    return Cell(value, DATE)


def _trim(cells: list[Cell]) -> list[Cell]:
    """Drop blank cells after the last non-blank one (in place); an all-blank row becomes []."""
    while cells and cells[-1] is _EMPTY:  # every blank cell made here is _EMPTY
        cells.pop()
    return cells


def _guard_xlsx(path: Path) -> None:
    """Refuse files that are not a safe .xlsx before any XML parser sees them."""
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError(
            f"{path} is password-protected or in the old .xls format: open it in Excel and save it as "
            ".xlsx without a password"
        )
    if not head.startswith(b"PK"):
        raise InputError(f"{path} is not an Excel .xlsx workbook (not a zip archive)")
    size_mb = path.stat().st_size / 1e6
    if size_mb > MAX_FILE_MB:
        raise InputError(f"{path} is {size_mb:.0f} MB, above the {MAX_FILE_MB} MB limit")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except zipfile.BadZipFile as exc:
        raise InputError(f"{path} is not an Excel .xlsx workbook (damaged zip archive: {exc})") from exc
    total = sum(i.file_size for i in infos)
    if total > MAX_UNCOMPRESSED_MB * 1e6:
        raise InputError(f"{path} unpacks to {total / 1e6:.0f} MB, above the {MAX_UNCOMPRESSED_MB} MB limit")
    for info in infos:
        if info.file_size > 10e6 and info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise InputError(
                f"{path}: member {info.filename} expands {info.file_size / info.compress_size:.0f}-fold "
                "(a zip bomb?); refusing to read it"
            )


# --------------------------------------------------------------------------- openpyxl (the reference)


@contextlib.contextmanager
def _openpyxl_errors(path: Path) -> Iterator[None]:
    """Report what openpyxl raises for a damaged or hostile file (many exception types) as InputError."""
    try:
        yield
    except InputError:
        raise
    except Exception as exc:
        cause = exc.__cause__ or exc.__context__
        if "Entit" in type(cause).__name__ or "Entit" in type(exc).__name__ or "DTD" in str(exc):
            raise InputError(
                f"{path} contains XML entity declarations (never written by Excel); refusing to read it"
            ) from exc
        raise InputError(f"{path} could not be read as an .xlsx workbook: {exc}") from exc


def _formula_flags(data: bytes) -> tuple[bool, bool]:
    """(the sheet has a plain ``<f``, the sheet may hold formulas) for one member under xl/worksheets/.

    The second pass is due when any worksheet may hold a formula element (``<f``, or a
    prefixed ``<x:f``), and then reads only those sheets.
    """
    plain = b"<f" in data
    return plain, plain or re.search(rb":f[\s>/]", data) is not None


def _formula_cells(path: Path, may_have: set[str] | None = None) -> dict[str, set[tuple[int, int]]]:
    """(row, column) of every formula cell, per sheet title (a second pass, only if there are formulas).

    Excel saves a formula's last result, which the first pass reads; a formula
    whose result was never calculated reads as blank there and must be reported
    instead of being taken for an empty cell. ``may_have``: the worksheet members
    that may hold formulas, when the caller has already scanned them (the pass is
    then due if it is not empty).
    """
    import openpyxl  # noqa: PLC0415

    if may_have is None:
        may_have = set()
        due = False
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if name.startswith("xl/worksheets/"):
                    _, maybe = _formula_flags(zf.read(name))
                    due |= maybe  # a prefixed <x:f> without a value needs the pass as much as <f>
                    if maybe:
                        may_have.add(name)
        if not due:
            return {}
    if not may_have:
        return {}
    formulas: dict[str, set[tuple[int, int]]] = {}
    with _openpyxl_errors(path):
        wb = openpyxl.load_workbook(path, read_only=True, data_only=False, keep_links=False)
        try:
            for ws in wb.worksheets:
                member = getattr(ws, "_worksheet_path", None)
                if member is not None and member not in may_have:
                    continue  # no formula element in its XML: nothing to find
                ws.reset_dimensions()
                for row in ws.iter_rows():
                    for c in row:
                        if getattr(c, "data_type", None) == "f":
                            formulas.setdefault(ws.title, set()).add((c.row, c.column))
        finally:
            wb.close()
    return formulas


def _assemble(title: str, rows: Iterable[tuple[int | None, list[Cell]]], hidden: bool, max_rows: int,
              engine: str) -> RawSheet:
    """The header (first non-blank row) and data rows of a sheet from its non-blank, trimmed rows."""
    headers: list[str] = []
    data: list[tuple[int, list[Cell]]] = []
    header_row: int | None = None
    for excel_row, cells in rows:
        if header_row is None:
            header_row = excel_row or 1
            headers = ["" if c.kind == EMPTY else str(c.value) for c in cells]
            continue
        if excel_row is None:
            excel_row = header_row + len(data) + 1
        data.append((excel_row, cells))
        if len(data) > max_rows:
            raise InputError(f"{title} has more than {max_rows:,} data rows (limit: --max-rows {max_rows})")
    return RawSheet(title, headers, data, hidden=hidden, engine=engine)


def _formula_cell(cell: Cell, recalc: bool) -> Cell:
    """What a formula cell holds: its saved value, unless there is none or it is a placeholder."""
    if cell.kind == EMPTY:
        return _FORMULA
    return _RECALC if recalc else cell


def _openpyxl_sheet(ws: object, max_rows: int, unsaved: set[tuple[int, int]], recalc: bool = False) -> RawSheet:
    ws.reset_dimensions()  # a stale <dimension> must never hide rows

    def rows() -> Iterator[tuple[int | None, list[Cell]]]:
        for row in ws.iter_rows():
            cells = [_cell_from_value(c.value, getattr(c, "data_type", None)) for c in row]
            if unsaved:
                cells = [_formula_cell(cell, recalc) if (getattr(c, "row", 0), getattr(c, "column", 0)) in unsaved
                         else cell for cell, c in zip(cells, row, strict=True)]
            if _trim(cells):
                yield getattr(next((c for c in row if hasattr(c, "row")), None), "row", None), cells

    return _assemble(ws.title, rows(), ws.sheet_state != "visible", max_rows, "openpyxl")


# What a sheet's cells do not say, found by a byte scan (no XML parser) that both readers share.
_MERGE = re.compile(rb"""<(?:[\w.-]+:)?mergeCell\b[^>]*?\bref\s*=\s*["']([^"']*)["']""")
_FILTER = re.compile(rb"""<(?:[\w.-]+:)?autoFilter\b[^>]*?\bref\s*=\s*["']([^"']*)["']""")
_ROW_TAG = re.compile(rb"<(?:[\w.-]+:)?row\b([^>]*)>")
_COL_TAG = re.compile(rb"<(?:[\w.-]+:)?col\b([^>]*)>")
_FULL_CALC = re.compile(rb"""<(?:[\w.-]+:)?calcPr\b[^>]*?\bfullCalcOnLoad\s*=\s*["'](?:1|true)["']""")
_MAX_COLUMN = 16_384  # Excel's last column (XFD)


@dataclass(frozen=True)
class _Marks:
    merged: tuple[str, ...] = ()
    hidden_rows: tuple[int, ...] = ()
    hidden_columns: tuple[int, ...] = ()
    autofilter: str = ""

    def apply(self, sheet: RawSheet) -> RawSheet:
        sheet.merged = list(self.merged)
        sheet.hidden_rows = list(self.hidden_rows)
        sheet.hidden_columns = list(self.hidden_columns)
        sheet.autofilter = self.autofilter
        return sheet


def _attrs(data: bytes) -> dict[bytes, bytes]:
    return {m[1]: m[2] if m[2] is not None else m[3] for m in _ATTR.finditer(data)}


def _sheet_marks(data: bytes) -> _Marks:
    """Merged ranges, hidden rows and columns and the autoFilter of one worksheet's XML."""
    merged = tuple(m[1].decode("ascii", "replace") for m in _MERGE.finditer(data)) if b"mergeCell" in data else ()
    found = _FILTER.search(data) if b"autoFilter" in data else None
    rows: list[int] = []
    columns: list[int] = []
    if b"hidden" in data:
        r = 0
        for m in _ROW_TAG.finditer(data):
            attrs = _attrs(m[1])
            r = int(attrs[b"r"]) if attrs.get(b"r", b"").isdigit() else r + 1  # as openpyxl counts rows
            if attrs.get(b"hidden") in (b"1", b"true"):
                rows.append(r)
        for m in _COL_TAG.finditer(data):
            attrs = _attrs(m[1])
            lo, hi = attrs.get(b"min", b""), attrs.get(b"max", b"")
            if attrs.get(b"hidden") in (b"1", b"true") and lo.isdigit() and hi.isdigit():
                columns.extend(range(int(lo), min(int(hi), _MAX_COLUMN) + 1))
    return _Marks(merged, tuple(rows), tuple(sorted(set(columns))),
                  found[1].decode("ascii", "replace") if found else "")


def _recalc_on_load(zf: zipfile.ZipFile) -> bool:
    """Whether the workbook asks Excel to recalculate every formula on open (calcPr fullCalcOnLoad): then
    the values saved with formulas are placeholders (xlsxwriter saves 0), never results. Call only once
    openpyxl's defused parser has accepted the package."""
    from openpyxl.packaging.manifest import Manifest  # noqa: PLC0415
    from openpyxl.reader.excel import _find_workbook_part  # noqa: PLC0415
    from openpyxl.xml.constants import ARC_CONTENT_TYPES  # noqa: PLC0415
    from openpyxl.xml.functions import fromstring  # noqa: PLC0415

    package = Manifest.from_tree(fromstring(zf.read(ARC_CONTENT_TYPES)))
    return _FULL_CALC.search(zf.read(_find_workbook_part(package).PartName[1:])) is not None


def _load_openpyxl(path: Path) -> object:
    import openpyxl  # noqa: PLC0415 - keep start-up light for CSV inputs

    with _openpyxl_errors(path):
        return openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False)


def _read_xlsx_openpyxl(path: Path, max_rows: int) -> RawBook:
    formulas = _formula_cells(path)
    wb = _load_openpyxl(path)
    try:
        with _openpyxl_errors(path), zipfile.ZipFile(path) as zf:
            recalc = _recalc_on_load(zf)
            members = set(zf.namelist())
            marks = {ws.title: _sheet_marks(zf.read(ws._worksheet_path)) for ws in wb.worksheets
                     if getattr(ws, "_worksheet_path", None) in members}
        sheets = {ws.title: marks.get(ws.title, _Marks()).apply(
            _openpyxl_sheet(ws, max_rows, formulas.get(ws.title, set()), recalc)) for ws in wb.worksheets}
    finally:
        wb.close()
    return RawBook(path, sheets, "xlsx")


# --------------------------------------------------------------------------- python-calamine (the fast path)


class _UseOpenpyxl(Exception):  # noqa: N818 - a signal, not an error
    """The fast path cannot match openpyxl exactly here: read this sheet (or the book) with openpyxl."""


_DTD = re.compile(rb"<!(?i:doctype|entity)")
# Text calamine reads differently from openpyxl: a <t> without xml:space="preserve" whose text has blanks
# before or after it (calamine trims them; all-blank text is blank for both), or a character reference;
# any other attribute on <t>. Candidates only: _risky_text() drops the all-blank ones.
_RISKY_TEXT = re.compile(rb'<t(?:>(?:\s|[^<]*(?:\s</t>|&#))|\s(?!xml:space="preserve">))')
_BLANK_TEXT = re.compile(rb"<t>\s*</t>")
# _xHHHH_ escapes: calamine decodes them, openpyxl keeps them (and drops "x005F_" from shared strings)
_ESCAPE = re.compile(rb"_x[0-9A-Fa-f]{4}_")
_X005F = re.compile(rb"x005F_")
# <v> texts the two read differently: attributes on <v> (not the <v /> openpyxl writes for a formula),
# blanks around the value, Python-only int syntax (1_000); and numbers whose type or value could differ
# (see _odd_numbers)
_RISKY_V = re.compile(rb"<v(?:\s+[^\s/>]|>(?:\s|[^<]*\s</v>|[+-]?\d[\d_]*_))")
_NUMBER_TEXT = re.compile(rb"<v>([+-]?(?:[\d.]*[eE][+-]?\d+|\d*\.0*|[\d.]{17,}|\d{16,}))</v>")
_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_SI = re.compile(rb"<si[\s>/]")
_COORD = re.compile(rb"\$?([A-Z]{1,3})\$?([0-9]+)")
_BINARY = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".emf", ".wmf", ".bin", ".wdp")
_MAX_RISKY_STRINGS = 200  # more shared strings needing openpyxl: every sheet with shared strings uses it


def _fatal(exc: BaseException) -> bool:
    return isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit))


@dataclass
class _SheetPlan:
    name: str
    member: str
    hidden: bool
    reason: str | None = None  # why openpyxl must read this sheet; None: calamine reads it
    errors: dict[tuple[int, int], str] = field(default_factory=dict)  # error cells: (row, column) -> text
    booleans: bool = True  # the sheet may hold true/false cells (t="b")
    marks: _Marks = field(default_factory=_Marks)


@dataclass
class _BookPlan:
    sheets: list[_SheetPlan]
    formulas_due: bool
    may_have_formulas: set[str]
    recalc: bool = False


def _layout(zf: zipfile.ZipFile) -> tuple[list[_SheetPlan], str | None, set[int]]:
    """Sheets (name, member, hidden) as openpyxl lists them, the shared-strings member, and the
    indices of the cell formats openpyxl reads as dates, all with openpyxl's own (defused) parsers."""
    from openpyxl.packaging.manifest import Manifest  # noqa: PLC0415
    from openpyxl.reader.excel import _find_workbook_part  # noqa: PLC0415
    from openpyxl.reader.workbook import WorkbookParser  # noqa: PLC0415
    from openpyxl.styles.stylesheet import Stylesheet  # noqa: PLC0415
    from openpyxl.xml.constants import ARC_CONTENT_TYPES, ARC_STYLE, SHARED_STRINGS  # noqa: PLC0415
    from openpyxl.xml.functions import fromstring  # noqa: PLC0415

    package = Manifest.from_tree(fromstring(zf.read(ARC_CONTENT_TYPES)))
    strings = package.find(SHARED_STRINGS)
    strings_member = strings.PartName[1:] if strings is not None else None
    parser = WorkbookParser(zf, _find_workbook_part(package).PartName[1:], keep_links=False)
    parser.parse()
    members = set(zf.namelist())
    sheets = []
    for sheet, rel in parser.find_sheets():  # as openpyxl.reader.excel.ExcelReader.read_worksheets
        if rel.target not in members or "chartsheet" in rel.Type:
            continue
        sheets.append(_SheetPlan(sheet.name, rel.target, sheet.state != "visible"))
    date_styles: set[int] = set()
    if ARC_STYLE in members:  # as openpyxl.styles.stylesheet.apply_stylesheet
        stylesheet = Stylesheet.from_tree(fromstring(zf.read(ARC_STYLE)))
        if stylesheet.cell_styles:
            date_styles = set(stylesheet.date_formats)
    return sheets, strings_member, date_styles


def _risky_text(data: bytes) -> Iterator[int]:
    """Positions of text that calamine reads differently from openpyxl (see _RISKY_TEXT, _ESCAPE)."""
    for m in _RISKY_TEXT.finditer(data):
        if not _BLANK_TEXT.match(data, m.start()):
            yield m.start()
    for m in _ESCAPE.finditer(data):
        yield m.start()


def _odd_numbers(data: bytes) -> bool:
    """Whether a number is written whose value or type the fast path would not give as openpyxl does.

    openpyxl reads a number text as an int when it has no ".", "e" or "E" (every digit kept), else as a
    float; calamine reads a double, which the fast path turns into an int when it is a whole number below
    2**53 (what Excel and openpyxl write as digits only). Left over: integers of 2**53 or more, and whole
    numbers written as "3.0", "1E3" or with more digits than a double holds ("2.9999999999999999").
    """
    for m in _NUMBER_TEXT.finditer(data):
        text = m[1]
        if b"." not in text and b"e" not in text and b"E" not in text:
            if abs(int(text)) >= 2**53:
                return True
            continue
        try:
            value = float(text)
        except ValueError:
            return True
        if value.is_integer() and abs(value) < 2**53:
            return True
    return False


def _risky_strings(data: bytes) -> set[int]:
    """Indices of the shared strings calamine would read differently from openpyxl."""
    if b"<sst" not in data:
        raise _UseOpenpyxl("shared strings with a namespace prefix")
    hits = [*_risky_text(data), *(m.start() for m in _X005F.finditer(data))]
    if not hits:
        return set()
    starts = [m.start() for m in _SI.finditer(data)]
    return {bisect_right(starts, h) - 1 for h in hits}


def _error_cells(data: bytes) -> dict[tuple[int, int], str]:
    """(row, column) -> text of every error cell (``t="e"``) with a value; calamine reads them as blank.

    Excel's error values start with "#": each ``<v>#`` is traced back to its ``<c>`` element.
    """
    from openpyxl.utils.cell import column_index_from_string  # noqa: PLC0415

    errors: dict[tuple[int, int], str] = {}
    pos = data.find(b"<v>#")
    while pos != -1:
        start = data.rfind(b"<c", 0, pos)
        while start != -1 and data[start + 2:start + 3] not in (b" ", b"\t", b"\n", b"\r"):
            start = data.rfind(b"<c", 0, start)
        end = data.find(b">", start, pos) if start != -1 else -1
        if end == -1 or data[end - 1:end] == b"/" or data.find(b"</c>", end, pos) != -1:
            raise _UseOpenpyxl("a value outside a cell")
        attrs = {m[1]: m[2] if m[2] is not None else m[3] for m in _ATTR.finditer(data, start + 2, end)}
        if attrs.get(b"t") == b"e":
            coord = _COORD.fullmatch(attrs.get(b"r") or b"")
            stop = data.find(b"</v>", pos)
            text = data[pos + 3:stop] if stop != -1 else b"<"
            if coord is None or b"&" in text or b"<" in text:
                raise _UseOpenpyxl("an error cell the scan cannot place")
            errors[(int(coord[2]), column_index_from_string(coord[1].decode()))] = text.decode("utf-8")
        pos = data.find(b"<v>#", pos + 4)
    return errors


def _scan_sheet(plan: _SheetPlan, data: bytes, max_rows: int, date_re: re.Pattern | None,
                strings_re: re.Pattern | None) -> None:
    """Decide whether calamine can read this sheet exactly; collect its error cells (in ``plan``)."""
    try:
        if b"<sheetData" not in data:
            raise _UseOpenpyxl("namespace prefixes")
        if data.count(b"<row") > max_rows + 1:
            raise _UseOpenpyxl("more rows than the limit: openpyxl stops at the limit")
        if date_re is not None and any(data[m.start() - 1:m.start()].isspace() for m in date_re.finditer(data)):
            raise _UseOpenpyxl("date formats")  # s="k" (not gridLines="k"), k a cell format openpyxl reads as a date
        if _RISKY_V.search(data) or next(_risky_text(data), None) is not None or _odd_numbers(data):
            raise _UseOpenpyxl("text or numbers calamine reads differently")
        if strings_re is not None and strings_re.search(data):
            raise _UseOpenpyxl("shared strings calamine reads differently")
        plan.errors = _error_cells(data)
        plan.booleans = b'"b"' in data or b"'b'" in data  # the value of t="b", however quoted
    except Exception as exc:  # noqa: BLE001 - _UseOpenpyxl, or bytes the scan cannot make sense of
        plan.reason = str(exc) if isinstance(exc, _UseOpenpyxl) else f"{type(exc).__name__}: {exc}"


def _plan(path: Path, max_rows: int) -> _BookPlan:
    """Scan the package (bytes only) and decide, sheet by sheet, which reader reads what.

    Raises ``_UseOpenpyxl`` when the whole book must go to openpyxl.
    """
    with zipfile.ZipFile(path) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        worksheets = [i.filename for i in infos if i.filename.startswith("xl/worksheets/")]
        others = [i for i in infos if not i.filename.startswith("xl/worksheets/")
                  and not i.filename.lower().endswith(_BINARY)]
        for info in others:  # before any XML parser: DTDs (entity bombs) are openpyxl's to refuse
            if _DTD.search(zf.read(info)):
                raise _UseOpenpyxl("a DTD")
        try:
            sheets, strings_member, date_styles = _layout(zf)
            strings = zf.read(strings_member) if strings_member in zf.namelist() else b""
            recalc = _recalc_on_load(zf)
        except Exception as exc:
            raise _UseOpenpyxl(f"openpyxl must report it: {exc}") from exc
        if 0 in date_styles:
            raise _UseOpenpyxl("the default cell format is a date")
        date_re = None
        if date_styles:
            alternatives = b"|".join(str(i).encode() for i in sorted(date_styles))
            date_re = re.compile(rb"""s\s*=\s*["'](?:""" + alternatives + rb""")["']""")
        risky = _risky_strings(strings) if strings else set()
        strings_re = None
        if len(risky) > _MAX_RISKY_STRINGS:
            strings_re = re.compile(rb"""t\s*=\s*["']s["']""")
        elif risky:
            strings_re = re.compile(rb"<v>(?:" + b"|".join(str(i).encode() for i in sorted(risky)) + rb")</v>")
        by_member = {s.member: s for s in sheets}
        due = False
        may_have: set[str] = set()
        for name in dict.fromkeys([*worksheets, *by_member]):
            data = zf.read(name)
            if _DTD.search(data):
                raise _UseOpenpyxl("a DTD")
            if name.startswith("xl/worksheets/"):
                _, maybe = _formula_flags(data)
                due |= maybe
                if maybe:
                    may_have.add(name)
            if name in by_member:
                _scan_sheet(by_member[name], data, max_rows, date_re, strings_re)
                by_member[name].marks = _sheet_marks(data)
            del data
    return _BookPlan(sheets, due, may_have, recalc)


def _calamine_sheet(workbook: object, plan: _SheetPlan, unsaved: set[tuple[int, int]], max_rows: int,
                    recalc: bool = False) -> RawSheet:
    sheet = workbook.get_sheet_by_name(plan.name)
    start = sheet.start
    grid = sheet.to_python() if start is not None else []
    r0, c0 = start if start is not None else (0, 0)
    # error cells, then formulas without a saved value (marked only where the cell is still blank)
    patches: dict[int, list[tuple[int, Cell | None]]] = {}
    for (r, c), text in plan.errors.items():
        patches.setdefault(r, []).append((c, Cell(text, ERROR)))
    for r, c in unsaved:
        patches.setdefault(r, []).append((c, None))

    def patch(excel_row: int, cells: list[Cell]) -> list[Cell]:
        for col, cell in patches[excel_row]:
            if len(cells) < col:
                cells.extend([_EMPTY] * (col - len(cells)))
            if cell is not None:
                cells[col - 1] = cell
            else:
                cells[col - 1] = _formula_cell(cells[col - 1], recalc)
        return cells

    # value -> Cell, for texts and numbers; True == 1.0 and False == 0.0 as dict keys, so 0 and 1 are
    # cached only when the sheet has no true/false cells
    cache: dict[object, Cell] = {} if plan.booleans else {0.0: Cell(0, NUMBER), 1.0: Cell(1, NUMBER)}
    get = cache.get

    def convert(v: object) -> Cell:
        t = type(v)
        if t is str:
            cell = _EMPTY if not v or v.isspace() else Cell(v, TEXT)
        elif t is float:
            # openpyxl gives an int for an integer written without "." or exponent (all that Excel writes);
            # every integer below 2**53 is exact in a double
            cell = Cell(int(v) if v.is_integer() and -2**53 < v < 2**53 else v, NUMBER)
        elif t is bool:
            return _TRUE if v else _FALSE
        elif t is int:
            cell = Cell(v, NUMBER)
        else:  # date, datetime, time, timedelta: openpyxl's conversion differs; let it read the sheet
            raise _UseOpenpyxl(f"a {t.__name__} value")
        if t is str or not plan.booleans or not (v == 0 or v == 1):
            cache[v] = cell
        return cell

    lead = [_EMPTY] * c0

    def rows() -> Iterator[tuple[int, list[Cell]]]:
        first, last = r0 + 1, r0 + len(grid)
        for r in sorted(r for r in patches if r < first):
            cells = _trim(patch(r, []))
            if cells:
                yield r, cells
        for i, values in enumerate(grid):
            cells = [get(v) or convert(v) for v in values]
            if c0:
                cells = lead + cells
            r = first + i
            if r in patches:
                patch(r, cells)
            if _trim(cells):
                yield r, cells
        for r in sorted(r for r in patches if r > last):
            cells = _trim(patch(r, []))
            if cells:
                yield r, cells

    return _assemble(plan.name, rows(), plan.hidden, max_rows, "calamine")


def _read_xlsx_calamine(path: Path, max_rows: int, forced: bool) -> RawBook | None:
    """The fast path; None when the whole book must be read by openpyxl."""
    try:
        import python_calamine  # noqa: PLC0415
    except ImportError as exc:
        if forced:
            raise InputError("the calamine reader was asked for, but python-calamine is not installed") from exc
        return None
    try:
        plan = _plan(path, max_rows)
    except Exception:  # noqa: BLE001 - _UseOpenpyxl, or a damaged package: openpyxl reports it as it always has
        return None
    formulas = _formula_cells(path, plan.may_have_formulas) if plan.formulas_due else {}
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except BaseException as exc:  # noqa: BLE001 - calamine may panic (a BaseException) on odd files
        if _fatal(exc):
            raise
        return None
    reference = None  # openpyxl's workbook, opened for the first sheet that needs it
    sheets: dict[str, RawSheet] = {}
    try:
        for sheet in plan.sheets:
            unsaved = formulas.get(sheet.name, set())
            raw = None
            if sheet.reason is None:
                try:
                    raw = _calamine_sheet(workbook, sheet, unsaved, max_rows, plan.recalc)
                except InputError:
                    raise
                except BaseException as exc:  # noqa: BLE001 - _UseOpenpyxl, or calamine refusing the sheet
                    if _fatal(exc):
                        raise
                    sheet.reason = f"{type(exc).__name__}: {exc}"
            if raw is None:
                if reference is None:
                    reference = _load_openpyxl(path)
                raw = _openpyxl_sheet(reference[sheet.name], max_rows, unsaved, plan.recalc)
            sheets[sheet.name] = sheet.marks.apply(raw)
    finally:
        workbook.close()
        if reference is not None:
            reference.close()
    return RawBook(path, sheets, "xlsx")


def _engine(engine: str | None) -> str:
    engine = DEFAULT_ENGINE if engine is None else engine
    if engine not in ENGINES:
        raise ValueError(f"unknown xlsx engine {engine!r} (expected one of {', '.join(ENGINES)})")
    return engine


def read_xlsx(path: Path, max_rows: int = MAX_ROWS, engine: str | None = None) -> RawBook:
    """Read an .xlsx workbook. ``engine``: "auto", "calamine" or "openpyxl" (None: ``DEFAULT_ENGINE``)."""
    import openpyxl  # noqa: PLC0415 - keep start-up light for CSV inputs

    engine = _engine(engine)
    path = Path(path)
    if not openpyxl.DEFUSEDXML:
        raise InputError("the installation is unsafe: openpyxl is not using defusedxml; reinstall the planner")
    _guard_xlsx(path)
    if engine != "openpyxl":
        book = _read_xlsx_calamine(path, max_rows, forced=engine == "calamine")
        if book is not None:
            return book
    return _read_xlsx_openpyxl(path, max_rows)


_CSV_REASONS = (  # what csv.Error says, and what it means in a file Excel or a person wrote
    ("field larger than field limit", "a cell longer than {limit:,} characters (an unclosed quote?)"),
    ("unexpected end of data", 'a quoted cell is never closed (a stray " ?)'),
    ("expected after", 'a quote inside a quoted cell must be doubled ("")'),
)
_NOT_UTF8 = re.compile(r"[\udc80-\udcff]")  # bytes that were not UTF-8, kept by surrogateescape


def _csv_text(file: Path) -> str:
    """A CSV file's text: UTF-8 (a byte-order mark is dropped) or UTF-16 with its byte-order mark (Excel's
    "Unicode text"). Bytes that are not UTF-8 stay as surrogates (surrogateescape), for the caller to
    report cell by cell; nothing is guessed."""
    data = file.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(f"{file} starts like UTF-16 text but is damaged ({exc.reason} at byte {exc.start}); "
                             'save it again, as "CSV UTF-8 (Comma delimited)"') from exc
    if b"\x00" in data:
        raise InputError(f"{file} holds NUL bytes: UTF-16 text without a byte-order mark, or not text at all; "
                         'in Excel, save it as "CSV UTF-8 (Comma delimited)"')
    return data.removeprefix(codecs.BOM_UTF8).decode("utf-8", "surrogateescape")


def _delimiter(text: str) -> str:
    """A comma, unless the header line has none and has tabs (Excel's "Unicode text") or semicolons (Excel's
    CSV where the decimal separator is a comma)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    if "," in header:
        return ","
    if "\t" in header:
        return "\t"
    return ";" if ";" in header else ","


def _csv_sheet(file: Path, max_rows: int, issues: list[Issue]) -> RawSheet:
    name = file.stem
    text = _csv_text(file)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    headers: list[str] = []
    rows: list[tuple[int, list[Cell]]] = []
    lineno = 0
    try:
        for lineno, rec in enumerate(reader, start=1):
            for i, v in enumerate(rec):
                if _NOT_UTF8.search(v):
                    shown = v.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                    byte = _NOT_UTF8.search(v)[0].encode("utf-8", "surrogateescape")[0]
                    issues.append(Issue(name, lineno, i, headers[i].strip() if headers and i < len(headers) else "",
                                        f'not UTF-8 text: byte 0x{byte:02X} in "{shown}"; Excel\'s "CSV (Comma '
                                        'delimited)" writes the Windows code page: save the file as "CSV UTF-8 '
                                        '(Comma delimited)"'))
                    rec[i] = v.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            cells = [_cell_from_value(v) for v in rec]
            if not headers:
                if all(c.kind == EMPTY for c in cells):
                    continue
                headers = list(rec)
                continue
            if all(c.kind == EMPTY for c in cells):
                continue
            rows.append((lineno, cells))
            if len(rows) > max_rows:
                raise InputError(f"{name} has more than {max_rows:,} data rows (limit: --max-rows {max_rows})")
    except csv.Error as exc:
        reason = str(exc)
        meaning = next((m for key, m in _CSV_REASONS if key in reason), reason)
        issues.append(Issue(name, lineno + 1, message=meaning.format(limit=csv.field_size_limit())
                            + f" ({file.name} line {reader.line_num})"))
    return RawSheet(name, headers, rows, engine="csv")


def read_csv_folder(path: Path, max_rows: int = MAX_ROWS) -> RawBook:
    """One sheet per ``.csv`` file (``Sites.CSV`` too). Two files whose names differ only in case or
    surrounding blanks would be one sheet read twice, or one silently left out: refused."""
    files = sorted(f for f in path.iterdir() if f.suffix.lower() == ".csv" and f.is_file())
    by_sheet: dict[str, list[Path]] = {}
    for f in files:
        by_sheet.setdefault(f.stem.strip().lower(), []).append(f)
    issues = [Issue(same[0].stem, message=f"{' and '.join(f.name for f in same)} name one sheet (names match "
                                          "whatever the case); delete or rename all but one")
              for same in by_sheet.values() if len(same) > 1]
    if issues:
        raise InputError(f"{path} has {len(issues)} problem{'s' * (len(issues) != 1)}", issues)
    sheets: dict[str, RawSheet] = {}
    for file in files:
        sheets[file.stem] = _csv_sheet(file, max_rows, issues)
    if issues:
        raise InputError(f"{path} has {len(issues)} problem{'s' * (len(issues) != 1)}", issues)
    return RawBook(path, sheets, "csv")


def read_input(path: Path, max_rows: int = MAX_ROWS, engine: str | None = None) -> RawBook:
    """Read ``path`` (an .xlsx file or a folder of CSV files named after the sheets).

    ``engine`` picks the .xlsx reader: "auto", "calamine" or "openpyxl" (None: ``DEFAULT_ENGINE``).

    Raises
    ------
    InputError
        The path is missing, not a workbook, unsafe or damaged.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if path.is_dir():
        book = read_csv_folder(path, max_rows)
        if not book.sheets:
            texts = sorted(f.name for f in path.iterdir() if f.suffix.lower() == ".txt")
            hint = (f"; {', '.join(texts[:3])}{', ...' if len(texts) > 3 else ''} may be Excel's \"Unicode text\": "
                    "rename them to .csv, which reads them as well") if texts else ""
            raise InputError(f"{path} is a folder with no .csv files (expected Sites.csv, Supply.csv, ...){hint}")
        return book
    if path.suffix.lower() == ".csv":
        raise InputError(f"{path} is a single CSV file; give the folder holding one CSV per sheet")
    return read_xlsx(path, max_rows, engine)


def hidden_warnings(book: RawBook) -> list[Issue]:
    return [
        Issue(s.name, message="this sheet is hidden in Excel but is read like a visible one", severity="warning")
        for s in book.sheets.values()
        if s.hidden
    ]
