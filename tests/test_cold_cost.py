"""The cold run's cheaper paths give the same figures and text: ``report.PlanCost`` (numpy and plain floats)
against ``build_plan``'s pandas arithmetic, its group sums against pandas' groupby, and the versions read
without ``importlib.metadata`` against ``importlib.metadata``."""

from __future__ import annotations

import email
import importlib.metadata
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.api import options_from
from planner.input.validate import load
from planner.optimise.model import build_model
from planner.optimise.solve import solve
from planner.output import versions
from planner.results.report import PlanCost, _group_sums, build_plan

REPO = Path(__file__).resolve().parents[1]


def test_group_sums_are_pandas_groupby_sums():
    rng = np.random.default_rng(3)
    keys = [("a", "x"), ("b", "x"), ("a", "y"), ("c", "z")]
    for trial in range(200):
        n = int(rng.integers(1, 60))
        ks = [keys[int(i)] for i in rng.integers(0, len(keys), n)]
        vs = (rng.standard_normal(n) * 10.0 ** rng.integers(-8, 17, n)).tolist()
        if trial % 7 == 0:
            vs[int(rng.integers(0, n))] = float("nan")
        if trial % 11 == 0:
            vs[int(rng.integers(0, n))] = float("inf")
        frame = pd.DataFrame({"k0": [k[0] for k in ks], "k1": [k[1] for k in ks], "v": vs})
        want = frame.groupby(["k0", "k1"])["v"].sum().to_dict()
        got = _group_sums(ks, vs)
        assert got.keys() == want.keys()
        for k, v in want.items():
            assert got[k] == v or (np.isnan(got[k]) and np.isnan(v)), (trial, k, got[k], v)
    # compensated, as pandas sums: a plain running sum gives 1e16 here
    assert _group_sums(["a"] * 3, [1e16, 1.0, 1.0])["a"] == pd.Series([1e16, 1.0, 1.0]).groupby([0, 0, 0]).sum()[0]
    assert _group_sums(["a"] * 3, [1e16, 1.0, 1.0])["a"] != 1e16
    assert _group_sums(["a", "b"], [float("nan"), 1.0]) == {"a": 0.0, "b": 1.0}  # a group of NaN only sums to 0


@pytest.mark.parametrize("case", ["rare_earth_magnets.xlsx", "rare_earth_magnets_v1_2025.xlsx"])
def test_plan_cost_is_build_plans_cost(case):
    """The total and each Demand row's shortage, for the plan and for solutions far from it (columns scaled,
    zeroed, set to solver noise and to fractions of a yes/no decision)."""
    inputs = load(REPO / "inputs" / case)
    model = build_model(inputs)
    res = solve(model, replace(options_from(inputs), verbose=False))
    cost = PlanCost(model)
    rng = np.random.default_rng(11)
    xs = [res.x]
    for k in range(12):
        x = res.x * (rng.uniform(0, 2, len(res.x)) if k % 2 else rng.choice([0.0, 1.0, 3.0], len(res.x)))
        if k % 3 == 0:
            x = x + rng.uniform(0, 500, len(x)) * (rng.random(len(x)) < 0.3)
        if k % 4 == 0:
            x[rng.random(len(x)) < 0.2] = rng.choice([1e-8, -1e-8, -0.3, 0.49, 0.5, 1.5])
        xs.append(x)
    for x in xs:
        plan = build_plan(model, replace(res, x=x), detail=False)
        total, shortage = cost(x)
        assert total == plan.summary["total_cost_usd"]
        assert shortage == plan.plants["shortage_t"].tolist()


def test_dist_version_is_importlib_metadatas():
    names = ["pulp", "highspy", "openpyxl", "pandas", "numpy", "click", "PuLP", "python-calamine", "python_calamine"]
    for name in names:
        assert versions.dist_version(name) == importlib.metadata.version(name), name
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        versions.dist_version("no-such-distribution-here")


@pytest.mark.parametrize("text", [
    "Metadata-Version: 2.1\nName: a\nVersion: 1.2.3\n\nVersion: 9\n",
    "Metadata-Version: 2.1\nName: a\nLicense: line one\n  line two\nVersion:\t1.0 \n\nbody",
    "Name: a\nversion: 2.0\nSummary: x\n\n",
])
def test_version_header_as_email_reads_it(text):
    assert versions._version_header(text) == email.message_from_string(text)["Version"]


@pytest.mark.parametrize("text", [
    "Name: a\nVersion: 1.0\n  continued\n\n",  # a continued version: left to importlib.metadata
    "Name: a\nVersion: 1.0\nVersion: 2.0\n\n",
    "Name: a\r\nVersion: 1.0\r\n\r\n",
    "Name: a\nnot a header line\nVersion: 1.0\n\n",
    "Name: a\n\n",
])
def test_version_header_leaves_the_unusual_to_importlib_metadata(text):
    assert versions._version_header(text) is None


def test_a_run_and_its_workbook_tables_import_no_importlib_metadata():
    """run_info's and the Run info sheet's versions are read without importlib.metadata (and email, socket), in
    a fresh interpreter: within the suite another test's finder or path entry may send them to the fallback."""
    code = ("import sys\n"
            "from planner.api import plan\n"
            "from planner.input.validate import load\n"
            "from planner.output.sheets import recommendation_tables\n"
            f"p = plan(load({str(REPO / 'inputs' / 'rare_earth_magnets.xlsx')!r}))\n"
            "rows = dict((r[0], r[1]) for r in recommendation_tables(p)[-1].rows)\n"
            "print(rows['versions'])\n"
            "print(sorted(m for m in ('importlib.metadata', 'email', 'socket') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    line, imported = out.stdout.strip().splitlines()
    assert imported == "[]"
    assert f"pulp {importlib.metadata.version('pulp')}, highspy {importlib.metadata.version('highspy')}," in line
