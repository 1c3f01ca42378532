"""Write workbooks safely: whole or not at all, text as text, numbers finite.

* Every workbook goes to a temporary file beside the target and replaces it only
  when complete (``os.replace``), so an interrupted run leaves the old file.
* Text cells are forced to text: a supplier named ``=HYPERLINK(...)`` stays text
  (OWASP spreadsheet-injection rule: leading ``= + - @``, tab, CR, LF get a quote
  prefix as well), control characters are replaced, and over-long text is cut
  with a visible marker.
* A non-finite number is a bug, never written as a blank.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from planner.errors import OutputError

# Characters XML 1.0 cannot carry (control characters, lone surrogates, U+FFFE/U+FFFF): written raw,
# they make a workbook Excel refuses to open.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_RISKY_START = ("=", "+", "-", "@", "\t", "\r", "\n")
MAX_TEXT = 32_767


@dataclass
class Column:
    header: str
    width: float = 14
    fmt: str | None = None  # Excel number format
    note: str = ""


@dataclass
class Chart:
    """A native Excel chart of this sheet's columns (0-based column indexes), placed at ``anchor``."""

    kind: str  # "scatter" (x-y with lines and markers) or "bar"
    title: str
    x: int
    ys: list[int]
    x_title: str = ""
    y_title: str = ""
    anchor: str = "H2"
    stacked: bool = False
    y_format: str | None = None
    colors: dict[int, str] | None = None  # series column -> RGB hex, e.g. China in red


@dataclass
class Table:
    """A sheet: optional title lines, then a header row and data rows, and optional charts."""

    name: str
    columns: list[Column]
    rows: Iterable[Iterable[object]]
    title: list[str] | None = None
    freeze: bool = True
    charts: list[Chart] | None = None
    # further tables written below this one on the same sheet (a sheet of small tables, each with its chart)
    sections: list[Table] | None = None


def check_writable(target: Path) -> None:
    """Before minutes of solving: is the target held open by Excel, or the folder read-only?"""
    target = Path(target)
    owner = target.with_name("~$" + target.name)
    lock = target.with_name(f".~lock.{target.name}#")
    if target.exists() and (owner.exists() or lock.exists()):
        raise OutputError(f"{target} is open in Excel or LibreOffice: close it and run again")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.exists():
        raise OutputError(f"the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write in {folder} (permission denied)")
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputError(f"{target} is read-only")


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; replace ``target`` with it only on success."""
    target = Path(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=f".{target.stem}-",
                               suffix=".xlsx.tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        # mkstemp makes the file private (0600); a plan should be as readable as any file the user saves,
        # and an overwritten plan keeps its permissions
        os.chmod(tmp_path, target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_umask())
        yield tmp_path
        with tmp_path.open("rb+") as fh:
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise
    try:
        _replace(tmp_path, target)
    except PermissionError as exc:
        # The plan is finished: keep it beside the locked target rather than lose the minutes of solving.
        kept = target.with_name(f"{target.stem}.locked-{time.strftime('%Y%m%d-%H%M%S')}{target.suffix}")
        try:
            os.rename(tmp_path, kept)
        except OSError:
            with contextlib.suppress(OSError):
                tmp_path.unlink()
            raise OutputError(f"could not write {target}: {exc}; nothing was written") from exc
        err = OutputError(f"{target} is open or locked ({exc.strerror or exc}); it is unchanged, and the new "
                          f"workbook was saved as {kept}")
        err.kept = kept
        raise err from exc
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def _column_index(letters: str) -> int:
    from openpyxl.utils import column_index_from_string  # noqa: PLC0415

    return column_index_from_string(letters) if letters else 1


def _replace(tmp: Path, target: Path) -> None:
    """os.replace, retried briefly on Windows, where antivirus and indexers lock files for a moment."""
    tries = 5 if os.name == "nt" else 1
    for i in range(tries):
        try:
            os.replace(tmp, target)
            return
        except PermissionError:
            if i == tries - 1:
                raise
            time.sleep(0.4)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def safe_text(value: str) -> tuple[str, bool, bool]:
    """Text as it will be written: (text, needs quote prefix, was changed)."""
    changed = False
    if "\r" in value:  # XML reading turns CR into LF anyway; say so rather than change text silently
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        changed = True
    if _CONTROL.search(value):
        value = _CONTROL.sub("\ufffd", value)
        changed = True
    if len(value) > MAX_TEXT:
        value = value[: MAX_TEXT - 20] + " ...[truncated]"
        changed = True
    return value, value.startswith(_RISKY_START), changed


def _cell(ws, value: object, fmt: str | None = None, bold: bool = False, warnings: list[str] | None = None):  # noqa: ANN001, ANN202
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415
    from openpyxl.styles import Font  # noqa: PLC0415

    cell = WriteOnlyCell(ws)
    if value is None:
        return cell
    if isinstance(value, bool):
        cell.value = "yes" if value else "no"
        cell.data_type = "s"
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError(f"refusing to write a non-finite number ({value}) in sheet {ws.title}")
        cell.value = value
        if fmt:
            cell.number_format = fmt
    else:
        text, quote, changed = safe_text(str(value))
        if changed and warnings is not None:
            warnings.append(f"sheet {ws.title}: control characters or line breaks replaced, or text shortened, "
                            f"in {text[:40]!r}")
        cell.value = text
        cell.data_type = "s"  # never a formula, never an error code
        if quote:
            cell.quotePrefix = True
    if bold:
        cell.font = Font(bold=True)
    return cell


def write_workbook(target: Path, tables: list[Table], one_page: bool = False) -> list[str]:
    """Write ``tables`` as one workbook at ``target``, atomically. Returns warnings.

    ``one_page``: print each sheet on a single page (else one page wide, as long as it needs).
    """
    from openpyxl import Workbook  # noqa: PLC0415
    from openpyxl.comments import Comment  # noqa: PLC0415
    from openpyxl.styles import Font, PatternFill  # noqa: PLC0415
    from openpyxl.utils import get_column_letter  # noqa: PLC0415

    warnings: list[str] = []
    target = Path(target)
    with atomic_path(target) as tmp:
        wb = Workbook(write_only=True)
        header_fill = PatternFill("solid", fgColor="DDEBF7")
        for t in tables:
            ws = wb.create_sheet(safe_sheet_name(t.name))
            # printed (or saved as PDF) landscape, one page wide: how a plan goes into a board pack
            ws.page_setup.orientation = "landscape"
            ws.page_setup.fitToWidth = 1
            ws.page_setup.fitToHeight = 1 if one_page else 0
            ws.sheet_properties.pageSetUpPr.fitToPage = True
            parts = [t, *(t.sections or [])]
            for i in range(max(len(p.columns) for p in parts)):
                ws.column_dimensions[get_column_letter(i + 1)].width = max(
                    p.columns[i].width for p in parts if i < len(p.columns))
            title_rows = len(t.title) + 1 if t.title else 0
            if t.freeze and t.columns and not t.sections:  # write-only: panes before the first row
                ws.freeze_panes = f"A{title_rows + 2}"
            row_no = 0
            for part in parts:
                for i, line in enumerate(part.title or []):
                    ws.append([_cell(ws, line, bold=i == 0, warnings=warnings)])
                    row_no += 1
                if part.title:
                    ws.append([])
                    row_no += 1
                header = []
                for col in part.columns:
                    c = _cell(ws, col.header, bold=True)
                    c.fill = header_fill
                    c.font = Font(bold=True)
                    if col.note:
                        c.comment = Comment(col.note, "planner")
                    header.append(c)
                if part.columns:
                    ws.append(header)
                    row_no += 1
                header_row = row_no
                fmts = [c.fmt for c in part.columns]
                n = 0
                for row in part.rows:
                    ws.append([_cell(ws, v, fmts[i] if i < len(fmts) else None, warnings=warnings)
                               for i, v in enumerate(row)])
                    n += 1
                row_no += n
                for ch in part.charts or []:
                    if n:
                        # beside its own table: never over the table's last columns
                        col = max(_column_index(ch.anchor.rstrip("0123456789")), len(part.columns) + 2)
                        anchor = ch.anchor if part is t and not t.sections else f"{get_column_letter(col)}{header_row}"
                        ws.add_chart(_chart(ws, ch, header_row, header_row + n), anchor)
                if part is not parts[-1] and t.sections:
                    # leave room for the chart beside this block (about 20 rows tall)
                    gap = max(3, 22 - n - 1) if part.charts else 3
                    for _ in range(gap):
                        ws.append([])
                    row_no += gap
        wb.save(tmp)
    return warnings


def _chart(ws, spec: Chart, header_row: int, last_row: int):  # noqa: ANN001, ANN202
    from openpyxl.chart import BarChart, Reference, ScatterChart, Series  # noqa: PLC0415

    if spec.kind == "bar":
        chart = BarChart()
        for y in spec.ys:
            chart.add_data(Reference(ws, min_col=y + 1, min_row=header_row, max_row=last_row), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=spec.x + 1, min_row=header_row + 1, max_row=last_row))
        if spec.stacked:
            chart.grouping = "stacked"
            chart.overlap = 100
        for series, y in zip(chart.series, spec.ys, strict=False):
            if spec.colors and y in spec.colors:
                series.graphicalProperties.solidFill = spec.colors[y]
                series.graphicalProperties.line.solidFill = spec.colors[y]
    else:
        chart = ScatterChart()
        chart.style = 13
        xs = Reference(ws, min_col=spec.x + 1, min_row=header_row + 1, max_row=last_row)
        for y in spec.ys:
            ys = Reference(ws, min_col=y + 1, min_row=header_row, max_row=last_row)
            series = Series(ys, xs, title_from_data=True)
            series.marker.symbol = "circle"
            chart.series.append(series)
    chart.title = spec.title
    chart.x_axis.title = spec.x_title
    chart.y_axis.title = spec.y_title
    if spec.y_format:
        chart.y_axis.numFmt = spec.y_format
    # openpyxl hides axes by default in recent versions; a chart for a manager shows them
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.width, chart.height = 18, 10
    return chart


_BAD_SHEET_CHARS = re.compile(r"[:\\/?*\[\]]")


def safe_sheet_name(name: str) -> str:
    """Excel's rules: at most 31 characters, none of : \\ / ? * [ ], no apostrophe at either end."""
    cleaned = _BAD_SHEET_CHARS.sub("_", name).strip("'")[:31].strip("'")
    return cleaned or "Sheet"
