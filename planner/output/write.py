"""Write workbooks safely: whole or not at all, text as text, numbers finite.

* Every file a run writes (workbook, pictures, MPS) goes to a temporary file
  beside its target, and the targets are replaced only when every one is
  complete (:class:`OutputSet`), so a failed or interrupted run leaves every
  earlier file as it was.
* Text cells are forced to text: a supplier named ``=HYPERLINK(...)`` stays text
  (OWASP spreadsheet-injection rule: leading ``= + - @``, tab, CR, LF get a quote
  prefix as well), control characters are replaced, and over-long text is cut
  with a visible marker.
* A non-finite number is a bug, never written as a blank.
* The bytes depend on the tables alone: the document's created/modified times and the zip entries'
  times are fixed (:func:`workbook_bytes`), so the same input gives the same file on any machine.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import math
import os
import re
import secrets
import tempfile
import textwrap
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from planner.errors import OutputError, UsageError

# Characters XML 1.0 cannot carry (control characters, lone surrogates, U+FFFE/U+FFFF): written raw,
# they make a workbook Excel refuses to open.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_RISKY_START = ("=", "+", "-", "@", "\t", "\r", "\n")
MAX_TEXT = 32_767
# What a workbook's zip entries are dated (the zip format's earliest date): not the wall clock, which would
# make two runs of one input write different files.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _dated_zip(when: tuple[int, ...]):  # noqa: ANN202 - a zipfile.ZipFile subclass
    """A ZipFile whose every entry is dated ``when``, deflated, mode 0644, as it is written: the archive a
    second pass over openpyxl's own (entries re-dated one by one) would give, in one pass. A name written
    twice is noted (``twice``): that second pass reads the last of them for both, so the caller makes it."""
    import zipfile  # noqa: PLC0415

    class DatedZip(zipfile.ZipFile):
        twice = False

        def writestr(self, name, data, compress_type=None, compresslevel=None):  # noqa: ANN001, ANN202
            filename = name.filename if isinstance(name, zipfile.ZipInfo) else name
            fixed = zipfile.ZipInfo(filename, date_time=when)
            if fixed.filename in self.NameToInfo:
                self.twice = True
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            return super().writestr(fixed, data)

        def write(self, filename, arcname=None, compress_type=None, compresslevel=None):  # noqa: ANN001, ANN202
            if arcname is None:  # as ZipInfo.from_file names it
                arcname = os.path.normpath(os.path.splitdrive(os.fspath(filename))[1])
                arcname = arcname.lstrip(os.sep + (os.altsep or ""))
            return self.writestr(arcname, Path(filename).read_bytes())

    return DatedZip


def workbook_bytes(wb, when: tuple[int, ...] = ZIP_TIME) -> bytes:  # noqa: ANN001 - an openpyxl Workbook
    """The workbook serialised without openpyxl's ``save()``, which stamps the current time as the document's
    modified time, and with every zip entry dated ``when`` (``_dated_zip``). The document's own created and
    modified properties are written as the workbook holds them: set them first. Write-only sheets streamed
    in memory (``_memory_streams``) go into the archive from there."""
    import io  # noqa: PLC0415
    import zipfile  # noqa: PLC0415

    raw = io.BytesIO()
    with _dated_zip(when)(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        _excel_writer()(wb, archive).save()
    return redated(raw, when) if archive.twice else raw.getvalue()


def redated(raw, when: tuple[int, ...]) -> bytes:  # noqa: ANN001 - a file-like zip archive
    """The zip archive ``raw`` written again with every entry dated ``when``, deflated, mode 0644."""
    import io  # noqa: PLC0415
    import zipfile  # noqa: PLC0415

    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=when)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def _excel_writer():  # noqa: ANN202 - an openpyxl ExcelWriter subclass
    """openpyxl's ExcelWriter, taking a write-only sheet streamed in memory (``_memory_streams``) from its
    buffer rather than from a temporary file (``write_worksheet`` as openpyxl 3.1 has it, otherwise)."""
    import io  # noqa: PLC0415

    from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing  # noqa: PLC0415
    from openpyxl.writer.excel import ExcelWriter  # noqa: PLC0415

    class Writer(ExcelWriter):
        def write_worksheet(self, ws):  # noqa: ANN001, ANN202
            writer = getattr(ws, "_writer", None)
            if not (self.workbook.write_only and isinstance(getattr(writer, "out", None), io.BytesIO)):
                return super().write_worksheet(ws)
            ws._drawing = SpreadsheetDrawing()  # noqa: SLF001
            ws._drawing.charts = ws._charts  # noqa: SLF001
            ws._drawing.images = ws._images  # noqa: SLF001
            if not ws.closed:
                ws.close()
            ws._rels = writer._rels  # noqa: SLF001
            self._archive.writestr(ws.path[1:], writer.out.getvalue())
            self.manifest.append(ws)
            return None

    return Writer


def _memory_streams(ws) -> None:  # noqa: ANN001 - an openpyxl write-only worksheet
    """Stream ``ws`` into memory instead of a temporary file (created, written, read back and removed: a few
    milliseconds a sheet, and tens on a busy disk). The stream starts where openpyxl starts it, at the first
    row or at the close; the bytes are the same (``tests/test_cold_writer.py``)."""
    import io  # noqa: PLC0415

    from openpyxl.worksheet._writer import WorksheetWriter  # noqa: PLC0415

    def get_writer() -> None:
        if ws._writer is None:  # noqa: SLF001
            ws._writer = WorksheetWriter(ws, out=io.BytesIO())  # noqa: SLF001
            ws._writer.write_top()  # noqa: SLF001

    if hasattr(ws, "_get_writer") and getattr(ws, "_writer", 1) is None:
        ws._get_writer = get_writer  # noqa: SLF001


def save_workbook(wb, path: Path) -> None:  # noqa: ANN001 - an openpyxl Workbook
    """Save a workbook the planner made, dated ZIP_TIME, not by the clock (see ``workbook_bytes``)."""
    import datetime  # noqa: PLC0415

    wb.properties.created = wb.properties.modified = datetime.datetime(*ZIP_TIME)
    Path(path).write_bytes(workbook_bytes(wb))


@dataclass
class Column:
    header: str
    width: float = 14
    fmt: str | None = None  # Excel number format
    note: str = ""
    fit: bool = True  # widened to its longest value (False: text meant to run over the next, empty, columns)


@dataclass(frozen=True)
class Fmt:
    """A value with its own number format, for a column whose rows are in different units (Summary)."""

    value: object
    fmt: str


# Header words a manager reads instead of the snake_case of the tables: "demand_t" -> "Demand (t)".
_UNITS = (("_usd_per_kg", " (USD/kg)"), ("_usd_per_t", " (USD/t)"), ("_usd", " (USD)"), ("_days", " (days)"),
          ("_pct", " (%)"), ("_t", " (t)"), ("_s", " (s)"))
_WORDS = {"usd": "USD", "t": "t", "cn": "CN", "id": "id", "mip": "MIP", "sha256": "SHA-256", "kpi": "KPI"}


def display_header(header: str) -> str:
    """The column heading as written: words, not snake_case, with the unit in brackets."""
    if "_" not in header and header.lower() == header:
        return header[:1].upper() + header[1:]
    if "_" not in header:
        return header
    unit = ""
    for suffix, text in _UNITS:
        if header.endswith(suffix):
            header, unit = header[: -len(suffix)], text
            break
    words = [_WORDS.get(w, w) for w in header.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:] + unit


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
    labels: list[int] | None = None  # series columns whose values are printed on the chart (a cap of 0 %)
    below: bool = False  # placed under its table rather than beside it (wide tables: the sweep)
    y_max: float | None = None  # the value axis' top (shares stacked to 100 %: 1, not the spreadsheet's 120 %)


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


# Column-width units that print legibly across one landscape page (A4/Letter at about 80 % scale)
PAGE_WIDTH_CHARS = 200
PRINT_SCALE = 75  # percent, for tables wider than that


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


# Refused before solving when the target's folder has less free space than this: no plan fits in it, and
# finding out after minutes of solving helps no one.
MIN_FREE_BYTES = 1 << 20
# Temporary names carry at most this much of the target's stem, so that a target whose own name is near the
# file system's limit still gets a temporary beside it.
_TMP_STEM = 60


def _folder(target: Path) -> Path:
    return target.parent if str(target.parent) else Path(".")


def os_error(target: Path, exc: OSError) -> OutputError:
    """An OSError met while writing ``target``, as an exit-6 error a user can act on."""
    if exc.errno == errno.ENOSPC or exc.errno == getattr(errno, "EDQUOT", None):
        return OutputError(f"the disk is full: {target} could not be written ({exc.strerror or exc}); "
                           "free some space and run again")
    if exc.errno == errno.ENAMETOOLONG:
        return OutputError(f"the file name is too long for the file system: {str(target)[:80]}...; "
                           "choose a shorter output name or folder")
    if isinstance(exc, PermissionError):
        return OutputError(f"cannot write {target} (permission denied)")
    return OutputError(f"could not write {target}: {exc.strerror or exc}")


def check_name(target: Path) -> None:
    """A name the file system cannot hold (known before solving)."""
    folder = _folder(target)
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, ValueError, OSError):
        limit = 255
    size = len(os.fsencode(target.name))
    if size > limit:
        raise OutputError(f"the file name {target.name[:40]}... is too long for the file system ({size} bytes, "
                          f"at most {limit}); choose a shorter output name")


def check_space(folder: Path) -> None:
    """A full disk, seen before solving (a disk that fills while writing is caught by the writers)."""
    try:
        st = os.statvfs(folder)
    except (AttributeError, OSError):
        return  # no statvfs (Windows) or not answerable: the writers still catch ENOSPC
    if st.f_bavail * st.f_frsize < MIN_FREE_BYTES:
        raise OutputError(f"the disk is full: {folder} has {st.f_bavail * st.f_frsize:,} bytes free; "
                          "free some space and run again")


class OutputSet:
    """The files one run writes, as one transaction: every target replaced, or none touched.

    ``reserve(target)`` checks a target before minutes of solving: held open by Excel, a folder that cannot
    be written, a name too long for the file system, a full disk (a temporary file is created and removed
    beside it, so the check is the real one). Writers then write ``temp(target)``, a temporary file beside
    the target, and ``commit()`` replaces the targets only once every one is complete. Leaving the ``with``
    block without a commit (an error, Ctrl-C, SIGTERM) removes every temporary and leaves every earlier file
    as it was.
    """

    def __init__(self) -> None:
        # absolute target -> [target as given, temporary or None before it is written, temporary's ending]
        self._staged: dict[Path, list] = {}
        self.committed: list[Path] = []

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.discard()

    def reserve(self, target: Path, tmp_suffix: str | None = None) -> None:
        """Check ``target`` now and make it part of the set (``tmp_suffix``: the temporary's ending, for
        writers that choose a format by extension)."""
        target = Path(target)
        key = Path(os.path.abspath(target))
        if key in self._staged:
            raise UsageError(f"two outputs of this run are the same file: {target}")
        check_writable(target)
        check_name(target)
        suffix = tmp_suffix or f"{target.suffix}.tmp"
        _make_temp(target, suffix).unlink()
        check_space(_folder(target))
        self._staged[key] = [target, None, suffix]

    def temp(self, target: Path) -> Path:
        """The temporary file to write for ``target`` (created now; the target is reserved if it was not)."""
        key = Path(os.path.abspath(target))
        if key not in self._staged:
            self.reserve(target)
        entry = self._staged[key]
        if entry[1] is None:
            entry[1] = _make_temp(entry[0], entry[2])
        return entry[1]

    @property
    def targets(self) -> list[Path]:
        return [e[0] for e in self._staged.values()]

    def discard(self) -> None:
        """Remove every temporary file; the targets are untouched."""
        for _, tmp, _ in self._staged.values():
            if tmp is not None:
                with contextlib.suppress(OSError):
                    tmp.unlink()
        self._staged.clear()

    def commit(self) -> list[Path]:
        """Replace every target with its finished temporary, or (on any failure) none of them."""
        unwritten = [e[0] for e in self._staged.values() if e[1] is None]
        if unwritten:  # a writer was skipped: a bug, and no reason to replace the others
            self.discard()
            raise RuntimeError(f"outputs reserved but never written: {', '.join(map(str, unwritten))}")
        items = [(e[0], e[1]) for e in self._staged.values()]
        for target, tmp in items:
            try:
                with tmp.open("rb+") as fh:
                    os.fsync(fh.fileno())
            except OSError as exc:
                self.discard()
                raise os_error(target, exc) from exc
        done: list[tuple[Path, Path | None]] = []  # replaced so far, with a hard link to the earlier file
        try:
            for target, tmp in items:
                backup = _link_backup(target)
                try:
                    _replace(tmp, target)
                except BaseException:
                    if backup is not None:
                        with contextlib.suppress(OSError):
                            backup.unlink()
                    raise
                done.append((target, backup))
        except PermissionError as exc:
            # A target is held open (Excel on Windows): the outputs are finished, so keep them beside their
            # targets rather than lose the minutes of solving, and put back the ones already replaced.
            kept = self._keep(done, items[len(done):])
            self._staged.clear()
            failed = items[len(done)][0]
            if not kept:
                raise OutputError(f"could not write {failed}: {exc}; nothing was written") from exc
            err = OutputError(f"{failed} is open or locked ({exc.strerror or exc}); every output is unchanged, "
                              f"and the new {'files were' if len(kept) > 1 else 'workbook was'} saved as "
                              f"{', '.join(str(k) for k in kept)}")
            err.kept = kept[0]
            raise err from exc
        except BaseException as exc:
            _roll_back(done)
            self.discard()
            if isinstance(exc, OSError):
                raise os_error(items[min(len(done), len(items) - 1)][0], exc) from exc
            raise
        for _, backup in done:
            if backup is not None:
                with contextlib.suppress(OSError):
                    backup.unlink()
        self._staged.clear()
        self.committed = [t for t, _ in items]
        return self.committed

    def _keep(self, done: list[tuple[Path, Path | None]], left: list[tuple[Path, Path]]) -> list[Path]:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        kept: list[Path] = []

        def keep_name(target: Path) -> Path:
            return target.with_name(f"{target.stem}.locked-{stamp}{target.suffix}")

        for target, backup in done:
            with contextlib.suppress(OSError):
                os.rename(target, keep_name(target))
                kept.append(keep_name(target))
            if backup is not None:
                with contextlib.suppress(OSError):
                    os.rename(backup, target)
        for target, tmp in left:
            try:
                os.rename(tmp, keep_name(target))
                kept.append(keep_name(target))
            except OSError:
                with contextlib.suppress(OSError):
                    tmp.unlink()
        return kept


def _make_temp(target: Path, suffix: str) -> Path:
    """An empty temporary file beside ``target``, with the permissions the target has or would get."""
    try:
        fd, name = tempfile.mkstemp(dir=_folder(target), prefix=f".{target.stem[:_TMP_STEM]}-", suffix=suffix)
    except OSError as exc:
        raise os_error(target, exc) from exc
    os.close(fd)
    tmp = Path(name)
    try:
        # mkstemp makes the file private (0600); an output should be as readable as any file the user
        # saves, and an overwritten one keeps its permissions
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_umask())
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise os_error(target, exc) from exc
    return tmp


def _link_backup(target: Path) -> Path | None:
    """A hard link to the file about to be replaced, so that a later failure in the same commit can put it
    back (None: there is no earlier file, or the file system has no hard links)."""
    if not target.exists():
        return None
    for _ in range(5):
        backup = target.with_name(f".{target.stem[:_TMP_STEM]}-{secrets.token_hex(4)}{target.suffix}.bak")
        try:
            os.link(target, backup)
            return backup
        except FileExistsError:
            continue
        except OSError:
            return None
    return None


def _roll_back(done: list[tuple[Path, Path | None]]) -> None:
    for target, backup in reversed(done):
        with contextlib.suppress(OSError):
            if backup is not None:
                os.replace(backup, target)
            else:
                target.unlink()  # it did not exist before this run


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; replace ``target`` with it only on success."""
    with OutputSet() as outputs:
        yield outputs.temp(Path(target))
        outputs.commit()


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
    if isinstance(value, Fmt):
        value, fmt = value.value, value.fmt
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


class _Row(tuple):
    """A data row already serialised (``_FastRows``): its cells as (column letter, the rest of the ``<c>``
    element after its reference)."""


class _FastRows:
    """A sheet's plain data rows written as XML text, byte for byte what openpyxl writes for the cells
    ``_cell`` makes (``tests/test_cold_writer.py`` compares the two on every kind of value), without a cell
    object, a style lookup and an element tree per cell: the writer's per-cell cost was a seventh of a cold
    run of the reference case. A number format's style id is taken from a cell made the ordinary way at its
    first use, so the workbook's style lists fill in the same order. Titles and headers (bold, filled,
    commented) go through openpyxl as before, and so does every row if openpyxl's write-only internals are
    not as expected (``install`` returns None)."""

    def __init__(self, ws, styles: dict) -> None:  # noqa: ANN001 - an openpyxl write-only worksheet
        from openpyxl.utils import get_column_letter  # noqa: PLC0415

        self.ws, self.styles, self.letter = ws, styles, get_column_letter

    @classmethod
    def install(cls, ws, styles: dict) -> _FastRows | None:  # noqa: ANN001
        """Route ``_Row`` rows of ``ws`` past openpyxl's cells; ``styles``: the workbook's cache of style ids."""
        try:
            ws._get_writer()  # noqa: SLF001 - openpyxl's write-only stream (openpyxl 3.1)
            writer = ws._writer  # noqa: SLF001
            values_to_row, write_row = ws._values_to_row, writer.write_row  # noqa: SLF001
        except AttributeError:
            return None
        if not callable(values_to_row) or not callable(write_row):
            return None

        def rows(values, idx):  # noqa: ANN001, ANN202
            return values if type(values) is _Row else values_to_row(values, idx)

        def write(xf, row, idx) -> None:  # noqa: ANN001
            if type(row) is not _Row:
                write_row(xf, row, idx)
                return
            out = getattr(xf, "_file", None)
            if ws.row_dimensions.get(idx) is not None or not callable(out):  # a row height: openpyxl writes it
                values, fmts = row.source
                write_row(xf, values_to_row([_cell(ws, v, fmts[i] if i < len(fmts) else None)
                                             for i, v in enumerate(values)], idx), idx)
                return
            n = str(idx)
            out(f'<row r="{n}">' + "".join(f'<c r="{c}{n}"{rest}' for c, rest in row) + "</row>")

        ws._values_to_row = rows  # noqa: SLF001
        writer.write_row = write
        return cls(ws, styles)

    def _style(self, key: tuple) -> str:
        """' s="N"' for a number format or a quote prefix, as openpyxl numbers the style on first use."""
        got = self.styles.get(key)
        if got is None:
            from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415

            cell = WriteOnlyCell(self.ws)
            if key[0] == "fmt":
                cell.number_format = key[1]
            else:
                cell.quotePrefix = True
            got = self.styles[key] = f' s="{cell.style_id}"' if cell.has_style else ""
        return got

    def row(self, values: list, fmts: list, warnings: list[str]) -> _Row:
        """``values`` as ``_cell`` makes them (``fmts[i]``: column i's number format), serialised."""
        cells = []
        for i, value in enumerate(values):
            fmt = fmts[i] if i < len(fmts) else None
            if isinstance(value, Fmt):
                value, fmt = value.value, value.fmt
            if value is None:
                continue
            if isinstance(value, bool):
                text, style = ("yes" if value else "no"), ""
            elif isinstance(value, (int, float)):
                if not math.isfinite(value):
                    raise ValueError(f"refusing to write a non-finite number ({value}) in sheet {self.ws.title}")
                style = self._style(("fmt", fmt)) if fmt else ""
                number = "%.16g" % value  # noqa: UP031 - openpyxl's own format (compat.strings.safe_string)
                cells.append((self.letter(i + 1), f'{style} t="n"><v>{number}</v></c>'))
                continue
            else:
                text, quote, changed = safe_text(str(value))
                if changed:
                    warnings.append(f"sheet {self.ws.title}: control characters or line breaks replaced, or text "
                                    f"shortened, in {text[:40]!r}")
                style = self._style(("quote",)) if quote else ""
            if not text:
                cells.append((self.letter(i + 1), f'{style} t="inlineStr" />'))
                continue
            stripped = text.strip()
            space = ' xml:space="preserve"' if stripped and stripped != text else ""
            text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # as ElementTree escapes
            cells.append((self.letter(i + 1), f'{style} t="inlineStr"><is><t{space}>{text}</t></is></c>'))
        out = _Row(cells)
        out.source = (values, fmts)
        return out


def write_workbook(target: Path, tables: list[Table], one_page: bool = False,
                   outputs: OutputSet | None = None) -> list[str]:
    """Write ``tables`` as one workbook at ``target``, atomically. Returns warnings.

    ``one_page``: print each sheet on a single page (else one page wide, as long as it needs).
    ``outputs``: the run's :class:`OutputSet`; the workbook is then only staged, and replaces ``target``
    when the set is committed.
    """
    if outputs is None:
        with OutputSet() as own:
            warnings = write_workbook(target, tables, one_page, own)
            own.commit()
        return warnings
    try:
        return _write_tables(outputs.temp(Path(target)), tables, one_page)
    except OSError as exc:
        raise os_error(Path(target), exc) from exc


def _write_tables(tmp: Path, tables: list[Table], one_page: bool, fast_rows: bool = True) -> list[str]:
    """``fast_rows``: data rows serialised by ``_FastRows``, sheets streamed in memory, headings' styles
    copied (False: a cell object each, styled one by one, streamed to temporary files, as openpyxl writes
    them; the same bytes, for the tests)."""
    from openpyxl import Workbook  # noqa: PLC0415
    from openpyxl.comments import Comment  # noqa: PLC0415
    from openpyxl.styles import Alignment, Font, PatternFill  # noqa: PLC0415
    from openpyxl.utils import get_column_letter  # noqa: PLC0415

    warnings: list[str] = []
    wb = Workbook(write_only=True)
    styles: dict = {}  # the workbook's style ids by number format, for _FastRows
    heading_style: dict = {}  # a header cell's style (openpyxl StyleArray) by its quote prefix
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for t in tables:
        ws = wb.create_sheet(safe_sheet_name(t.name))
        if fast_rows:
            _memory_streams(ws)
        # printed (or saved as PDF) landscape, one page wide: how a plan goes into a board pack
        ws.page_setup.orientation = "landscape"
        ws.page_setup.fitToHeight = 1 if one_page else 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        parts = [t, *(t.sections or [])]
        body = {id(p): [list(r) for r in p.rows] for p in parts}  # twice: for the widths, then written
        widths = []
        for i in range(max(len(p.columns) for p in parts)):
            widths.append(max(_fit_width(p.columns[i], [r[i] for r in body[id(p)] if i < len(r)])
                              for p in parts if i < len(p.columns)))
            ws.column_dimensions[get_column_letter(i + 1)].width = widths[-1]
        # One page wide shrinks a wide table (a batch comparison: 28 columns) below reading size; such a
        # table prints several pages wide instead, each page repeating its first column (the row's name).
        pages = 1 if one_page else max(1, math.ceil(sum(widths) / PAGE_WIDTH_CHARS))
        ws.page_setup.fitToWidth = pages
        if pages > 1:  # a fixed, readable scale across as many pages as it takes (spreadsheet programs differ on
            # how they fit a table to several pages wide; a scale they all honour)
            ws.sheet_properties.pageSetUpPr.fitToPage = False
            ws.page_setup.scale = PRINT_SCALE
            if not t.sections:
                ws.print_title_cols = "A:A"
        title_rows = len(t.title) + 1 if t.title else 0
        if t.freeze and t.columns and not t.sections:  # write-only: panes before the first row
            ws.freeze_panes = f"A{title_rows + 2}"
        if t.columns and not t.sections:
            # a table printed over several pages repeats its header on each
            ws.print_title_rows = f"{title_rows + 1}:{title_rows + 1}"
        row_no = 0
        fast = None
        for part in parts:
            for i, line in enumerate(part.title or []):
                ws.append([_cell(ws, line, bold=i == 0, warnings=warnings)])
                row_no += 1
            if part.title:
                ws.append([])
                row_no += 1
            header = []
            for col in part.columns:
                c = _cell(ws, display_header(col.header))
                # a heading's style is made once (per quote prefix) and copied: each font, fill and alignment
                # set on a cell is looked up in the workbook's lists by equality, and those lists are then
                # filled in the same order whichever heading comes first
                quoted = bool(c.quotePrefix)
                if quoted not in heading_style or not fast_rows:
                    c.font = Font(bold=True)  # as _cell(..., bold=True) set it, before the rest
                    c.fill = header_fill
                    c.font = Font(bold=True)
                    c.alignment = Alignment(wrap_text=True, vertical="top")
                    heading_style[quoted] = copy.copy(c._style)  # noqa: SLF001
                else:
                    c._style = copy.copy(heading_style[quoted])  # noqa: SLF001
                if col.note:
                    c.comment = Comment(col.note, "planner")
                header.append(c)
            if part.columns:
                # wrapped headings need their row's height set: neither Excel nor LibreOffice grows a row of a
                # file on opening it, and the second line would be drawn over the first data row
                lines = max(len(textwrap.wrap(display_header(c.header), max(int(w) - 1, 4)) or [""])
                            for c, w in zip(part.columns, widths, strict=False))
                if lines > 1:
                    ws.row_dimensions[row_no + 1].height = 13.0 * lines + 2
                ws.append(header)
                row_no += 1
            header_row = row_no
            fmts = [c.fmt for c in part.columns]
            n = 0
            if fast is None and fast_rows:  # once a sheet's top is written: it is, at its first row
                fast = _FastRows.install(ws, styles)
            for row in body[id(part)]:
                ws.append(fast.row(row, fmts, warnings) if fast is not None else
                          [_cell(ws, v, fmts[i] if i < len(fmts) else None, warnings=warnings)
                           for i, v in enumerate(row)])
                n += 1
            row_no += n
            below = 0
            for ch in part.charts or []:
                if not n:
                    continue
                if ch.below:
                    # under its table, one after another: a wide table leaves no room beside it on screen
                    ws.add_chart(_chart(ws, ch, header_row, header_row + n), f"A{header_row + n + 2 + below}")
                    below += 21
                    continue
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
    save_workbook(wb, tmp)
    return warnings


def _chart(ws, spec: Chart, header_row: int, last_row: int):  # noqa: ANN001, ANN202
    from openpyxl.chart import BarChart, Reference, ScatterChart, Series  # noqa: PLC0415
    from openpyxl.chart.label import DataLabelList  # noqa: PLC0415

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
            if spec.labels and y in spec.labels:
                # the value printed at each bar: a bar of 0 (a cap of 0 %) is otherwise invisible
                series.dLbls = DataLabelList()
                series.dLbls.showVal = True
                for flag in ("showSerName", "showCatName", "showLegendKey", "showPercent"):
                    setattr(series.dLbls, flag, False)
                if spec.y_format:
                    series.dLbls.numFmt = spec.y_format
    else:
        chart = ScatterChart()
        chart.style = 13
        xs = Reference(ws, min_col=spec.x + 1, min_row=header_row + 1, max_row=last_row)
        for y in spec.ys:
            ys = Reference(ws, min_col=y + 1, min_row=header_row, max_row=last_row)
            series = Series(ys, xs, title_from_data=True)
            series.marker.symbol = "circle"
            chart.series.append(series)
    # titles are XML text like any cell (a sweep's title names its parameter)
    chart.title = safe_text(spec.title)[0] if spec.title else spec.title
    chart.x_axis.title = safe_text(spec.x_title)[0] if spec.x_title else spec.x_title
    chart.y_axis.title = safe_text(spec.y_title)[0] if spec.y_title else spec.y_title
    if spec.y_format:
        chart.y_axis.numFmt = spec.y_format
    if spec.y_max is not None:
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = spec.y_max
    # openpyxl hides axes by default in recent versions; a chart for a manager shows them
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    if len(spec.ys) == 1:
        chart.legend = None  # one series: its name is the chart's title
    chart.width, chart.height = 18, 10
    return chart


def _fit_width(col: Column, values: list[object]) -> float:
    """A column wide enough for its heading (wrapped on at most two lines) and its longest value (up to 60)."""
    head = display_header(col.header)
    if not col.fit:
        return col.width
    need = max(len(head) / 2 + 2, max((len(w) for w in head.split()), default=0) + 2)
    if values and all(type(v) is float or type(v) is int for v in values):
        # a column of plain numbers: the longest text is that of its largest or smallest number (the text
        # grows with the magnitude, a minus sign adds one, and -0.0 keeps its sign), so only those are formatted
        lo, hi = min(values), max(values)
        if math.isfinite(lo) and math.isfinite(hi):
            values = [hi, lo] + ([-0.0] if lo == 0 and any(v == 0 and math.copysign(1.0, v) < 0 for v in values)
                                 else [])
    for v in values:
        if isinstance(v, Fmt):
            v = v.value
        if v is None:
            continue
        if isinstance(v, bool):
            text = "yes"
        elif isinstance(v, (int, float)):
            text = f"{v:,.1f}" if col.fmt and "%" not in col.fmt else f"{v:.1f}"
            if col.fmt and ",," in col.fmt:
                text = f"{v / 1e6:,.1f} M"
        else:
            text = str(v)
        need = max(need, min(len(text), 60) + 2)
    return max(col.width or 0, min(need, 62))


_BAD_SHEET_CHARS = re.compile(r"[:\\/?*\[\]]")


def safe_sheet_name(name: str) -> str:
    """Excel's rules: at most 31 characters, none of : \\ / ? * [ ], no apostrophe at either end."""
    # a control character in a sheet name corrupts workbook.xml itself (safe_text guards the cells)
    cleaned = _BAD_SHEET_CHARS.sub("_", _CONTROL.sub("_", name)).strip("'")[:31].strip("'")
    return cleaned or "Sheet"
