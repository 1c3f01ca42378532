"""The package as a user installs it: the bundled case ships inside it, and a built wheel runs from any folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from planner import cli
from planner.cli import main

REPO = Path(__file__).resolve().parents[1]
BUNDLED = ["rare_earth_magnets.xlsx", "whatif_reference.xlsx"]


@pytest.mark.parametrize("name", BUNDLED)
def test_package_data_is_byte_identical_to_inputs(name: str) -> None:
    # inputs/ is the reviewable source; planner/data/ what an installed wheel carries.
    # scripts/build_reference.py writes both; this keeps them from drifting.
    assert (REPO / "planner" / "data" / name).read_bytes() == (REPO / "inputs" / name).read_bytes(), \
        f"planner/data/{name} differs from inputs/{name}: run python scripts/build_reference.py"


def test_the_bundled_case_is_found_through_the_package() -> None:
    assert cli.REFERENCE.is_file() and cli.WHATIF_REFERENCE.is_file()
    assert cli.REFERENCE.parent == Path(cli.__file__).resolve().parent / "data"


def test_solve_and_batch_from_an_empty_folder_write_to_its_outputs_folder(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    import planner.whatif.batch  # noqa: PLC0415

    given: list[str] = []
    real = planner.whatif.batch.run_batch

    def first_scenario_only(inputs, scenarios, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
        # which scenarios the command found is the point here; tests/test_batch.py plans them all
        given.extend(s.name for s in scenarios)
        return real(inputs, scenarios[:1], *a, **k)

    monkeypatch.setattr(planner.whatif.batch, "run_batch", first_scenario_only)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["solve", "-q"])
    assert res.exit_code == 0, res.stderr
    res = CliRunner().invoke(main, ["batch", "-q", "--jobs", "1"])
    assert res.exit_code == 0, res.stderr
    assert sorted(p.name for p in (tmp_path / "outputs").iterdir()) == ["rare_earth_magnets_batch.xlsx",
                                                                        "rare_earth_magnets_plan.xlsx"]
    # planner batch without an input plans the bundled what-ifs too, not the baseline alone
    bundled = openpyxl.load_workbook(cli.WHATIF_REFERENCE, read_only=True)["WhatIf"]
    names = list(dict.fromkeys(r[0] for r in bundled.iter_rows(min_row=2, values_only=True) if r and r[0]))
    assert given == names and len(names) > 1


def test_output_into_the_bundled_data_is_refused(tmp_path) -> None:  # noqa: ANN001
    res = CliRunner().invoke(main, ["solve", "-o", str(cli.DATA / "plan.xlsx")])
    assert res.exit_code == 2
    assert "bundled" in res.stderr
    assert sorted(p.name for p in cli.DATA.iterdir()) == BUNDLED


@pytest.mark.slow
def test_a_built_wheel_runs_the_main_job_from_an_empty_folder(tmp_path) -> None:  # noqa: ANN001
    """What .ci/run does too: build the wheel, install it into a fresh venv, run solve and batch elsewhere."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(REPO)],
                   check=True)
    wheel = next(dist.glob("planner-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert all(f"planner/data/{n}" in names for n in BUNDLED), names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)], check=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    planner = shutil.which("planner", path=str(venv / "bin"))
    assert planner is not None
    for args in (["solve", "--picture"], ["batch", "--jobs", "1"]):
        res = subprocess.run([planner, *args], cwd=empty, env=env, capture_output=True, text=True)
        assert res.returncode == 0, f"planner {' '.join(args)}\n{res.stdout}\n{res.stderr}"
    assert sorted(p.name for p in (empty / "outputs").iterdir()) == [
        "rare_earth_magnets_batch.xlsx", "rare_earth_magnets_plan.xlsx", "rare_earth_magnets_plan_chain.html",
        "rare_earth_magnets_plan_chain.png"]
