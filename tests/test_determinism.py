"""The plan does not depend on the order of the input rows, nor on the run.

Row order is meaningless in every sheet (the only order rule, "the later row
governs" among equally specific lane rows, is avoided here: no two lane rows
match one pair). Shuffled inputs must give the same total cost and the same
flows; ``lane_row`` (the Lanes row behind a flow) is left out of the comparison
because it rightly follows the rows.
"""

from __future__ import annotations

import csv
import random
import shutil
from pathlib import Path

import pandas as pd
import pytest

from planner.api import options_from, plan
from planner.input.validate import load
from tests import conftest
from tests.conftest import build, solve_checked

REPO = Path(__file__).resolve().parents[1]
REFERENCE_CSV = REPO / "inputs" / "reference"
KEY = ["from_site", "to_site", "product"]


def flows_table(result) -> pd.DataFrame:  # noqa: ANN001
    f = result.flows.drop(columns=["lane_row"])
    return f.sort_values(KEY, kind="mergesort").reset_index(drop=True)


def assert_same_plan(a, b, exact: bool = False) -> None:  # noqa: ANN001
    assert a.status == b.status
    assert a.summary["total_cost_usd"] == pytest.approx(b.summary["total_cost_usd"], abs=0.01)
    assert a.cost_breakdown == pytest.approx(b.cost_breakdown, abs=0.01)
    pd.testing.assert_frame_equal(flows_table(a), flows_table(b), check_exact=exact, atol=1e-6, rtol=0)
    plants = ["site_id", "product", "delivered_t", "shortage_t", "exposed_t", "max_lead_time_days"]
    pd.testing.assert_frame_equal(
        a.plants[plants].sort_values(plants[:2]).reset_index(drop=True),
        b.plants[plants].sort_values(plants[:2]).reset_index(drop=True),
        check_exact=exact, atol=1e-6, rtol=0,
    )


# --------------------------------------------------------------------------- a small case full of ties


def S(site_id: str, country: str, stage: str, **kw: object) -> dict:  # noqa: N802
    return {"site_id": site_id, "country": country, "stage": stage, **kw}


def tie_case() -> dict[str, list[dict]]:
    """Three identical mines, two identical refiners, two plants: many optimal plans, one cost.

    Cost: 70 t oxide x (5 + 0.2) + 140 t ore x (2 + 0.1) = 364,000 + 294,000 = 658,000 USD.
    """
    mines, refs = ("MINE_A", "MINE_B", "MINE_C"), ("REF_X", "REF_Y")
    return {
        "sites": [S("MINE_A", "AU", "mine"), S("MINE_B", "US", "mine"), S("MINE_C", "CA", "mine"),
                  S("REF_X", "MY", "refiner"), S("REF_Y", "FR", "refiner"),
                  S("PLANT_1", "DE", "plant"), S("PLANT_2", "JP", "plant")],
        "supply": [{"site_id": m, "product": "ORE", "capacity_t": 100, "unit_cost_usd_per_kg": 2} for m in mines]
        + [{"site_id": r, "product": "OX", "capacity_t": 100, "unit_cost_usd_per_kg": 5} for r in refs],
        "lanes": [{"from_site": m, "to_site": r, "freight_usd_per_kg": 0.1} for m in mines for r in refs]
        + [{"from_site": r, "to_site": p, "freight_usd_per_kg": 0.2} for r in refs for p in ("PLANT_1", "PLANT_2")],
        "demand": [{"site_id": "PLANT_1", "product": "OX", "quantity_t": 30},
                   {"site_id": "PLANT_2", "product": "OX", "quantity_t": 40}],
        "recipes": [{"product": "OX", "input": "ORE", "input_t_per_t": 2}],
        "controls": [{"country": "CN", "product": "OX", "approval_probability": 0.5},
                     {"country": "CN", "product": "ORE", "approval_probability": 0.9}],
    }


def reorder(case: dict[str, list[dict]], how) -> dict[str, list[dict]]:  # noqa: ANN001
    return {name: how(list(rows)) for name, rows in case.items()}


def reverse(rows: list) -> list:
    return rows[::-1]


def permute(rows: list) -> list:
    return random.Random(20240601).sample(rows, len(rows))


# CBC in the slow run (CI runs it), as for the model rules
@pytest.fixture(params=["highs", pytest.param("cbc", marks=pytest.mark.slow)])
def solver(request, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setitem(conftest.SOLVER, "name", request.param)
    return request.param


@pytest.mark.parametrize("how", [reverse, permute], ids=["reversed", "permuted"])
def test_shuffled_rows_give_the_same_plan_on_a_case_with_ties(solver, how):
    base = solve_checked(build(**tie_case()))
    assert base.status == "optimal"
    assert base.summary["total_cost_usd"] == pytest.approx(658_000)
    shuffled = solve_checked(build(**reorder(tie_case(), how)))
    assert_same_plan(base, shuffled)


# --------------------------------------------------------------------------- the reference case


def shuffled_copy(folder: Path, how) -> Path:  # noqa: ANN001
    """The reference CSV folder with the data rows of every file reordered (headers stay first)."""
    folder.mkdir()
    for f in sorted(REFERENCE_CSV.glob("*.csv")):
        with f.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
        with (folder / f.name).open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([rows[0], *how(rows[1:])])
    return folder


class _Plans(dict):
    """The reference case's plan by solver, solved when first asked for (CBC only in the slow run)."""

    def __init__(self, inputs) -> None:  # noqa: ANN001
        super().__init__()
        self.inputs = inputs

    def __missing__(self, solver: str) -> object:
        self[solver] = plan(self.inputs, options_from(self.inputs, solver=solver))
        return self[solver]


@pytest.fixture(scope="module")
def reference_plans() -> dict[str, object]:
    """The reference case (CSV folder), solved once per solver."""
    return _Plans(load(REFERENCE_CSV))


@pytest.mark.parametrize(("how", "solver"), [(reverse, "highs"), (permute, "highs"),
                                             pytest.param(reverse, "cbc", marks=pytest.mark.slow)],
                         ids=["reversed-highs", "permuted-highs", "reversed-cbc"])
def test_shuffled_reference_gives_the_same_plan(reference_plans, tmp_path, how, solver):
    folder = shuffled_copy(tmp_path / "shuffled", how)
    inputs = load(folder)
    shuffled = plan(inputs, options_from(inputs, solver=solver))
    assert_same_plan(reference_plans[solver], shuffled)


def test_shuffled_reference_is_really_shuffled(tmp_path):
    # Lanes keep their sheet order after validation, so the shuffle reaches the model.
    original = load(REFERENCE_CSV).lanes[KEY].values.tolist()
    shuffled = load(shuffled_copy(tmp_path / "shuffled", reverse)).lanes[KEY].values.tolist()
    assert shuffled != original
    assert sorted(shuffled) == sorted(original)


def test_two_solves_of_the_reference_are_identical(reference_plans, tmp_path):
    copy = Path(shutil.copytree(REFERENCE_CSV, tmp_path / "again"))
    again = plan(load(copy))
    first = reference_plans["highs"]
    assert_same_plan(first, again, exact=True)
    pd.testing.assert_frame_equal(first.flows.reset_index(drop=True), again.flows.reset_index(drop=True),
                                  check_exact=True)
    assert first.summary["total_cost_usd"] == again.summary["total_cost_usd"]


# the five-year case (5 s) in the slow run (CI); the one-year case by default
@pytest.mark.parametrize("case", ["rare_earth_magnets.xlsx",
                                  pytest.param("rare_earth_magnets_2026_2030.xlsx", marks=pytest.mark.slow)])
def test_the_same_input_writes_the_same_workbook_byte_for_byte(case, tmp_path):
    # nothing in the workbook depends on the clock: no solve time, no phase seconds, fixed archive dates
    from click.testing import CliRunner  # noqa: PLC0415

    from planner.cli import main  # noqa: PLC0415

    src = Path(__file__).resolve().parents[1] / "inputs" / case
    outs = []
    for k in range(2):
        out = tmp_path / f"plan{k}.xlsx"
        res = CliRunner().invoke(main, ["solve", str(src), "-o", str(out), "-q"])
        assert res.exit_code == 0, res.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
