"""Changes to validated inputs (pure): parse a ``WhatIf`` (or ``RegimeChanges``) table and apply a scenario.

The what-if batch applies one scenario per plan; the licence regimes of a ``Regimes`` sheet apply one per
regime of a plan against regimes. Both are the same rows and the same operations.

A scenario is every ``WhatIf`` row with one name, applied in row order. A row
names a sheet, a key (the sheet's id columns joined by ``/``; ``*`` matches any
value in that part), a column and an operation:

* ``set``: give the column this value in every matching row; a key without
  ``*`` that matches no row creates the row (a new supply, lane or setting),
  so several ``set`` rows can fill in a new row's columns;
* ``add`` / ``multiply``: change a number in every matching row;
* ``delete``: remove every matching row.

On an input over periods (contract v2) a row may name a ``period``: the change applies to that period's
rows of the key only. Validated inputs hold one row per key and period (a blank-period row is already
copied into every period it holds in), so "only that period's rows" needs no copying here: the key's row
for that period is the blank row's copy when no row names the period, and changing it changes that period
alone. A ``set`` that matches no row in the period creates one for it (fill in its other columns with more
``set`` rows of the same period); a ``delete`` removes the key in that period only. A blank period changes
every period's rows. So "the refinery arrives in 2028 instead of 2027" is one row (its 2027 capacity set to
0), or one row per year of a ramp that moves with it.

A change that matches nothing (other than a ``set`` that creates), names an
unknown sheet or column, or leaves the input invalid makes the scenario fail
with a message; the batch reports it and goes on with the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from planner.errors import InputError, Issue, visible
from planner.input import schema
from planner.input.data import Inputs
from planner.input.read import BOOL, EMPTY, NUMBER, TEXT, Cell
from planner.input.validate import coerce, tables_to_inputs, whatif_names

_OPERAND = schema.Column("value", "number", required=True)  # any finite number, negative too
ATTR = {"Sites": "sites", "Supply": "supply", "Recipes": "recipes", "CoProducts": "coproducts", "Lanes": "lanes",
        "Demand": "demand", "Controls": "controls"}


@dataclass(frozen=True)
class Change:
    sheet: str
    key: str
    column: str
    operation: str
    value: object
    row: int = 0  # WhatIf row, for messages
    period: str = ""  # contract v2: only this period's rows (blank: every period)
    sheet_of_row: str = "WhatIf"  # the sheet the row is on (RegimeChanges for a regime), for messages

    def describe(self) -> str:
        when = f" in {self.period}" if self.period else ""
        if self.operation == "delete":
            return f"delete {self.sheet} {self.key}{when}"
        return f"{self.operation} {self.sheet} {self.key} {self.column} {self.value}{when}"


@dataclass(frozen=True)
class Scenario:
    name: str
    changes: tuple[Change, ...] = field(default_factory=tuple)


class ScenarioError(Exception):
    """A scenario that cannot be applied; the message says which change and why."""


def parse_whatif(whatif: pd.DataFrame | None, sheet_of_rows: str = "WhatIf") -> list[Scenario]:
    """Scenarios in order of first appearance, their changes in row order.

    ``whatif`` is a WhatIf table checked by ``validate.check_whatif``; sheet, column and setting names are
    spelt as the schema spells them here, whatever case the rows used.
    """
    if whatif is None or whatif.empty:
        return []
    frame = whatif.sort_values("_row", kind="mergesort")
    order: list[str] = []
    changes: dict[str, list[Change]] = {}
    if "period" not in frame:  # a WhatIf table from before contract v2
        frame = frame.assign(period="")
    cols = ["scenario", "sheet", "key", "column", "operation", "value", "_row", "period"]
    for scenario, sheet, key, column, operation, value, row, period in zip(*(frame[c] for c in cols), strict=True):
        name = str(scenario).strip()
        if name not in changes:
            order.append(name)
            changes[name] = []
        sheet, key, column = str(sheet).strip(), str(key).strip(), str(column or "").strip()
        canonical, col_name, key_name = whatif_names(sheet, column, key)
        operation = str(operation).strip().lower()
        if value is not None and isinstance(value, float) and math.isnan(value):
            value = None  # a blank cell: pandas' NaN must not reach a workbook or a sum
        if operation == "delete":
            value = None  # ignored; never a number beside a deleted row
        period = str(period).strip() if isinstance(period, str) else ""
        changes[name].append(Change(canonical or sheet, key_name or key, col_name or column, operation, value,
                                    int(row), period, sheet_of_rows))
    return [Scenario(n, tuple(changes[n])) for n in order]


def _key_parts(sheet: str) -> tuple[str, ...]:
    return schema.SHEET_BY_NAME[sheet].key


def _matches(frame: pd.DataFrame, sheet: str, key: str, period: str = "") -> pd.Series:
    cols = _key_parts(sheet)
    parts = _padded(sheet, key)
    if len(parts) != len(cols):
        raise ScenarioError(f"key {key!r} has {len(parts)} parts; {sheet} keys are {'/'.join(cols)}")
    mask = np.ones(len(frame), dtype=bool)
    for col, part in zip(cols, parts, strict=True):
        if part != "*":
            mask &= _column_is(frame[col], part)
    if period:  # validated v2 tables name the period on every row (blank rows are copied into each period)
        mask &= _column_is(frame["period"], period)
    return pd.Series(mask, index=frame.index)


def _column_is(column: pd.Series, part: str) -> np.ndarray:
    """Which cells of a key column read ``part`` (blank cells read ""). Validated key columns hold text and
    blanks, compared as they are (the bundled regimes make 758 such matches); anything else through its text."""
    values = column.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        return (pd.isna(values) | (values == "")) if part == "" else (values == part)
    return (column.fillna("").astype(str) == part).to_numpy()


def _cell(value: object) -> Cell:
    if (value is None or (isinstance(value, float) and math.isnan(value))
            or (isinstance(value, str) and not value.strip())):
        return Cell(None, EMPTY)
    if isinstance(value, bool):
        return Cell(value, BOOL)
    if isinstance(value, (int, float)):
        return Cell(value, NUMBER)
    return Cell(str(value), TEXT)


def _typed(sheet: str, column: str, value: object) -> object:
    col = schema.SHEET_BY_NAME[sheet].column(column)
    typed, problem = coerce(_cell(value), replace(col, required=False))
    if problem:
        raise ScenarioError(f"{sheet}.{column}: {problem}")
    return typed


def _settings_frame(settings: dict[str, object]) -> pd.DataFrame:
    rows = []
    for k, v in settings.items():
        if isinstance(v, bool):
            v = "yes" if v else "no"
        rows.append({"key": k, "value": v})
    return pd.DataFrame(rows, columns=["key", "value"])


def apply_scenario(inputs: Inputs, scenario: Scenario) -> Inputs:
    """The inputs with the scenario's changes, validated again.

    Raises
    ------
    ScenarioError
        A change matches nothing, names something unknown, or leaves the input invalid.
    """
    # each row keeps the workbook row it came from (``_row``) through the changes, so that a problem the
    # changes cause is reported at the user's row, not at the row's place in the per-period table
    tables = {name: getattr(inputs, attr).copy() for name, attr in ATTR.items()}
    tables["Settings"] = _settings_frame(inputs.settings)
    if inputs.periods is not None:  # the horizon goes with its rows (each row already names its period)
        tables["Periods"] = inputs.periods.copy()
    for name, frame in (("Stock", inputs.stock), ("Contracts", inputs.contracts),
                        ("Reservations", inputs.reservations), ("Regimes", inputs.regimes),
                        ("RegimeChanges", inputs.regime_changes)):
        if frame is not None:  # not changed by a what-if, but part of the input it plans
            # in the order written: the first regime is the one the workbook's plan sheets show
            tables[name] = frame.sort_values("_row", kind="mergesort").reset_index(drop=True)
    for ch in scenario.changes:
        where = f"{ch.sheet_of_row} row {ch.row}" if ch.row else ch.sheet_of_row
        try:
            _check_period(inputs, ch)
            _apply(tables, ch)
        except ScenarioError as exc:
            raise ScenarioError(f"{where} ({ch.describe()}): {exc}") from None
    origin = {name: frame["_row"].tolist() for name, frame in tables.items() if "_row" in frame.columns}
    tables = {name: frame.drop(columns="_row") if name in origin else frame for name, frame in tables.items()}
    try:
        return replace(tables_to_inputs(tables), source=inputs.source, source_sha256=inputs.source_sha256,
                       whatif=None)
    except InputError as exc:
        found = list(dict.fromkeys(_at_origin(i, origin) for i in exc.issues))  # a row copied per period: once
        detail = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
        raise ScenarioError(f"the changed input is invalid: {detail}") from None


def _at_origin(issue: Issue, origin: dict[str, list]) -> str:
    """The issue located at the workbook row its table row came from (in-memory tables number rows from 2),
    or at "a row the what-if adds" for a row no workbook holds. By column name, not letter: the in-memory
    table's columns are in the contract's order, the user's sheet may have them in any."""
    rows = origin.get(issue.sheet)
    if not issue.row or rows is None or not 2 <= issue.row < len(rows) + 2:
        return str(issue)
    row = rows[issue.row - 2]
    if row is None or (isinstance(row, float) and math.isnan(row)):
        column = f" ({issue.column})" if issue.column else ""
        return visible(f"{issue.sheet}, a row the what-if adds{column}: {issue.message}")
    return str(replace(issue, row=int(row), col=-1))


def _check_period(inputs: Inputs, ch: Change) -> None:
    """A change naming a period: the input must have it, and the sheet must hold rows per period."""
    if not ch.period:
        return
    if inputs.periods is None:
        raise ScenarioError(f"period {ch.period}: the input plans one year (it has no Periods sheet); leave the "
                            "WhatIf period blank")
    if ch.period not in inputs.period_ids:
        raise ScenarioError(f"unknown period {ch.period!r} (the input's periods: {', '.join(inputs.period_ids)})")
    if ch.sheet not in schema.SHEET_BY_NAME or not schema.SHEET_BY_NAME[ch.sheet].periodic:
        raise ScenarioError(f"{ch.sheet} holds for the whole horizon; leave the WhatIf period blank")
    if ch.sheet == "Sites" and ch.operation == "delete":
        raise ScenarioError("a site is one for the whole horizon: set its Supply capacity_t to 0 in that period")


def _apply(tables: dict[str, pd.DataFrame], ch: Change) -> None:
    if ch.sheet not in tables:
        known = ", ".join([*ATTR, "Settings"])
        raise ScenarioError(f"unknown sheet {ch.sheet!r} (one of {known})")
    frame = tables[ch.sheet]
    if ch.operation not in schema.OPERATIONS:
        raise ScenarioError(f"unknown operation {ch.operation!r} (set, add, multiply or delete)")
    if ch.sheet == "Settings":
        column = "value"
        if ch.key not in schema.SETTING_BY_KEY:
            raise ScenarioError(f"unknown setting {ch.key!r}")
    else:
        column = ch.column
        if ch.operation != "delete" and column not in schema.SHEET_BY_NAME[ch.sheet].names:
            raise ScenarioError(f"unknown column {column!r} in {ch.sheet}")
    if column == "period":
        raise ScenarioError("a row's period is not changed by a what-if: name it in the WhatIf period column")
    mask = _matches(frame, ch.sheet, ch.key, ch.period)
    where = f" in {ch.period}" if ch.period else ""
    if ch.operation == "delete":
        if not mask.any():
            raise ScenarioError(f"no {ch.sheet} row matches {ch.key!r}{where}")
        tables[ch.sheet] = frame[~mask].reset_index(drop=True)
        return
    if ch.operation == "set":
        if not mask.any():
            if "*" in ch.key:
                raise ScenarioError(f"no {ch.sheet} row matches {ch.key!r}{where}")
            tables[ch.sheet] = frame = _new_row(frame, ch.sheet, ch.key, ch.period)
            mask = _matches(frame, ch.sheet, ch.key, ch.period)
        if ch.sheet == "Settings":
            frame.loc[mask, "value"] = ch.value
        else:
            frame[column] = frame[column].astype(object)
            frame.loc[mask, column] = _typed(ch.sheet, column, ch.value)
        return
    if not mask.any():
        raise ScenarioError(f"no {ch.sheet} row matches {ch.key!r}{where}")
    number, problem = coerce(_cell(ch.value), _OPERAND)
    if problem:
        raise ScenarioError(f"{ch.operation} needs a number: {problem}")
    spec_kind = "number" if ch.sheet == "Settings" else schema.SHEET_BY_NAME[ch.sheet].column(column).kind
    if spec_kind not in ("number", "days"):
        raise ScenarioError(f"{ch.operation} needs a numeric column; {ch.sheet}.{column} is {spec_kind}")
    current = pd.to_numeric(frame.loc[mask, column], errors="coerce")
    if ch.sheet != "Settings":
        default = schema.SHEET_BY_NAME[ch.sheet].column(column).default
        current = current.fillna(default if isinstance(default, (int, float)) else float("nan"))
    if current.isna().any():
        raise ScenarioError(f"{ch.sheet}.{column} is blank in a matching row; use set")
    new = current + number if ch.operation == "add" else current * number
    frame[column] = frame[column].astype(object)
    frame.loc[mask, column] = new.astype(int) if spec_kind == "days" and (new % 1 == 0).all() else new


def _padded(sheet: str, key: str) -> list[str]:
    """Key parts; trailing parts that are optional columns (a lane's product, a recipe's site) may be left off."""
    cols = _key_parts(sheet)
    parts = key.split("/")
    spec = schema.SHEET_BY_NAME[sheet]
    while len(parts) < len(cols) and not spec.column(cols[len(parts)]).required:
        parts.append("")
    return parts


def _new_row(frame: pd.DataFrame, sheet: str, key: str, period: str = "") -> pd.DataFrame:
    cols = _key_parts(sheet)
    parts = _padded(sheet, key)
    row = {c: None for c in frame.columns}
    row.update(dict(zip(cols, parts, strict=True)))
    if period:
        row["period"] = period
    return pd.concat([frame, pd.DataFrame([row])], ignore_index=True)
