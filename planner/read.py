"""Read an input workbook (.xlsx) or a folder of CSV files into raw, located cells.

Nothing is interpreted here beyond the kind of each cell: numbers stay numbers,
text stays text (``NA`` is Namibia, not missing), Excel error cells are kept as
errors so validation can name them. Typing and checking happen in ``validate``.
"""

from __future__ import annotations

import csv
import io
import zipfile
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


@dataclass
class RawBook:
    path: Path
    sheets: dict[str, RawSheet]
    kind: str  # "xlsx" or "csv"


def _cell_from_value(value: object, data_type: str | None = None) -> Cell:
    if value is None:
        return Cell(None, EMPTY)
    if data_type == "e":
        return Cell(str(value), ERROR)
    if isinstance(value, bool):
        return Cell(value, BOOL)
    if isinstance(value, (int, float)):
        return Cell(value, NUMBER)
    if isinstance(value, str):
        if value.strip() == "":
            return Cell(None, EMPTY)
        return Cell(value, TEXT)
    return Cell(value, DATE)


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


def _formula_cells(path: Path) -> dict[str, set[tuple[int, int]]]:
    """(row, column) of every formula cell, per sheet title (a second pass, only if there are formulas).

    Excel saves a formula's last result, which the first pass reads; a formula
    whose result was never calculated reads as blank there and must be reported
    instead of being taken for an empty cell.
    """
    import openpyxl  # noqa: PLC0415

    with zipfile.ZipFile(path) as zf:
        has_formulas = any(b"<f" in zf.read(n) for n in zf.namelist() if n.startswith("xl/worksheets/"))
    if not has_formulas:
        return {}
    formulas: dict[str, set[tuple[int, int]]] = {}
    wb = openpyxl.load_workbook(path, read_only=True, data_only=False, keep_links=False)
    try:
        for ws in wb.worksheets:
            ws.reset_dimensions()
            for row in ws.iter_rows():
                for c in row:
                    if getattr(c, "data_type", None) == "f":
                        formulas.setdefault(ws.title, set()).add((c.row, c.column))
    finally:
        wb.close()
    return formulas


def read_xlsx(path: Path, max_rows: int = MAX_ROWS) -> RawBook:
    import openpyxl  # noqa: PLC0415 - keep start-up light for CSV inputs

    if not openpyxl.DEFUSEDXML:
        raise InputError("the installation is unsafe: openpyxl is not using defusedxml; reinstall the planner")
    _guard_xlsx(path)
    formulas = _formula_cells(path)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises many types for damaged or hostile files
        cause = exc.__cause__ or exc.__context__
        if "Entit" in type(cause).__name__ or "Entit" in type(exc).__name__ or "DTD" in str(exc):
            raise InputError(
                f"{path} contains XML entity declarations (never written by Excel); refusing to read it"
            ) from exc
        raise InputError(f"{path} could not be read as an .xlsx workbook: {exc}") from exc
    sheets: dict[str, RawSheet] = {}
    try:
        for ws in wb.worksheets:
            ws.reset_dimensions()  # a stale <dimension> must never hide rows
            rows_iter = ws.iter_rows()
            headers: list[str] = []
            rows: list[tuple[int, list[Cell]]] = []
            header_found = False
            unsaved = formulas.get(ws.title, set())
            for row in rows_iter:
                cells = [_cell_from_value(c.value, getattr(c, "data_type", None)) for c in row]
                if unsaved:
                    cells = [Cell(None, FORMULA) if cell.kind == EMPTY and (getattr(c, "row", 0),
                             getattr(c, "column", 0)) in unsaved else cell for cell, c in zip(cells, row, strict=True)]
                if not header_found:
                    if all(c.kind == EMPTY for c in cells):
                        continue
                    header_found = True
                    header_row = getattr(row[0], "row", 1) if row else 1
                    headers = ["" if c.kind == EMPTY else str(c.value) for c in cells]
                    continue
                if all(c.kind == EMPTY for c in cells):
                    continue
                excel_row = getattr(next((c for c in row if hasattr(c, "row")), None), "row", None)
                if excel_row is None:
                    excel_row = header_row + len(rows) + 1
                rows.append((excel_row, cells))
                if len(rows) > max_rows:
                    raise InputError(f"{ws.title} has more than {max_rows:,} data rows (limit: --max-rows {max_rows})")
            sheets[ws.title] = RawSheet(ws.title, headers, rows, hidden=ws.sheet_state != "visible")
    finally:
        wb.close()
    return RawBook(path, sheets, "xlsx")


def read_csv_folder(path: Path, max_rows: int = MAX_ROWS) -> RawBook:
    sheets: dict[str, RawSheet] = {}
    for file in sorted(path.glob("*.csv")):
        text = file.read_bytes().decode("utf-8-sig")
        reader = csv.reader(io.StringIO(text))
        headers: list[str] = []
        rows: list[tuple[int, list[Cell]]] = []
        for lineno, rec in enumerate(reader, start=1):
            cells = [_cell_from_value(v) for v in rec]
            if not headers:
                if all(c.kind == EMPTY for c in cells):
                    continue
                headers = [v for v in rec]
                continue
            if all(c.kind == EMPTY for c in cells):
                continue
            rows.append((lineno, cells))
            if len(rows) > max_rows:
                raise InputError(f"{file.stem} has more than {max_rows:,} data rows (limit: --max-rows {max_rows})")
        sheets[file.stem] = RawSheet(file.stem, headers, rows)
    return RawBook(path, sheets, "csv")


def read_input(path: Path, max_rows: int = MAX_ROWS) -> RawBook:
    """Read ``path`` (an .xlsx file or a folder of CSV files named after the sheets).

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
            raise InputError(f"{path} is a folder with no .csv files (expected Sites.csv, Supply.csv, ...)")
        return book
    if path.suffix.lower() == ".csv":
        raise InputError(f"{path} is a single CSV file; give the folder holding one CSV per sheet")
    return read_xlsx(path, max_rows)


def hidden_warnings(book: RawBook) -> list[Issue]:
    return [
        Issue(s.name, message="this sheet is hidden in Excel but is read like a visible one", severity="warning")
        for s in book.sheets.values()
        if s.hidden
    ]
