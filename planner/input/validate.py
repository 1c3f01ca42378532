"""Turn raw sheets into typed, checked tables; collect every problem at once.

Each cell is coerced on its own so that every bad cell is reported with its
address (``Supply!C7 (capacity_t): expected a number >= 0, got -50``).
Cross-sheet rules (unique ids, known references, lane groups, recipe cycles)
run on the typed tables. Nothing is guessed: ``"1,000"`` is an error, not 1000.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from planner.errors import InputError, Issue, column_letter
from planner.input import countries, schema
from planner.input.data import Inputs, content_digest, lane_group, remember
from planner.input.read import (
    BOOL,
    DATE,
    EMPTY,
    ERROR,
    FORMULA,
    MAX_ROWS,
    NUMBER,
    RECALC,
    TEXT,
    Cell,
    RawBook,
    RawSheet,
    hidden_warnings,
)

_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}
KNOWN_EXTRA_SHEETS = {"sources", "about", "readme", "instructions"}


def _did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:
        lowered = {o.lower(): o for o in options}
        close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        close = [lowered[c] for c in close]
    return f' (did you mean "{close[0]}"?)' if close else ""


def _show(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


# Characters no workbook can hold (XML 1.0): C0 controls but tab, LF and CR, lone surrogates, U+FFFE/U+FFFF.
# A CSV file can carry them (a scenario named "beep\x07"); written out, they make a file Excel cannot open.
_UNWRITABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _char_name(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X} {name}" if name else f"U+{ord(ch):04X}"


def _text_problem(text: str, is_id: bool) -> str | None:
    """Why a text cell cannot be used: a character no workbook can hold; in an id, also any character
    that is invisible or looks like a space without being one (U+200B, U+00A0, a bidi override, a tab),
    which would make two ids that look alike differ."""
    bad = _UNWRITABLE.search(text)
    if bad:
        return (f"contains the control character {_char_name(bad[0])}, which a workbook cannot hold: "
                f"{_show(text)}; delete it")
    if is_id and not (text.isascii() and text.isprintable()):
        for ch in text:
            if ch != " " and unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cn", "Zs", "Zl", "Zp"):
                return f"contains an invisible character ({_char_name(ch)}): {_show(text)}; delete it"
    return None


def _as_id(cell: Cell) -> str | None:
    if cell.kind == NUMBER:
        v = cell.value
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)
    if cell.kind == BOOL:
        return None
    return str(cell.value).strip()


def coerce(cell: Cell, col: schema.Column) -> tuple[object, str | None]:
    """Coerce one cell to the column's kind. Returns ``(value, problem)``."""
    if cell.kind == ERROR:
        return None, f"cell contains the Excel error {cell.value}"
    if cell.kind == FORMULA:
        if cell.value == RECALC:
            return None, ("holds a formula whose saved value is a placeholder: the workbook asks Excel to recalculate "
                          "every formula when it is opened (xlsxwriter writes it so); open and save the file in Excel, "
                          "or paste values")
        return None, "holds a formula with no saved result; open and save the file in Excel, or paste values"
    if cell.kind == EMPTY:
        if col.required:
            return None, "value required"
        return col.default, None
    if cell.kind == DATE:
        return None, f"expected {col.bounds_text(cap=False) if col.kind != 'id' else 'text'}, got a date ({cell.value})"
    kind = col.kind
    if cell.kind == TEXT and kind in ("id", "group", "text", "country", "enum", "yesno"):
        problem = _text_problem(str(cell.value).strip(), kind != "text")
        if problem:
            return None, problem
    if kind in ("id", "group"):
        v = _as_id(cell)
        if v is None:
            return None, f"expected an id (text), got {_show(cell.value)}"
        return v, None
    if kind == "text":
        return str(cell.value).strip() if cell.kind == TEXT else _as_id(cell), None
    if kind == "any":
        return cell.value, None
    if kind == "country":
        v = _as_id(cell)
        if v is None or not re.fullmatch(r"[A-Za-z]{2}", v):
            return None, f"expected a 2-letter ISO country code, got {_show(cell.value)}"
        v = v.upper()
        if not countries.is_valid(v):
            hint = f' (did you mean "{countries.HINTS[v]}"?)' if v in countries.HINTS else ""
            return None, f"{_show(cell.value)} is not an ISO 3166-1 alpha-2 country code{hint}"
        return v, None
    if kind == "enum":
        v = str(cell.value).strip().lower()
        if v not in col.choices:
            return None, (f"expected {col.bounds_text(cap=False)}, got {_show(cell.value)}"
                          f"{_did_you_mean(v, list(col.choices))}")
        return v, None
    if kind == "yesno":
        if cell.kind == BOOL:
            return bool(cell.value), None
        v = str(cell.value).strip().lower()
        if isinstance(cell.value, (int, float)) and cell.value in (0, 1):
            return bool(cell.value), None
        if v in _YES:
            return True, None
        if v in _NO:
            return False, None
        return None, f"expected yes or no, got {_show(cell.value)}"
    # number or days
    value, problem = _to_number(cell)
    if problem:
        text = str(cell.value).strip()
        if cell.kind == TEXT and text.endswith("%") and _NUMBER_RE.match(text[:-1].strip()):
            pct = float(text[:-1])
            hint = f" (a fraction, not percent: use {pct / 100:g})" if col.hi == 1 else " (no % sign: a plain number)"
            return None, f"expected {col.bounds_text(cap=False)}, got {problem}{hint}"
        return None, f"expected {col.bounds_text(cap=False)}, got {problem}"
    assert value is not None
    if kind == "days":
        if value < 0 or value > schema.MAX_DAYS or not float(value).is_integer():
            return None, f"expected {col.bounds_text()}, got {value:g}"
        return int(value), None
    if kind == "count":
        if value < 0 or value > schema.MAX_COUNT or not float(value).is_integer():
            return None, f"expected {col.bounds_text()}, got {value:g}"
        return int(value), None
    over = col.upper is not None and value > col.upper
    bad = over or (col.lo is not None and (value < col.lo or (col.lo_open and value == col.lo)))
    if bad:
        hint = ""
        if col.hi == 1 and 1 < value <= 100:
            hint = f" (a fraction, not percent: use {value / 100:g} for {value:g} %)"
        elif over and col.hi is None:
            hint = " (above the sanity cap: check the unit and for a typo)"
        return None, f"expected {col.bounds_text(cap=over)}, got {value:g}{hint}"
    return float(value), None


def _to_number(cell: Cell) -> tuple[float | None, str | None]:
    if cell.kind == BOOL:
        return None, f"{_show(cell.value)} (a true/false value)"
    if cell.kind == NUMBER:
        v = float(cell.value)  # type: ignore[arg-type]
    else:
        text = str(cell.value).strip()
        if not _NUMBER_RE.match(text):
            if text.lower().lstrip("+-") in ("inf", "infinity", "nan"):
                return None, f"{_show(cell.value)} (not a finite number)"
            return None, _show(cell.value)
        v = float(text)
    if not math.isfinite(v):
        return None, f"{_show(cell.value)} (not a finite number)"
    return v, None


def _normalise(header: str) -> str:
    return str(header).strip().lower()


def sheet_to_frame(raw: RawSheet, spec: schema.Sheet, issues: list[Issue]) -> pd.DataFrame:
    """Type one sheet's cells per ``spec``; add every problem to ``issues``."""
    positions: dict[str, int] = {}
    wanted = {c.name.lower(): c.name for c in spec.columns}
    extra: list[tuple[str, int]] = []
    for i, h in enumerate(raw.headers):
        key = _normalise(h)
        if not key:
            continue
        name = wanted.get(key)
        if name is None:
            extra.append((str(h).strip(), i))
            continue
        if name in positions:
            issues.append(Issue(spec.name, 1, i, name,
                                f"the column appears twice (also column {column_letter(positions[name])})"))
            continue
        positions[name] = i
    for col in spec.columns:
        if col.name not in positions and col.required:
            found = [str(h).strip() for h in raw.headers if str(h).strip()]
            close = difflib.get_close_matches(col.name.lower(), [f.lower() for f in found], n=1, cutoff=0.6)
            near = next((f for f in found if close and f.lower() == close[0]), None)
            hint = ""
            if near and re.search(r"[(\[]", near):  # a unit in the header: renaming alone would mislabel the values
                hint = (f'; found "{near}": the column must be "{col.name}" in {col.unit or "the documented unit"}; '
                        "convert the values if the unit differs, then rename it")
            elif near:
                hint = f'; found "{near}": rename it to "{col.name}"'

            near_col = next((i for i, h in enumerate(raw.headers) if str(h).strip() == near), -1) if near else -1
            issues.append(
                Issue(
                    spec.name, 1, near_col, col.name,
                    f"required column missing{hint}; columns found: {', '.join(found) or 'none'}",
                )
            )
    for name, i in extra:
        issues.append(
            Issue(spec.name, 1, i, name, f"unknown column, ignored{_did_you_mean(name, list(spec.names))}", "warning")
        )
    if any(i.sheet == spec.name and i.row == 1 and i.severity == "error" for i in issues):
        return pd.DataFrame(columns=[*spec.names, "_row"])

    data: dict[str, list[object]] = {c.name: [] for c in spec.columns}
    rows: list[int] = []
    empty = Cell(None, EMPTY)
    for excel_row, cells in raw.rows:
        rows.append(excel_row)
        for col in spec.columns:
            pos = positions.get(col.name)
            cell = cells[pos] if pos is not None and pos < len(cells) else empty
            value, problem = coerce(cell, col)
            if problem:
                issues.append(Issue(spec.name, excel_row, pos if pos is not None else -1, col.name, problem))
            data[col.name].append(value)
    frame = pd.DataFrame(data, columns=list(spec.names))
    frame["_row"] = pd.Series(rows, dtype="int64")
    return frame


def _layout_issues(raw: RawSheet, spec: schema.Sheet, issues: list[Issue]) -> None:
    """What the cells alone do not say: merged ranges (errors: all but the first cell read as blank, so a
    merged optional cell would silently take its default), hidden data rows and columns (read like visible
    ones, with a warning: a filter that hides rows does not take them out of the plan)."""
    lowered = {n.lower(): n for n in spec.names}
    names = {i: lowered[_normalise(h)] for i, h in enumerate(raw.headers) if _normalise(h) in lowered}
    for ref in raw.merged:
        m = re.fullmatch(r"([A-Z]{1,3})(\d+)(?::[A-Z]{1,3}\d+)?", ref)
        row, col = (int(m[2]), _column_index(m[1])) if m else (0, -1)
        issues.append(Issue(spec.name, row, col, names.get(col, ""),
                            f"cells {ref} are merged: only the first holds a value and the others read as blank; "
                            "unmerge them and fill in every cell"))
    data_rows = {r for r, _ in raw.rows}
    hidden = [r for r in raw.hidden_rows if r in data_rows]
    if hidden:
        why = f" by the filter on {raw.autofilter}" if raw.autofilter else ""
        shown = ", ".join(str(r) for r in hidden[:10]) + (f" and {len(hidden) - 10} more" if len(hidden) > 10 else "")
        what = "1 data row hidden" if len(hidden) == 1 else f"{len(hidden)} data rows hidden"
        read = "is read like a visible row" if len(hidden) == 1 else "are read like visible rows"
        issues.append(Issue(spec.name, hidden[0], message=f"{what} in Excel{why} (rows {shown}) {read}",
                            severity="warning"))
    for c in raw.hidden_columns:
        if c - 1 in names:
            issues.append(Issue(spec.name, 1, c - 1, names[c - 1], "this column is hidden in Excel and is read like "
                                "a visible one", severity="warning"))


def _column_index(letters: str) -> int:
    """0-based index of an Excel column (A -> 0)."""
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def _col(spec: schema.Sheet, name: str) -> int:
    return spec.names.index(name)


# Sheets up to this many rows are checked for repeats and put in key order in plain Python: pandas'
# ``duplicated`` and ``sort_values`` cost 1.5-2.5 ms a call whatever the size, and a validation makes two
# per sheet (half of validating a small case, which what-if batches and the tests do hundreds of times).
# Plain Python is used only where it gives pandas' answer (``_plain_columns``); bigger sheets go to pandas.
SMALL_FRAME = 2_000


def _plain_columns(frame: pd.DataFrame, by: list[str], blanks: bool = False) -> list[list] | None:
    """Columns ``by`` as lists, if the sheet is small and each column holds only ``str`` or only ``int`` values,
    whose equality and order are pandas' too; with ``blanks``, text columns that may hold blanks (None or NaN,
    given as "", as ``fillna("")`` makes them) instead of whole-number ones. None for anything else, which
    pandas matches and orders its own way."""
    if len(frame) > SMALL_FRAME:
        return None
    cols = []
    for k in by:
        values = frame[k].tolist()
        if all(type(v) is str for v in values) or (not blanks and all(type(v) is int for v in values)):
            cols.append(values)
        elif blanks and all(type(v) is str or v is None or (type(v) is float and v != v) for v in values):
            cols.append([v if type(v) is str else "" for v in values])
        else:
            return None
    return cols


def _no_repeats(cols: list[list] | None) -> bool:
    """True if no two rows agree in every one of ``cols`` (``_plain_columns``; None: perhaps they do)."""
    return cols is not None and len(set(zip(*cols, strict=True))) == len(cols[0] if cols else ())


def _dup_check(frame: pd.DataFrame, spec: schema.Sheet, issues: list[Issue]) -> None:
    if frame.empty:
        return
    if spec.name == "Lanes":
        _lane_repeats(frame, issues)
        return
    if spec.name == "Controls":
        _control_repeats(frame, issues)
        return
    keys = list(spec.key)
    # a row for one period and a blank (every period) row of the same key are an override, not a repeat
    by = [*keys, "period"] if spec.periodic else keys
    if _no_repeats(_plain_columns(frame, by)):
        return
    dup = frame[frame.duplicated(by, keep=False)]
    for _, group in dup.groupby(by, sort=True):
        rows = group["_row"].tolist()
        label = "/".join(str(group.iloc[0][k]) for k in keys)
        where = " and ".join(f"{spec.name}!{_letter(spec, keys[0])}{r}" for r in rows)
        issues.append(Issue(spec.name, rows[-1], _col(spec, keys[0]), keys[0], f'duplicate "{label}" ({where})'))


def _lane_repeats(frame: pd.DataFrame, issues: list[Issue]) -> None:
    """Repeated Lanes rows are valid (the contract's last tie-break: the later row governs); say so.

    Two rows repeat each other when they name the same sender, receiver and product in any spelling
    of a group (``country:jp`` and ``country:JP``), since only then can they tie on every other rule.
    """
    def canonical(v: object) -> object:
        return lane_group(v) if isinstance(v, str) else v

    small = _plain_columns(frame, ["from_site", "to_site", "product", "period"], blanks=True)
    if small is not None and "" not in small[0] and "" not in small[1]:  # a blank sender or receiver: pandas
        f, t, p, period = small
        if _no_repeats([[lane_group(v) for v in f], [lane_group(v) for v in t], [v.strip() for v in p], period]):
            return
    keys = pd.DataFrame({"f": frame["from_site"].map(canonical), "t": frame["to_site"].map(canonical),
                         "p": frame["product"].fillna("").astype(str).str.strip(),
                         "period": frame["period"].fillna("").astype(str), "_row": frame["_row"]})
    dup = keys[keys.duplicated(["f", "t", "p", "period"], keep=False)]
    col = _letter(schema.LANES, "from_site")
    for _, group in dup.groupby(["f", "t", "p", "period"], sort=False):
        rows = sorted(int(r) for r in group["_row"])
        earlier = " and ".join(f"Lanes!{col}{r}" for r in rows[:-1])
        issues.append(Issue("Lanes", rows[-1], _col(schema.LANES, "from_site"), "",
                            f"repeats {earlier}; the later row governs", "warning"))


def _control_repeats(frame: pd.DataFrame, issues: list[Issue]) -> None:
    """Repeated Controls rows (one country, product, destination, exporter company, end use and period, the
    destination in any spelling: blank and ``*``, ``JP`` and ``country:jp``) tie on every rule of specificity:
    the later row governs, with a warning naming both cells, as for Lanes. Run after ``_control_routes``, which
    spells every destination one way."""
    keys = ["country", "product", "destination", "exporter_company", "end_use", "period"]
    if _no_repeats(_plain_columns(frame, keys, blanks=True)):
        return
    keyed = frame[[*keys, "_row"]].astype(object).where(frame[[*keys, "_row"]].notna(), "")
    dup = keyed[keyed.duplicated(keys, keep=False)]
    col = _letter(schema.CONTROLS, "country")
    for _, group in dup.groupby(keys, sort=False):
        rows = sorted(int(r) for r in group["_row"])
        earlier = " and ".join(f"Controls!{col}{r}" for r in rows[:-1])
        issues.append(Issue("Controls", rows[-1], _col(schema.CONTROLS, "country"), "",
                            f"repeats {earlier}; the later row governs", "warning"))


def destination_country(value: str) -> tuple[str, str | None]:
    """A Controls ``destination`` as one spelling: ``""`` (any destination: blank or ``*``) or a country code
    (``JP``, ``country:jp``); and the problem, if it names no valid country."""
    v = value.strip()
    if v in ("", "*"):
        return "", None
    prefix, sep, rest = v.partition(":")
    if sep:
        if prefix.strip().lower() != "country":
            return "", f'expected *, a country code or country:XX, got "{v}"'
        v = rest.strip()
    if not re.fullmatch(r"[A-Za-z]{2}", v):
        return "", f'expected *, a 2-letter country code or country:XX, got "{value.strip()}"'
    code = v.upper()
    if not countries.is_valid(code):
        hint = f' (did you mean "{countries.HINTS[code]}"?)' if code in countries.HINTS else ""
        return "", f'"{v}" is not an ISO 3166-1 alpha-2 country code{hint}'
    return code, None


def _control_routes(t: dict[str, pd.DataFrame], issues: list[Issue]) -> None:
    """Controls' route columns: a destination spelt one way (see ``destination_country``), an exporter company
    that is a company in Sites, and a content rule only on rows for every route (a content-rule licence is
    needed wherever the material goes, so it cannot be limited to a destination, exporter or end use)."""
    ctrl = t["Controls"]
    if ctrl.empty:
        return
    companies = sorted({c for c in t["Sites"]["company"] if isinstance(c, str)})
    dest = []
    for row, value in zip(ctrl["_row"], ctrl["destination"], strict=True):
        if not isinstance(value, str):
            dest.append(value)
            continue
        code, problem = destination_country(value)
        if problem:
            issues.append(Issue("Controls", int(row), _col(schema.CONTROLS, "destination"), "destination", problem))
        dest.append(code)
    ctrl["destination"] = pd.Series(dest, index=ctrl.index, dtype=object)
    for row, value in zip(ctrl["_row"], ctrl["exporter_company"], strict=True):
        if isinstance(value, str) and value and value not in companies:
            issues.append(Issue("Controls", int(row), _col(schema.CONTROLS, "exporter_company"), "exporter_company",
                                f'unknown company "{value}" (not a company in Sites){_did_you_mean(value, companies)}'))
    route_cols = ("destination", "exporter_company", "end_use")
    for row, content, *route_values in zip(ctrl["_row"], ctrl["content_rule"], *(ctrl[c] for c in route_cols),
                                           strict=True):
        route = [c for c, v in zip(route_cols, route_values, strict=True) if isinstance(v, str) and v]
        if isinstance(content, (bool, np.bool_)) and content and route:
            issues.append(Issue("Controls", int(row), _col(schema.CONTROLS, "content_rule"), "content_rule",
                                f"a content rule holds for every route: leave {' and '.join(route)} blank on this "
                                "row, or give the route's own parameters on a row without the content rule"))


def _letter(spec: schema.Sheet, name: str) -> str:
    return column_letter(_col(spec, name))


def _settings(frame: pd.DataFrame, issues: list[Issue]) -> dict[str, object]:
    out: dict[str, object] = {s.key: s.default for s in schema.SETTINGS_KEYS}
    spec = schema.SETTINGS
    # setting -> (its first row, the key as written there): keys match whatever the case, so a key given
    # twice in two spellings is a duplicate, never "the last one wins"
    seen: dict[str, tuple[int, str]] = {}
    for _, r in frame.iterrows():
        if r["key"] is None:
            continue  # its cell's own problem is reported
        key = str(r["key"]).strip()
        setting = schema.SETTING_BY_KEY.get(key) or schema.SETTING_BY_KEY.get(key.lower())
        if setting is not None and setting.key in seen:
            first, spelt = seen[setting.key]
            row = int(r["_row"])
            case = f'; "{spelt}" and "{key}" are one key' if spelt != key else ""
            issues.append(Issue("Settings", row, 0, "key",
                                f'duplicate "{setting.key}" (Settings!A{first} and Settings!A{row}{case})'))
            continue
        if setting is not None:
            seen[setting.key] = (int(r["_row"]), key)
        if setting is None:
            issues.append(
                Issue(
                    "Settings", int(r["_row"]), 0, "key",
                    f'unknown setting "{key}"{_did_you_mean(key, list(schema.SETTING_BY_KEY))}',
                )
            )
            continue
        raw = r["value"]
        cell = Cell(None, EMPTY) if raw is None or (isinstance(raw, str) and not raw.strip()) else (
            Cell(raw, NUMBER) if isinstance(raw, (int, float)) and not isinstance(raw, bool)
            else Cell(raw, BOOL) if isinstance(raw, bool) else Cell(str(raw), TEXT)
        )
        value, problem = coerce(cell, setting.as_column())
        if problem:
            issues.append(Issue("Settings", int(r["_row"]), _col(spec, "value"), f"value of {setting.key}", problem))
            continue
        out[setting.key] = value
    return out


def _check_references(t: dict[str, pd.DataFrame], issues: list[Issue]) -> None:
    sites = t["Sites"]
    site_ids = {s for s in sites["site_id"] if isinstance(s, str)}
    stage = dict(zip(sites["site_id"], sites["stage"], strict=True))
    all_ids = sorted(site_ids)

    def unknown(sheet: str, r: pd.Series, column: str, value: str, what: str = "site") -> None:
        issues.append(
            Issue(
                sheet, int(r["_row"]), _col(schema.SHEET_BY_NAME[sheet], column), column,
                f'unknown {what} "{value}" (not in sheet Sites){_did_you_mean(value, all_ids)}',
            )
        )

    for _, r in t["Supply"].iterrows():
        s = r["site_id"]
        if not isinstance(s, str):
            continue
        if s not in site_ids:
            unknown("Supply", r, "site_id", s)
        elif stage[s] == "plant":
            issues.append(
                Issue("Supply", int(r["_row"]), 0, "site_id", f'"{s}" is a plant; plants receive, they do not supply')
            )
    for _, r in t["Demand"].iterrows():
        s = r["site_id"]
        if not isinstance(s, str):
            continue
        if s not in site_ids:
            unknown("Demand", r, "site_id", s)
        elif stage[s] != "plant":
            issues.append(
                Issue("Demand", int(r["_row"]), 0, "site_id", f'"{s}" has stage {stage[s]}; demand belongs to a plant')
            )
    for sheet in ("Recipes", "CoProducts"):
        for _, r in t[sheet].iterrows():
            s = r["site_id"]
            if isinstance(s, str) and s and s not in site_ids:
                unknown(sheet, r, "site_id", s)
    companies = sorted({c for c in sites["company"] if isinstance(c, str)})
    lanes = t["Lanes"]
    # by columns, not iterrows: Lanes is the sheet that grows (100,000 rows for OR-Library capa, where
    # iterrows alone took 15 s)
    for row, *ends in zip(lanes["_row"], lanes["from_site"], lanes["to_site"], strict=True):
        for column, value in zip(("from_site", "to_site"), ends, strict=True):
            if not isinstance(value, str):
                continue
            problem = _group_problem(value, site_ids, companies, all_ids)
            if problem:
                issues.append(Issue("Lanes", int(row), _col(schema.LANES, column), column, problem))
    made = {p for p in t["Supply"]["product"] if isinstance(p, str)}
    for _, r in t["Recipes"].iterrows():
        if isinstance(r["product"], str) and r["product"] not in made:
            issues.append(
                Issue(
                    "Recipes", int(r["_row"]), 0, "product",
                    f'product "{r["product"]}" is not made by any site in Supply (row ignored)', "warning",
                )
            )
    for _, r in t["Demand"].iterrows():
        if isinstance(r["product"], str) and r["product"] not in made:
            issues.append(
                Issue(
                    "Demand", int(r["_row"]), 1, "product",
                    f'no site in Supply makes "{r["product"]}"{_did_you_mean(r["product"], sorted(made))}',
                    "warning",
                )
            )


def _group_problem(value: str, site_ids: set[str], companies: list[str], all_ids: list[str]) -> str | None:
    if value == "*" or value in site_ids:
        return None
    if ":" in value:
        prefix, _, rest = value.partition(":")
        prefix = prefix.strip().lower()
        rest = rest.strip()
        if prefix == "stage":
            if rest.lower() in schema.STAGES:
                return None
            return f'unknown stage "{rest}" (expected one of {", ".join(schema.STAGES)})'
        if prefix == "country":
            if not re.fullmatch(r"[A-Za-z]{2}", rest):
                return f'expected a 2-letter country code after "country:", got "{rest}"'
            if countries.is_valid(rest.upper()):
                return None
            # as in Sites.country: a group of no valid country matches no site, so its lanes would vanish
            hint = f' (did you mean "{countries.HINTS[rest.upper()]}"?)' if rest.upper() in countries.HINTS else ""
            return f'"{rest}" is not an ISO 3166-1 alpha-2 country code{hint}'
        if prefix == "company":
            if rest in companies:
                return None
            return f'unknown company "{rest}" (not a company in Sites){_did_you_mean(rest, companies)}'
    return f'unknown site "{value}" (not in sheet Sites){_did_you_mean(value, all_ids)}'


# The sheets a WhatIf row may change, and the largest operand of add and multiply: finite, and small
# enough that no change can overflow a capped number into infinity.
WHATIF_SHEETS = ("Sites", "Supply", "Recipes", "CoProducts", "Lanes", "Demand", "Controls", "Settings")
_OPERAND = schema.Column("value", "number", required=True)


def whatif_names(sheet: str, column: str, key: str) -> tuple[str | None, str | None, str | None]:
    """A WhatIf row's sheet, column and (for Settings) key as the schema spells them (matched whatever
    the case, like headers and sheet names); None where unknown."""
    sheets = {s.lower(): s for s in WHATIF_SHEETS}
    canonical = sheets.get(sheet.strip().lower())
    if canonical is None:
        return None, None, None
    if canonical == "Settings":
        setting = schema.SETTING_BY_KEY.get(key.strip()) or schema.SETTING_BY_KEY.get(key.strip().lower())
        return canonical, "value", setting.key if setting else None
    names = {n.lower(): n for n in schema.SHEET_BY_NAME[canonical].names}
    return canonical, names.get(column.strip().lower()), key.strip()


def check_whatif(frame: pd.DataFrame, issues: list[Issue], spec: schema.Sheet = schema.WHATIF) -> None:
    """Check every WhatIf row before anything is solved: what can be known without applying it (the sheet,
    column, key shape, operand and value types, the reserved baseline name). What depends on the data (a
    key that matches nothing, a change that leaves the input invalid) is the batch's to report. ``spec``:
    the RegimeChanges sheet, whose rows are WhatIf rows of another name."""

    def problem(r: pd.Series, column: str, message: str) -> None:
        issues.append(Issue(spec.name, int(r["_row"]), _col(spec, column), column, message))

    for _, r in frame.iterrows():
        name, sheet, op = r["scenario"], r["sheet"], r["operation"]
        if spec is schema.WHATIF and isinstance(name, str) and name.strip().lower() == schema.BASELINE:
            problem(r, "scenario", f'"{name.strip()}" is the name of the unchanged input in every batch; '
                                   "give the scenario another name")
        if not isinstance(sheet, str) or op is None or r["key"] is None:
            continue  # the cell's own problem is reported
        key, column = str(r["key"]), str(r["column"] or "")
        canonical, col_name, key_name = whatif_names(sheet, column, key)
        if canonical is None:
            fixed = {"reservations": "a reservation is decided before anything else is known, so no scenario or "
                                     "regime can change it; plan a copy of the input with the Reservations row changed",
                     "stock": "Stock rows hold for every scenario; plan a copy of the input with them changed",
                     "contracts": "Contracts hold for every scenario; plan a copy of the input with them changed"}
            why = fixed.get(sheet.strip().lower())
            problem(r, "sheet", why if why else f'unknown sheet "{sheet.strip()}" (one of {", ".join(WHATIF_SHEETS)})'
                                f"{_did_you_mean(sheet.strip(), list(WHATIF_SHEETS))}")
            continue
        period = r.get("period")
        if isinstance(period, str) and period.strip():  # contract v2: a change to one period's rows
            if canonical == "Settings" or not schema.SHEET_BY_NAME[canonical].periodic:
                problem(r, "period", f"{canonical} holds for the whole horizon (it has no period column); "
                                     "leave period blank")
                continue
            if op == "delete" and canonical == "Sites":
                problem(r, "period", "a site is one for the whole horizon: to take it out of one period, set its "
                                     "Supply capacity_t to 0 in that period")
                continue
        if canonical == "Settings":
            if key_name is None:
                hint = _did_you_mean(key.strip(), list(schema.SETTING_BY_KEY))
                problem(r, "key", f'unknown setting "{key.strip()}"{hint}')
                continue
            target = schema.SETTING_BY_KEY[key_name].as_column()
        else:
            sheet_spec = schema.SHEET_BY_NAME[canonical]
            parts = key.strip().split("/")
            while len(parts) < len(sheet_spec.key) and not sheet_spec.column(sheet_spec.key[len(parts)]).required:
                parts.append("")
            if len(parts) != len(sheet_spec.key):
                problem(r, "key", f'"{key.strip()}" has {len(key.strip().split("/"))} parts; {canonical} rows are '
                                  f'named by {"/".join(sheet_spec.key)}')
                continue
            if op == "delete":
                continue
            if not column.strip():
                problem(r, "column", f"value required: the {canonical} column to {op}")
                continue
            if col_name is None:
                problem(r, "column", f'unknown column "{column.strip()}" in {canonical}'
                                     f"{_did_you_mean(column.strip(), list(sheet_spec.names))}")
                continue
            if col_name == "period":
                problem(r, "column", "a row's period is not changed by a what-if: name the period in the WhatIf "
                                     "row's own period column")
                continue
            target = sheet_spec.column(col_name)
        where = f"{canonical}.{key_name}" if canonical == "Settings" else f"{canonical}.{col_name}"
        if op in ("add", "multiply"):
            if target.kind not in ("number", "days"):
                problem(r, "operation", f"{op} needs a numeric column; {where} is {target.kind}")
                continue
            value, bad = coerce(_whatif_cell(r["value"]), _OPERAND)
            if bad is None and abs(value) > schema.MAX_OPERAND:
                bad = f"expected a number between -{schema.number_text(schema.MAX_OPERAND)} and " \
                      f"{schema.number_text(schema.MAX_OPERAND)}, got {value:g}"
            if bad:
                problem(r, "value", f"{op} needs a number: {bad}")
        elif op == "set":
            _, bad = coerce(_whatif_cell(r["value"]), target)
            if bad:
                problem(r, "value", f"not a valid {where}: {bad}")


def _whatif_cell(value: object) -> Cell:
    """A WhatIf value (read with kind "any") as the cell it came from."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Cell(None, EMPTY)
    if isinstance(value, bool):
        return Cell(value, BOOL)
    if isinstance(value, (int, float)):
        return Cell(value, NUMBER)
    return Cell(value, TEXT) if str(value).strip() else Cell(None, EMPTY)


def _check_cycles(recipes: pd.DataFrame, coproducts: pd.DataFrame, issues: list[Issue]) -> None:
    edges: dict[str, set[str]] = {}
    pairs = [*zip(recipes["input"], recipes["product"], strict=True),
             *zip(coproducts["product"], coproducts["coproduct"], strict=True)]
    for a, b in pairs:
        if isinstance(a, str) and isinstance(b, str):
            edges.setdefault(a, set()).add(b)
    state: dict[str, int] = {}
    stack_path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack_path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack_path[stack_path.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack_path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                issues.append(
                    Issue("Recipes", message="the bill of materials has a cycle: " + " -> ".join(cycle))
                )
                return


def _finish(frame: pd.DataFrame, spec: schema.Sheet) -> pd.DataFrame:
    by = [*spec.key, "period", "_row"] if spec.periodic and "_order" not in frame else \
        [*spec.key, "_order", "_row"] if spec.periodic else [*spec.key, "_row"]
    cols = _plain_columns(frame, by)
    if cols is None:
        frame = frame.sort_values(by, kind="mergesort").reset_index(drop=True)
    else:  # the same stable order: Python's sort is stable too, and ``_row`` breaks every tie anyway
        keys = list(zip(*cols, strict=True))
        frame = frame.take(sorted(range(len(keys)), key=keys.__getitem__)).reset_index(drop=True)
    return frame.drop(columns="_order") if "_order" in frame else frame


def _periods(tables: dict[str, pd.DataFrame], issues: list[Issue]) -> pd.DataFrame | None:
    """The horizon (contract v2), or None for a one-year (v1) input; every period a row names must be in it.

    Also: a site's qualification terms (status, cost, lead) are one decision over the horizon, so they
    may not differ between its period rows.
    """
    pt = tables["Periods"]

    def named_rows(keep=None) -> list[tuple[schema.Sheet, pd.Series]]:  # noqa: ANN001
        """Rows naming a period (of those not in ``keep``, if given): masks first, since a horizon has
        thousands of rows and only the odd one is in error."""
        out = []
        for spec in schema.SHEETS:
            if not spec.periodic:
                continue
            f = tables[spec.name]
            col = f["period"]
            mask = col.map(lambda v: isinstance(v, str) and v != "").astype(bool)
            if keep is not None:
                mask &= ~col.isin(keep)
            out += [(spec, r) for _, r in f[mask].iterrows()]
        return out

    if pt.empty:
        named = named_rows()
        for _, r in tables["Contracts"].iterrows():
            issues.append(Issue("Contracts", int(r["_row"]), 0, "site_id",
                                "contracts run over periods: they need a Periods sheet (one row for a single year)"))
        for _, r in tables["Stock"].iterrows():
            issues.append(Issue("Stock", int(r["_row"]), 0, "site_id",
                                "stock is carried between periods: it needs a Periods sheet"))
        for _, r in tables["Reservations"].iterrows():
            issues.append(Issue("Reservations", int(r["_row"]), 0, "site_id",
                                "reservations run over periods: they need a Periods sheet (one row for a single year)"))
        cover = tables["Demand"][tables["Demand"]["min_cover_days"].fillna(0) > 0]
        for _, r in cover.iterrows():
            issues.append(Issue("Demand", int(r["_row"]), _col(schema.DEMAND, "min_cover_days"), "min_cover_days",
                                "a stockpile is held between periods: min_cover_days needs a Periods sheet"))
        for spec, r in named:
            issues.append(Issue(spec.name, int(r["_row"]), _col(spec, "period"), "period",
                                f'period "{r["period"]}" but there is no Periods sheet listing the periods'))
        return None
    ids = [p for p in pt["period"].tolist() if isinstance(p, str)]
    for spec, r in named_rows(ids):
        if r["period"] not in ids:
            issues.append(Issue(spec.name, int(r["_row"]), _col(spec, "period"), "period",
                                f'unknown period "{r["period"]}" (not in sheet Periods)'
                                f"{_did_you_mean(r['period'], ids)}"))
    sites = tables["Sites"]
    for site, group in sites.groupby("site_id", sort=True):
        for col in ("status", "qualification_cost_usd", "qualification_periods"):
            if group[col].nunique(dropna=False) > 1:
                rows = group["_row"].tolist()
                issues.append(Issue("Sites", int(rows[-1]), _col(schema.SITES, col), col,
                                    f'differs between the period rows of "{site}" '
                                    f'({", ".join(f"Sites!A{r}" for r in rows)}); a qualification is decided once '
                                    "for the horizon: give it on one row with a blank period"))
    made = set(zip(tables["Supply"]["site_id"], tables["Supply"]["product"], strict=True))
    plants = set(tables["Sites"].loc[tables["Sites"]["stage"] == "plant", "site_id"])
    for _, r in tables["Contracts"].iterrows():
        at = int(r["_row"])
        if (r["site_id"], r["product"]) not in made:
            issues.append(Issue("Contracts", at, 0, "site_id",
                                f'"{r["site_id"]}" has no Supply row for "{r["product"]}"'))
        if isinstance(r["plant"], str) and r["plant"] and r["plant"] not in plants:
            issues.append(Issue("Contracts", at, 2, "plant", f'"{r["plant"]}" is not a plant in Sites'))
        for col in ("first_period", "last_period"):
            if isinstance(r[col], str) and r[col] and r[col] not in ids:
                issues.append(Issue("Contracts", at, _col(schema.CONTRACTS, col), col,
                                    f'unknown period "{r[col]}" (not in sheet Periods){_did_you_mean(r[col], ids)}'))
        hi = r["max_t"]
        if hi is not None and not pd.isna(hi) and r["min_t"] is not None and float(r["min_t"]) > float(hi):
            issues.append(Issue("Contracts", at, _col(schema.CONTRACTS, "min_t"), "min_t",
                                f"min_t {float(r['min_t']):g} is above max_t {float(hi):g}"))
    for _, r in tables["Reservations"].iterrows():
        at = int(r["_row"])
        if (r["site_id"], r["product"]) not in made:
            issues.append(Issue("Reservations", at, 0, "site_id",
                                f'"{r["site_id"]}" has no Supply row for "{r["product"]}": a reservation adds to a '
                                "Supply row's capacity (a row with capacity 0 if all of it is reserved)"))
        named = {}
        for col in ("first_period", "last_period"):
            if isinstance(r[col], str) and r[col]:
                if r[col] in ids:
                    named[col] = ids.index(r[col])
                else:
                    issues.append(Issue("Reservations", at, _col(schema.RESERVATIONS, col), col,
                                        f'unknown period "{r[col]}" (not in sheet Periods)'
                                        f"{_did_you_mean(r[col], ids)}"))
        if named.get("first_period", 0) > named.get("last_period", len(ids)):
            issues.append(Issue("Reservations", at, _col(schema.RESERVATIONS, "last_period"), "last_period",
                                f'last_period "{r["last_period"]}" is before first_period "{r["first_period"]}"'))
    demanded = set(zip(tables["Demand"]["site_id"], tables["Demand"]["product"], strict=True))
    rec = tables["Recipes"]
    generic: dict[str, set[str]] = {}
    own: dict[tuple[str, str], set[str]] = {}
    for site, q, inp in zip(rec["site_id"].fillna(""), rec["product"], rec["input"], strict=True):
        (own.setdefault((site, q), set()) if site else generic.setdefault(q, set())).add(inp)
    taken = {(site, inp) for site, q in made for inp in own.get((site, q), generic.get(q, set()))}
    for _, r in tables["Stock"].iterrows():
        if (r["site_id"], r["product"]) not in demanded | taken:
            issues.append(Issue("Stock", int(r["_row"]), 0, "site_id",
                                f'stock of "{r["product"]}" at "{r["site_id"]}": stock is held where the product is '
                                "used, at a plant that demands it or a site whose recipe takes it (no Demand row "
                                "and no Recipes input for the pair)"))
    out = pt[["period", "days"]].copy()
    out["days"] = out["days"].astype(int)
    return out.reset_index(drop=True)


def _expand_periods(frame: pd.DataFrame, spec: schema.Sheet, periods: pd.DataFrame) -> pd.DataFrame:
    """One row per (row, period it applies to): a blank period means every period, unless a row of the same
    key names that period (the named row replaces it there). Rows keep their ``_row`` for messages."""
    ids = periods["period"].tolist()
    if frame.empty:
        return frame.assign(_order=pd.Series(dtype=int))
    blank = frame["period"].isna() | (frame["period"] == "")
    every = frame[blank].drop(columns="period").merge(pd.DataFrame({"period": ids}), how="cross")
    named = frame[~blank]
    keys = list(spec.key)
    if spec.name == "Lanes":  # the group spelling is part of the key (country:jp and country:JP are one)
        def canon(f: pd.DataFrame) -> pd.Series:
            return pd.Series(list(zip(f["from_site"].map(lane_group), f["to_site"].map(lane_group),
                                      f["product"].fillna(""), f["period"], strict=True)), index=f.index)
    else:
        def canon(f: pd.DataFrame) -> pd.Series:
            return pd.Series(list(zip(*(f[k] for k in keys), f["period"], strict=True)), index=f.index)
    if len(named) and len(every):
        every = every[~canon(every).isin(set(canon(named)))]
    out = pd.concat([every, named], ignore_index=True)
    out["_order"] = out["period"].map({p: i for i, p in enumerate(ids)}).astype(int)
    return out[[*frame.columns, "_order"]]


def validate_book(book: RawBook, *, strict_numerics: bool = False, digests: dict[str, bytes] | None = None,
                  typed: dict[str, tuple[pd.DataFrame, tuple[Issue, ...]]] | None = None) -> Inputs:
    """Validate a raw book. Raises ``InputError`` listing every problem.

    ``strict_numerics``: numbers spanning too many orders of magnitude are errors, not warnings.
    ``digests``: per sheet name, a digest of the sheet's content (``tables_to_inputs``), under which its
    typed frame and its own issues are remembered; ``typed``: per sheet name, the typed frame and issues
    remembered for it (the sheet then comes without rows).
    """
    issues: list[Issue] = list(hidden_warnings(book))
    same: dict[str, list[str]] = {}
    for n in book.sheets:
        same.setdefault(_normalise(n), []).append(n)
    by_norm = {k: v[0] for k, v in same.items()}
    tables: dict[str, pd.DataFrame] = {}
    for spec in schema.SHEETS:
        actual = by_norm.get(spec.name.lower())
        if len(same.get(spec.name.lower(), [])) > 1:
            # sheet names match whatever the case and surrounding blanks: reading one would drop the other
            names = " and ".join(_show(n) for n in same[spec.name.lower()])
            issues.append(Issue(spec.name, message=f"{names} are one sheet (names match whatever the case and "
                                                   "surrounding blanks); delete or rename all but one"))
            actual = None
        if actual is None and spec.name.lower() in same:
            tables[spec.name] = pd.DataFrame(columns=[*spec.names, "_row"])
            continue
        if actual is None:
            if spec.required:
                found = sorted(book.sheets)
                issues.append(
                    Issue(
                        spec.name,
                        message=f"required sheet missing{_did_you_mean(spec.name, found)}; "
                        f"sheets found: {', '.join(found) or 'none'}",
                    )
                )
            tables[spec.name] = pd.DataFrame(columns=[*spec.names, "_row"])
            continue
        raw = book.sheets[actual]
        if typed and actual in typed:
            frame, known = typed[actual]
            tables[spec.name] = frame.copy(deep=True)  # the checks below fill and reorder it
            issues.extend(known)
            continue
        key = (spec.name, digests[actual]) if digests and actual in digests else None
        own: list[Issue] = []
        tables[spec.name] = sheet_to_frame(raw, spec, own)
        _layout_issues(raw, spec, own)
        if spec.required and not raw.rows:
            own.append(Issue(spec.name, message="the sheet has no data rows"))
        issues.extend(own)
        if key is not None:
            remember(_PARSED, key, (tables[spec.name].copy(deep=True), tuple(own)), _PARSED_MAX)
    known = {s.name.lower() for s in schema.SHEETS} | KNOWN_EXTRA_SHEETS
    # required sheets that are missing are reported above, with their own suggestion
    absent = [s.name for s in schema.SHEETS if s.name.lower() not in by_norm and not s.required]
    for name in book.sheets:
        if _normalise(name) not in known and book.kind != "memory":
            # A misspelt optional sheet (Setings) would silently drop every row in it: refuse instead.
            close = _did_you_mean(name, absent)
            issues.append(
                Issue(
                    name,
                    message=f"unknown sheet{close}; rename it, or it is ignored" if close else
                    "unknown sheet, ignored",
                    severity="error" if close else "warning",
                )
            )
    structural = [i for i in issues if i.severity == "error" and (i.row in (0, 1))]
    if not structural:  # cell errors leave None in a cell; the cross-sheet checks skip those and still run
        sites = tables["Sites"]
        for col in ("name", "company"):
            blank = sites[col].isna() | (sites[col].astype(str).str.strip() == "")
            sites[col] = sites[col].astype(object).where(~blank, sites["site_id"])
        _control_routes(tables, issues)
        for spec in schema.SHEETS:
            if spec.unique_key and spec.name != "Settings":
                _dup_check(tables[spec.name], spec, issues)
        _check_references(tables, issues)
        _check_cycles(tables["Recipes"], tables["CoProducts"], issues)
    periods = _periods(tables, issues) if not structural else None
    if len(tables["WhatIf"]) and not any(i.sheet == "WhatIf" and i.row == 1 and i.severity == "error" for i in issues):
        check_whatif(tables["WhatIf"], issues)
    settings = _settings(tables["Settings"], issues)
    if not structural:
        _regimes(tables, issues)
    if not [i for i in issues if i.severity == "error"]:
        for w in numeric_warnings(tables):
            issues.append(Issue(w.sheet, message=w.message + (" (--strict-numerics)" if strict_numerics else ""),
                                severity="error" if strict_numerics else "warning"))
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise InputError(f"{book.path} has {len(errors)} problem{'s' * (len(errors) != 1)}", sorted(errors))
    if periods is not None:
        for spec in schema.SHEETS:
            if spec.periodic:
                tables[spec.name] = _expand_periods(tables[spec.name], spec, periods)
    for spec in schema.SHEETS:
        tables[spec.name] = _finish(tables[spec.name], spec)
    whatif = tables["WhatIf"] if len(tables["WhatIf"]) else None
    return Inputs(
        sites=tables["Sites"],
        supply=tables["Supply"],
        recipes=tables["Recipes"],
        coproducts=tables["CoProducts"],
        lanes=tables["Lanes"].sort_values("_row", kind="mergesort").reset_index(drop=True),
        demand=tables["Demand"],
        controls=tables["Controls"],
        settings=settings,
        whatif=whatif,
        warnings=tuple(sorted(i for i in issues if i.severity == "warning")),
        source=book.path,
        source_sha256=_sha256(book.path) if book.kind in ("xlsx", "csv") else "",
        periods=periods,
        stock=tables["Stock"] if len(tables["Stock"]) else None,
        contracts=tables["Contracts"] if len(tables["Contracts"]) else None,
        reservations=tables["Reservations"] if len(tables["Reservations"]) else None,
        regimes=tables["Regimes"] if len(tables["Regimes"]) else None,
        regime_changes=tables["RegimeChanges"] if len(tables["Regimes"]) else None,
    )


# Probabilities are typed to a few decimals (0.35, 0.1, 1/3 as 0.3333): a sum within this of 1 is 1.
PROBABILITY_TOLERANCE = 1e-4


def _regimes(tables: dict[str, pd.DataFrame], issues: list[Issue]) -> None:
    """Regimes: probabilities that add to 1, and RegimeChanges rows that name a listed regime and are
    well-formed WhatIf rows. Whether each change matches the input is known when it is applied (planning)."""
    reg, changes = tables["Regimes"], tables["RegimeChanges"]
    if reg.empty:
        for _, r in changes.iterrows():
            issues.append(Issue("RegimeChanges", int(r["_row"]), 0, "scenario",
                                "there is no Regimes sheet listing the regimes and their probabilities"))
        return
    probs = pd.to_numeric(reg["probability"], errors="coerce")
    if probs.notna().all():
        total = float(probs.sum())
        if abs(total - 1.0) > PROBABILITY_TOLERANCE:
            last = int(reg["_row"].max())
            issues.append(Issue("Regimes", last, _col(schema.REGIMES, "probability"), "probability",
                                f"the probabilities add up to {total:.6g}, not 1 (Regimes!B2:B{last}); each regime's "
                                "probability is its share of the outcomes, so together they must make 1"))
    names = {str(n).strip() for n in reg["scenario"] if isinstance(n, str)}
    for _, r in changes.iterrows():
        name = r["scenario"]
        if isinstance(name, str) and name.strip() not in names:
            issues.append(Issue("RegimeChanges", int(r["_row"]), 0, "scenario",
                                f'"{name.strip()}" is not a regime on the Regimes sheet'
                                f"{_did_you_mean(name.strip(), sorted(names))}"))
    if len(changes):
        check_whatif(changes, issues, schema.REGIME_CHANGES)


# Numbers compared for range, by family: a span of more than SPAN_LIMIT within one family (or a value above
# HUGE) is usually a unit slip or a typo, and it costs the solver precision (PuLP's and HiGHS's guides).
SPAN_LIMIT = 1e9
HUGE = 1e12
FAMILIES = {
    "prices (USD/kg)": [("Supply", "unit_cost_usd_per_kg"), ("Lanes", "freight_usd_per_kg"),
                        ("Lanes", "duty_usd_per_kg"), ("Demand", "shortage_cost_usd_per_kg"),
                        ("Controls", "denial_cost_usd_per_kg")],
    "tonnages (t/yr)": [("Supply", "capacity_t"), ("Demand", "quantity_t"), ("Sites", "min_volume_t")],
    "factors (t/t)": [("Recipes", "input_t_per_t"), ("CoProducts", "coproduct_t_per_t")],
}


def numeric_warnings(tables: dict[str, pd.DataFrame]) -> list[Issue]:
    """Warnings for numbers spanning too many orders of magnitude within a family, naming both cells."""
    out = []
    for family, cols in FAMILIES.items():
        found = []
        for sheet, col in cols:
            frame = tables.get(sheet)
            if frame is None or col not in frame or frame.empty:
                continue
            vals = pd.to_numeric(frame[col], errors="coerce").abs()
            for v, row in zip(vals, frame["_row"], strict=True):
                if v == v and v > 0:
                    found.append((float(v), sheet, int(row), col))
        if not found:
            continue
        lo, hi = min(found), max(found)
        where = lambda f: f"{f[1]}!{column_letter(_col(schema.SHEET_BY_NAME[f[1]], f[3]))}{f[2]} ({f[3]})"  # noqa: E731
        if hi[0] / lo[0] > SPAN_LIMIT:
            out.append(Issue("", message=f"numbers span {math.log10(hi[0] / lo[0]):.0f} orders of magnitude among "
                             f"{family} (smallest {lo[0]:g} at {where(lo)}, largest {hi[0]:g} at {where(hi)}): "
                             "the solver may lose precision; check units and typos", severity="warning"))
        elif hi[0] > HUGE:
            out.append(Issue("", message=f"numbers up to {hi[0]:g} among {family} (at {where(hi)}): "
                             "the solver may lose precision; check units and typos", severity="warning"))
    return out


def _sha256(path: Path) -> str:
    """A workbook's SHA-256 as ``sha256sum`` prints it; a CSV folder's over each file's name and bytes."""
    if not path.is_dir():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    h = hashlib.sha256()
    for f in sorted(f for f in path.iterdir() if f.suffix.lower() == ".csv"):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def load(path: Path | str, max_rows: int = MAX_ROWS, strict_numerics: bool = False) -> Inputs:
    """Read and validate an input workbook or CSV folder (at most ``max_rows`` data rows a sheet)."""
    from planner.input.read import read_input  # noqa: PLC0415

    return validate_book(read_input(Path(path), max_rows), strict_numerics=strict_numerics)


# Typed sheets of in-memory tables by (sheet, content digest): a what-if or a licence regime re-validates its
# whole input, but changes one or two sheets; the others are typed once (the 16 bundled regimes: 17
# validations of the five-year case, each re-typing 1,800 rows of which a regime changes a few dozen).
# Only the typing of a sheet is remembered: the checks across sheets run every time.
_PARSED: dict[tuple[str, bytes], tuple[pd.DataFrame, tuple[Issue, ...]]] = {}
_PARSED_MAX = 48


def tables_to_inputs(tables: dict[str, pd.DataFrame], source: Path | None = None) -> Inputs:
    """Validate in-memory tables (DataFrames keyed by sheet name), as if read from a file.

    Values go through the same cell-level checks as a workbook, so tests and
    scripts get exactly the planner's validation.
    """
    sheets: dict[str, RawSheet] = {}
    digests: dict[str, bytes] = {}
    typed: dict[str, tuple[pd.DataFrame, tuple[Issue, ...]]] = {}
    for name, frame in tables.items():
        headers = [str(c) for c in frame.columns]
        if name in schema.SHEET_BY_NAME:
            digests[name] = content_digest(frame)  # its headers are its columns' names
            if (name, digests[name]) in _PARSED:  # typed before: its cells are not needed
                typed[name] = _PARSED[(name, digests[name])]
                sheets[name] = RawSheet(name, headers)
                continue
        rows = []
        for i, rec in enumerate(frame.itertuples(index=False, name=None), start=2):
            cells = []
            for v in rec:
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    cells.append(Cell(None, EMPTY))
                elif isinstance(v, bool):
                    cells.append(Cell(v, BOOL))
                elif isinstance(v, (int, float)):
                    cells.append(Cell(v, NUMBER))
                elif isinstance(v, str) and not v.strip():
                    cells.append(Cell(None, EMPTY))
                else:
                    cells.append(Cell(str(v) if not isinstance(v, str) else v, TEXT))
            rows.append((i, cells))
        sheets[name] = RawSheet(name, headers, rows)
    return validate_book(RawBook(source or Path("<tables>"), sheets, "memory"), digests=digests, typed=typed)


def load_whatif(path: Path | str) -> pd.DataFrame:
    """The ``WhatIf`` sheet of a separate workbook (or CSV folder), validated."""
    from planner.input.read import read_input  # noqa: PLC0415

    book = read_input(Path(path))
    name = next((n for n in book.sheets if _normalise(n) == "whatif"), None)
    if name is None:
        raise InputError(f"{path} has no WhatIf sheet; sheets found: {', '.join(sorted(book.sheets)) or 'none'}")
    issues: list[Issue] = []
    frame = sheet_to_frame(book.sheets[name], schema.WHATIF, issues)
    if not any(i.row == 1 and i.severity == "error" for i in issues):
        check_whatif(frame, issues)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise InputError(f"{path} has {len(errors)} problem{'s' * (len(errors) != 1)}", sorted(errors))
    return frame


def load_regimes(path: Path | str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``Regimes`` and ``RegimeChanges`` sheets of a separate workbook (or CSV folder), validated: a set
    of licence regimes to plan one market workbook against (``planner solve --regimes FILE``)."""
    from planner.input.read import read_input  # noqa: PLC0415

    book = read_input(Path(path))
    found = {_normalise(n): n for n in book.sheets}
    if "regimes" not in found:
        raise InputError(f"{path} has no Regimes sheet; sheets found: {', '.join(sorted(book.sheets)) or 'none'}")
    issues: list[Issue] = []
    tables = {"Regimes": sheet_to_frame(book.sheets[found["regimes"]], schema.REGIMES, issues)}
    changes = book.sheets.get(found.get("regimechanges", ""))
    tables["RegimeChanges"] = (sheet_to_frame(changes, schema.REGIME_CHANGES, issues) if changes is not None else
                               pd.DataFrame(columns=[*schema.REGIME_CHANGES.names, "_row"]))
    if not any(i.row == 1 and i.severity == "error" for i in issues):
        _dup_check(tables["Regimes"], schema.REGIMES, issues)
        _regimes(tables, issues)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise InputError(f"{path} has {len(errors)} problem{'s' * (len(errors) != 1)}", sorted(errors))
    return (_finish(tables["Regimes"], schema.REGIMES), _finish(tables["RegimeChanges"], schema.REGIME_CHANGES))
