"""Trade-off sweeps: monotone in the cap, a chart in the workbook, parameters named clearly."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import main
from planner.errors import UsageError
from planner.whatif.sweep import parse_param, points

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "inputs" / "rare_earth_magnets.xlsx"


@pytest.fixture(scope="module")
def exposure_sweep(tmp_path_factory):  # noqa: ANN001, ANN201
    out = tmp_path_factory.mktemp("sweep") / "sweep.xlsx"
    res = CliRunner().invoke(main, ["sweep", str(REFERENCE), "--param", "max_exposed_share", "--from", "1",
                                    "--to", "0", "--steps", "5", "-o", str(out), "--json", "--jobs", "2"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout), out


def test_a_tighter_exposure_cap_never_costs_less(exposure_sweep):
    payload, _ = exposure_sweep
    pts = [p for p in payload["points"] if p["value"] is not None]
    assert [p["value"] for p in pts] == [1.0, 0.75, 0.5, 0.25, 0.0]
    costs = [p["total_cost_usd"] for p in pts]
    assert all(b >= a - 1e-6 * abs(a) for a, b in zip(costs, costs[1:], strict=False))
    shares = [p["exposed_share"] for p in pts]
    assert all(b <= a + 1e-9 for a, b in zip(shares, shares[1:], strict=False))
    assert "changes the total cost by" in payload["headline"]


def test_the_workbook_has_the_cost_exposure_chart(exposure_sweep):
    _, out = exposure_sweep
    with zipfile.ZipFile(out) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        assert len(charts) == 2
        xml = z.read(charts[0]).decode()
    # x: the exposed-share column (F), y: total cost (D), over the 5 points below the header on row 4
    assert re.search(r"Sweep'?!\$F\$5:\$F\$9", xml) and re.search(r"Sweep'?!\$D\$5:\$D\$9", xml)


def test_parameters():
    assert parse_param("risk_weight") == ("Settings", "risk_weight", "value")
    assert parse_param("Supply:A/X:capacity_t") == ("Supply", "A/X", "capacity_t")
    with pytest.raises(UsageError, match="unknown sweep parameter"):
        parse_param("exposure")
    assert [s.name for s in points("risk_weight", 0, 1, 3)] == ["risk_weight = 0", "risk_weight = 0.5",
                                                                 "risk_weight = 1"]
