"""The writer's fast data rows (planner.output.write._FastRows) write the bytes openpyxl writes for the same
cells, and the per-plant China shares (planner.results.tiers) are those of a mask per plant and stage."""

from __future__ import annotations

import gc
import io
import random
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import planner.output.write as W
from planner.api import options_from, plan
from planner.input.validate import load
from planner.output.sheets import recommendation_tables
from planner.output.write import Column, Fmt, Table, _write_tables
from planner.results import tiers

REPO = Path(__file__).resolve().parents[1]


def _two_pass_bytes(wb, when: tuple[int, ...] = W.ZIP_TIME) -> bytes:  # noqa: ANN001
    """The former workbook_bytes: openpyxl's archive as it writes it, then every entry re-dated in a second."""
    from openpyxl.writer.excel import ExcelWriter  # noqa: PLC0415

    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).save()
    return W.redated(raw, when)


def _both(tmp_path: Path, tables: list[Table], one_page: bool = False) -> tuple[bytes, bytes, list[str], list[str]]:
    """The workbook written now, and as before: a cell object per cell, each sheet streamed to a temporary
    file, the archive written twice."""
    fast, slow = tmp_path / "fast.xlsx", tmp_path / "slow.xlsx"
    wf = _write_tables(fast, tables, one_page, fast_rows=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(W, "workbook_bytes", _two_pass_bytes)
        ws = _write_tables(slow, tables, one_page, fast_rows=False)
    return fast.read_bytes(), slow.read_bytes(), wf, ws


@pytest.fixture(scope="module")
def reference_plan():
    inputs = load(REPO / "inputs" / "rare_earth_magnets.xlsx")
    return plan(inputs, options_from(inputs))


def test_the_reference_workbook_is_the_same_bytes(tmp_path, reference_plan):
    fast, slow, wf, ws = _both(tmp_path, recommendation_tables(reference_plan))
    assert fast == slow
    assert wf == ws


VALUES = [
    None, 0, 1, -1, 0.0, -0.0, 1.5, 1e-300, 1e300, 123456789012345678, 2 ** 53 + 1, 0.1 + 0.2, 1 / 3,
    np.float64(2.5), np.float64(-7e-9), np.int64(7), np.float32(0.1), True, False,
    "", " ", "  lead", "trail ", " both ", "plain", "a & b < c > d", '"quoted" \'single\'', "=1+2", "+x", "-3",
    "@home", "\tTab", "line\nbreak", "cr\r\nlf", "ctl\x01\x1f", "ünïcödé 中国 ✓", "#N/A", "=", "x" * 40_000,
    "]]>", "&amp;", Fmt(0.25, "0.0%"), Fmt(1234.5, "#,##0"), Fmt(None, "0"), Fmt("text", "0.00"),
    Fmt(3, "General"), Fmt(2.0, ""), pd.Timestamp("2026-01-01"), Path("a/b"),
]


def test_every_kind_of_value_is_the_same_bytes(tmp_path):
    rng = random.Random(7)
    fmts = [None, "#,##0.0", "0.0%", "0", "General", "#,##0.00", "0.00 \"USD\""]
    cols = [Column(f"c{i}", 12, fmts[i % len(fmts)], note="a note" if i == 2 else "") for i in range(7)]
    cols += [Column("=risky"), Column("-minus_t", 9, "0")]  # headings with a quote prefix
    rows = [[rng.choice(VALUES) for _ in range(rng.randint(0, 9))] for _ in range(300)]
    rows += [[v] * 9 for v in VALUES]
    rows.append([None] * 9)
    rows.append([])
    section = Table("part two", [cols[7], *cols[:4]], [[rng.choice(VALUES) for _ in range(5)] for _ in range(40)],
                    title=["Second part", "its note"])
    tables = [Table("Values", cols, rows, title=["Every value", "as written"], sections=[section]),
              Table("No title", cols[:3], rows[:50], freeze=False),
              Table("Bare", [], [[1, "a"], [None, 2.5]]),
              Table("Empty", cols[:2], [])]
    fast, slow, wf, ws = _both(tmp_path, tables)
    assert wf == ws and wf  # the control characters and the long text are reported, once each
    assert fast == slow
    fast, slow, _, _ = _both(tmp_path, tables, one_page=True)
    assert fast == slow


def test_the_template_is_the_same_bytes(tmp_path, monkeypatch):
    from planner.output.sheets import template_workbook  # noqa: PLC0415

    template_workbook(tmp_path / "now.xlsx")
    monkeypatch.setattr(W, "workbook_bytes", _two_pass_bytes)
    template_workbook(tmp_path / "before.xlsx")
    assert (tmp_path / "now.xlsx").read_bytes() == (tmp_path / "before.xlsx").read_bytes()


def test_the_dated_zip_is_the_second_pass_in_one():
    when = (2001, 2, 3, 4, 5, 6)
    entries = [("a.xml", b"<a/>" * 50), ("dir/b.bin", bytes(range(256)) * 9), ("\u00e9t\u00e9.txt", b"")]
    plain, dated = io.BytesIO(), io.BytesIO()
    with zipfile.ZipFile(plain, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:
            z.writestr(name, data)
    with W._dated_zip(when)(dated, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as z:
        for name, data in entries:
            z.writestr(name, data)
        assert not z.twice
    assert dated.getvalue() == W.redated(plain, when)


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")
def test_a_name_written_twice_is_noted():
    with W._dated_zip(W.ZIP_TIME)(io.BytesIO(), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.xml", b"1")
        z.writestr("a.xml", b"2")
        assert z.twice  # workbook_bytes then makes the second pass, which reads the last a.xml for both


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the abandoned sheets' streams
def test_a_non_finite_number_is_refused_on_both_paths(tmp_path):
    for bad in (float("nan"), float("inf"), np.float64("-inf")):
        for fast_rows in (True, False):
            with pytest.raises(ValueError, match="non-finite"):
                _write_tables(tmp_path / "x.xlsx", [Table("T", [Column("a")], [[1.0], [bad]])], False,
                              fast_rows=fast_rows)
        gc.collect()  # the abandoned workbook's streams close here, not in a later test


# ---- China shares per plant: one pass over the rows against a mask per plant and stage (the former code)


def _plant_shares_masked(table: pd.DataFrame, country: str = "CN") -> pd.DataFrame:
    rows = []
    for (plant, product), g in table[table["plant"] != "all plants"].groupby(["plant", "product"], sort=True):
        row: dict[str, object] = {"plant": plant, "product": product}
        for st in tiers.STAGES:
            at = g[g["stage"] == st]
            row[st] = float(at.loc[at["country"] == country, "share"].sum()) if len(at) else None
        rows.append(row)
    return pd.DataFrame(rows, columns=["plant", "product", *tiers.STAGES])


def _country_share_masked(table: pd.DataFrame, country: str = "CN", plant: str = "all plants") -> dict:
    out = {}
    for st in tiers.STAGES:
        rows = table[(table["plant"] == plant) & (table["stage"] == st)]
        out[st] = float(rows.loc[rows["country"] == country, "share"].sum()) if len(rows) else None
    return out


def _random_table(rng: random.Random, n: int) -> pd.DataFrame:
    plants = ["P1", "P2", "all plants", "Z9", "A0"]
    rows = [{"plant": rng.choice(plants), "product": rng.choice(["magnet", "alloy", "all"]),
             "stage": rng.choice([*tiers.STAGES, "other"]), "country": rng.choice(["CN", "AU", "US", "CN"]),
             "tonnes": rng.random(), "share": rng.choice([rng.random(), 0.0, float("nan"), 1 / 3, 0.1])}
            for _ in range(n)]
    return pd.DataFrame(rows, columns=tiers.COLUMNS)


def test_china_shares_equal_the_masked_sums(reference_plan):
    tables = [tiers.by_country(reference_plan.sourcing), tiers.by_country(reference_plan.sourcing.iloc[:0])]
    rng = random.Random(3)
    tables += [_random_table(rng, n) for n in (0, 1, 5, 40, 200) for _ in range(4)]
    for table in tables:
        for country in ("CN", "AU", "XX"):
            pd.testing.assert_frame_equal(tiers.plant_shares(table, country), _plant_shares_masked(table, country),
                                          check_exact=True)
            for plant in ("all plants", "P1", "nowhere"):
                got, want = tiers.country_share(table, country, plant), _country_share_masked(table, country, plant)
                assert list(got) == list(want)
                for st in want:  # equal as floats, NaN-free, None where the stage has no rows
                    assert (got[st] is None) == (want[st] is None)
                    assert got[st] is None or (got[st] == want[st] and type(got[st]) is type(want[st]))


def test_the_made_where_table_is_traced_once_a_run(reference_plan, monkeypatch):
    ex = reference_plan.explanation
    assert ex.made_where[0] is reference_plan.sourcing
    pd.testing.assert_frame_equal(ex.made_where[1], tiers.by_country(reference_plan.sourcing), check_exact=True)
    calls = []
    real = tiers.by_country
    monkeypatch.setattr(tiers, "by_country", lambda s: calls.append(s) or real(s))
    recommendation_tables(reference_plan)
    assert calls == []  # the explanation's table
    other = type(reference_plan)(**{**reference_plan.__dict__, "sourcing": reference_plan.sourcing.copy()})
    recommendation_tables(other)
    assert len(calls) == 1  # another sourcing frame: traced again


NUMBERS = [0, 0.0, -0.0, 1, -1, 0.04, -0.04, 0.05, 9.94, 9.95, -9.95, 99.96, 999.95, 4999999.9, 999999.95, 5e5, 1e6,
           -1e6, 1e15, -1e15, 123456789, 10 ** 17 + 1, -(10 ** 17), 1e-9, -1e-9, 2.5, 0.15]


def test_a_column_of_numbers_is_as_wide_as_every_number_makes_it():
    """_fit_width formats only a numeric column's extremes: the width is the one every value's text gives (a
    None in the column, which adds no width, takes the value-by-value path)."""
    rng = random.Random(13)
    cols = [Column("cost_usd", 10, "#,##0"), Column("share", 8, "0.0%"), Column("m", 14, r"#,##0.0,,\ \M"),
            Column("tonnes_t", 0, None), Column("x", 12, "#,##0", fit=False), Column("v", 0, None),
            Column("w", 0, "#,##0"), Column("m", 0, r"#,##0.0,,\ \M")]
    cases = [[0.0, -0.0], [0, -0.0, 5.0], [-0.0, 0.0], [9.94, 9.95], [-0.04, 3.0], [0.0] * 4, [10 ** 17 + 1, 1.0]]
    cases += [[rng.choice(NUMBERS) for _ in range(rng.randint(1, 9))] for _ in range(3000)]
    cases += [[rng.uniform(-1e7, 1e7) * rng.choice([1, 1e-6, 1e3]) for _ in range(rng.randint(1, 9))]
              for _ in range(1000)]
    for values in cases:
        for col in cols:
            assert W._fit_width(col, list(values)) == W._fit_width(col, [*values, None]), (col, values)


def test_frame_rows_are_itertuples_rows():
    from planner.output.sheets import _frame_rows, _py  # noqa: PLC0415

    df = pd.DataFrame({
        "a": [1, 2, 3], "b": [1.5, np.nan, -0.0], "c": ["x", None, "z"], "d": pd.array([1, None, 3], dtype="Int64"),
        "e": [np.float64(1), "s", None], "f": [True, False, True], "g": pd.Series(["p", None, "q"], dtype="str"),
        "h": pd.to_datetime(["2020-01-01", None, "2021-01-01"]), "i": pd.Categorical(["u", None, "u"]),
        "j": [np.int64(4), np.nan, 2.5]})
    for cols in (list(df.columns), ["b"], ["g", "d", "a"], []):
        want = [[None if (isinstance(v, float) and pd.isna(v)) or v is pd.NA else _py(v) for v in rec]
                for rec in df[cols].itertuples(index=False, name=None)]
        got = _frame_rows(df, cols)
        assert got == want
        assert [[type(v) for v in r] for r in got] == [[type(v) for v in r] for r in want]
        assert [[str(v) for v in r] for r in got] == [[str(v) for v in r] for r in want]  # -0.0 stays -0.0
