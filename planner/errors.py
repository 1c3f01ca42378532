"""Located problems and the error hierarchy; each error carries its exit code."""

from __future__ import annotations

from dataclasses import dataclass


def column_letter(index: int) -> str:
    """Excel column letter of a 0-based column index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


@dataclass(frozen=True, order=True)
class Issue:
    """One problem (or warning) found in the input, located like ``Supply!C7 (capacity_t)``."""

    sheet: str
    row: int = 0  # Excel row number (1 = header); 0 when the issue is not about one row
    col: int = -1  # 0-based column index; -1 when unknown
    column: str = ""
    message: str = ""
    severity: str = "error"

    @property
    def location(self) -> str:
        if not self.sheet:
            return ""
        cell = ""
        if self.row and self.col >= 0:
            cell = f"!{column_letter(self.col)}{self.row}"
        elif self.row:
            cell = f" row {self.row}"
        name = f" ({self.column})" if self.column else ""
        return f"{self.sheet}{cell}{name}"

    def __str__(self) -> str:
        loc = self.location
        return f"{loc}: {self.message}" if loc else self.message


class PlannerError(Exception):
    """Base of every error the command line reports without a traceback."""

    exit_code = 1

    def __init__(self, message: str, issues: list[Issue] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.issues = list(issues or [])


class UsageError(PlannerError):
    exit_code = 2


class InputError(PlannerError):
    """The input cannot be used: unreadable, unsafe or invalid. Exit 3."""

    exit_code = 3


class InfeasibleError(PlannerError):
    """Demand cannot be met in full (shortage not allowed). Exit 4."""

    exit_code = 4

    def __init__(self, message: str, findings: list[str] | None = None) -> None:
        super().__init__(message)
        self.findings = list(findings or [])


class NoSolutionError(PlannerError):
    """The solver stopped without a usable plan. Exit 5."""

    exit_code = 5


class OutputError(PlannerError):
    """The plan was computed but could not be written. Exit 6.

    ``kept``: where the finished workbook was saved instead, if anywhere.
    """

    exit_code = 6
    kept = None
