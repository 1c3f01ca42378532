"""Validation's plain-Python path for small sheets gives pandas' answer (planner.input.validate.SMALL_FRAME).

Repeats are looked for, and every sheet put in key order, in plain Python when a sheet is small and its key
columns hold only text or only whole numbers; pandas does it otherwise. A differential test: each input is
validated twice, with the plain path (as shipped) and with pandas alone (``SMALL_FRAME = -1``), and the two
must agree exactly: every table, cell for cell and in the same row order, every warning, or the same error
message. Inputs: the bundled workbooks, and generated cases with repeats, blanks, padded text, numbers and
group spellings put into their key columns at random.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.generate import generate
from planner.errors import InputError
from planner.input import schema, validate
from planner.input.read import read_input

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = sorted((ROOT / "inputs").glob("*.xlsx"))
KEYS = {s.name: list(s.key) for s in (schema.SITES, schema.SUPPLY, schema.RECIPES, schema.COPRODUCTS, schema.LANES,
                                      schema.DEMAND, schema.CONTROLS)}


def _outcome(run):  # noqa: ANN001, ANN202
    try:
        return "ok", run()
    except InputError as exc:  # the message and every problem, in order, as the command line prints them
        return "error", [str(exc), *(str(i) for i in exc.issues)]


def _both(run, monkeypatch):  # noqa: ANN001, ANN202
    fast = _outcome(run)
    with monkeypatch.context() as m:
        m.setattr(validate, "SMALL_FRAME", -1)
        slow = _outcome(run)
    return fast, slow


def _same(fast, slow) -> None:  # noqa: ANN001
    assert fast[0] == slow[0], (fast, slow)
    if fast[0] == "error":
        assert fast[1] == slow[1]
        return
    a, b = fast[1], slow[1]
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, pd.DataFrame):
            pd.testing.assert_frame_equal(x, y, check_exact=True, obj=f.name)
        else:
            assert x == y, f.name


@pytest.mark.parametrize("path", BUNDLED, ids=[p.name for p in BUNDLED])
def test_bundled_workbooks_validate_the_same(path, monkeypatch):
    book = read_input(path)
    _same(*_both(lambda: validate.validate_book(book), monkeypatch))


def _damaged(seed: int) -> dict[str, pd.DataFrame]:
    """A generated case with a few key cells changed: a row repeated (as is, or in another spelling), a cell
    blank, NaN, padded, a number, an empty text; some mutations make the input invalid, which is the point."""
    rng = np.random.default_rng(seed)
    tables = {k: v.copy() for k, v in generate(2 + seed % 3, seed=seed).items()}
    for _ in range(int(rng.integers(1, 4))):
        sheet = str(rng.choice([s for s in KEYS if s in tables and len(tables[s])]))
        frame = tables[sheet].astype(object)
        i = int(rng.integers(len(frame)))
        col = str(rng.choice([c for c in KEYS[sheet] if c in frame]))
        how = int(rng.integers(7))
        if how == 0:  # the row again, at the end
            frame = pd.concat([frame, frame.iloc[[i]]], ignore_index=True)
        elif how == 1 and sheet == "Lanes":  # the row again, its sender in another spelling of a group
            row = frame.iloc[[i]].copy()
            row["from_site"] = "country:" + str(rng.choice(["jp", "JP", "cn", " CN "]))
            frame = pd.concat([frame, row, row], ignore_index=True)
        else:
            frame.loc[i, col] = [None, np.nan, " " + str(frame.loc[i, col]) + " ", 7, "", str(frame.loc[0, col]),
                                 str(frame.loc[i, col]).lower()][how]
        tables[sheet] = frame
    return tables


@pytest.mark.parametrize("seed", range(12))
def test_damaged_generated_cases_validate_the_same(seed, monkeypatch):
    tables = _damaged(seed)
    _same(*_both(lambda: validate.tables_to_inputs({k: v.copy() for k, v in tables.items()}), monkeypatch))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(12, 300))
def test_many_damaged_generated_cases_validate_the_same(seed, monkeypatch):
    tables = _damaged(seed)
    _same(*_both(lambda: validate.tables_to_inputs({k: v.copy() for k, v in tables.items()}), monkeypatch))
