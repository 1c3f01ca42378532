"""Installed distributions' versions for the run info, without importing ``importlib.metadata``.

``importlib.metadata`` brings ``email`` and ``socket`` with it: 10-20 ms of a cold ``planner solve`` that reads
two version strings. :func:`dist_version` finds the distribution as ``importlib.metadata`` does (the first
``<name>-*.dist-info`` folder on ``sys.path``, names normalised alike) and reads the ``Version`` header of its
``METADATA``; anything it does not read the same way for certain (a zip or egg on the path, another finder of
distributions, an unusual header) goes to ``importlib.metadata`` itself.
"""

from __future__ import annotations

import os
import re
import sys

_HEADER = re.compile(r"[\041-\071\073-\176]+:")  # a header line as the email parser reads one


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _fast_version(name: str) -> str | None:
    """The version read directly, or None where only ``importlib.metadata`` can be sure."""
    import importlib.machinery  # noqa: PLC0415 - already imported by the interpreter

    if any(getattr(f, "find_distributions", None) is not None and f is not importlib.machinery.PathFinder
           for f in sys.meta_path):
        return None
    want = _normalize(name)
    for entry in sys.path:
        root = entry or "."
        try:
            children = os.listdir(root)
        except OSError:
            if os.path.exists(root):  # a zip file: importlib.metadata looks inside
                return None
            continue
        if os.path.basename(root).lower().endswith(".egg") and any(c.lower() == "egg-info" for c in children):
            return None
        found = [c for c in children if c.lower().endswith((".dist-info", ".egg-info"))
                 and _normalize(c.lower().rpartition(".")[0].partition("-")[0]) == want]
        if not found:
            continue
        if len(found) > 1 or not found[0].lower().endswith(".dist-info"):
            return None
        try:
            with open(os.path.join(root, found[0], "METADATA"), encoding="utf-8") as f:
                text = f.read()
        except OSError:
            return None
        return _version_header(text)
    return None


def _version_header(text: str) -> str | None:
    """The one ``Version`` header of plain header lines (no continuation, no carriage return), else None."""
    head = text.split("\n\n", 1)[0]
    if "\r" in head:
        return None
    lines = head.split("\n")
    found = None
    for i, line in enumerate(lines):
        if line[:1] in (" ", "\t") and i > 0:
            continue  # the header above goes on
        if not _HEADER.match(line):
            return None  # a line the parser would end the headers at
        key, _, value = line.partition(":")
        if key.lower() == "version":
            if found is not None or (i + 1 < len(lines) and lines[i + 1][:1] in (" ", "\t")):
                return None
            found = value.lstrip(" \t")
    return found


def dist_version(name: str) -> str:
    """``importlib.metadata.version(name)``, the same string (raises its ``PackageNotFoundError``, a
    ``ModuleNotFoundError``, if the distribution is not installed)."""
    fast = _fast_version(name)
    if fast is not None:
        return fast
    import importlib.metadata  # noqa: PLC0415

    return importlib.metadata.version(name)
