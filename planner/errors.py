"""Located problems and the error hierarchy; each error carries its exit code."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_PLAIN = re.compile(r"[ -~]*")  # printable ASCII: nothing to escape
_WORD = re.compile(r"\w+")
_CONFUSABLE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")  # letters of these look alike across scripts


def _escape(ch: str) -> str:
    if ch in "\n\r\t":
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else ""


def visible(text: str) -> str:
    r"""Text as a message shows it: characters that cannot be seen or that pass for others, escaped.

    Two ids that look the same but differ (``MINE\u200b_A`` and ``MINE_A``, an NFD ``E\u0301`` and an
    NFC ``\u00c9``, a Cyrillic ``\u0410`` in a Latin word) must look different in the message that says
    one of them is unknown; a control character must not reach the terminal. Escaped: control, format
    (zero-width, bidi), private-use and unassigned characters, separators other than the space, a
    combining mark that would compose with the letter before it, and in a word mixing Latin, Cyrillic and
    Greek letters, the letters of its less common scripts.
    """
    if _PLAIN.fullmatch(text):
        return text
    odd: set[int] = set()
    for m in _WORD.finditer(text):
        scripts = [(i, _script(c)) for i, c in enumerate(m[0], m.start()) if c.isalpha()]
        counts = {s: sum(1 for _, t in scripts if t == s) for s in _CONFUSABLE_SCRIPTS}
        if sum(1 for n in counts.values() if n) > 1:
            main = max(_CONFUSABLE_SCRIPTS, key=lambda s: (counts[s], s == "LATIN"))
            odd.update(i for i, s in scripts if s in _CONFUSABLE_SCRIPTS and s != main)
    out = []
    for i, ch in enumerate(text):
        cat = unicodedata.category(ch)
        if (i in odd or cat in ("Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp") or (cat == "Zs" and ch != " ")
                or (cat.startswith("M") and i and len(unicodedata.normalize("NFC", text[i - 1] + ch)) == 1)):
            out.append(_escape(ch))
        else:
            out.append(ch)
    return "".join(out)


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
        return visible(f"{loc}: {self.message}" if loc else self.message)


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
