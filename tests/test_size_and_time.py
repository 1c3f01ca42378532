"""Guards on size and time (issue 11, section 6).

* The model's size is estimated from the network before any of its arrays
  are built: columns exactly, rows and nonzeros as upper bounds (tight: within
  15 % on every case here). A model above Settings ``max_columns`` (default
  2,000,000; ``--max-columns``) is refused with exit 3, nothing written.
* Large MIPs are solved LP-guided in three phases, each with its share of the
  time limit; the restricted MIP runs even when the relaxation is cut short.
  Forced here on small OR-Library instances; never timed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from bench.generate import generate, write
from planner.cli import main
from planner.input.orlib import PUBLISHED_OPTIMA, read_cap, write_csv_folder
from planner.input.validate import load
from planner.optimise.model import build_model
from planner.optimise.network import build_network
from planner.optimise.size import estimate

ROOT = Path(__file__).resolve().parents[1]
ORLIB = ROOT / "tests" / "data" / "orlib"
REFERENCE = ROOT / "inputs" / "v1_2025" / "reference"  # the v1 case: its model has the 957 variables asserted below


def _with_rules(inputs):  # noqa: ANN001, ANN202
    """The optional rows too: minimum volumes, exposure, supplier and country share caps."""
    sites = inputs.sites.copy()
    sites.loc[sites.index[: len(sites) // 5], "min_volume_t"] = 10.0
    return type(inputs)(**{**inputs.__dict__, "sites": sites}).with_settings(
        max_country_share=0.6, max_supplier_share=0.5, max_exposed_share=0.3)


def _cases(tmp: Path) -> dict:
    cases = {"reference": load(REFERENCE)}
    for name in ("cap61", "cap124"):
        write_csv_folder(read_cap(ORLIB / f"{name}.txt"), tmp / name)
        cases[name] = load(tmp / name)
    for scale in (5, 9):
        write(generate(scale, candidates=scale), tmp / f"gen{scale}")
        cases[f"generated scale {scale}"] = load(tmp / f"gen{scale}")
        cases[f"generated scale {scale}, every rule"] = _with_rules(cases[f"generated scale {scale}"])
    cases["reference, no shortage"] = cases["reference"].with_settings(allow_shortage=False)
    return cases


def test_estimate_is_exact_in_columns_and_bounds_rows_and_nonzeros(tmp_path: Path) -> None:
    for name, inputs in _cases(tmp_path).items():
        net = build_network(inputs)
        size = estimate(net, inputs.settings)
        model = build_model(inputs, net)
        kinds = model.cols["kind"].value_counts().to_dict()
        assert size.columns == model.n_cols, name
        assert {k: n for k, n in size.by_kind.items() if n} == kinds, name
        assert model.n_rows <= size.rows <= 1.15 * model.n_rows, name
        assert len(model.a_val) <= size.nonzeros <= 1.15 * len(model.a_val), name


def _reference_copy(tmp: Path, **settings: object) -> Path:
    folder = tmp / "case"
    shutil.copytree(REFERENCE, folder)
    st = pd.read_csv(folder / "Settings.csv", dtype=str)
    st = pd.concat([st, pd.DataFrame({"key": list(settings), "value": [str(v) for v in settings.values()]})])
    st.to_csv(folder / "Settings.csv", index=False)
    return folder


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def _reference_columns() -> int:
    inputs = load(REFERENCE)
    return estimate(build_network(inputs), inputs.settings).columns


def test_settings_max_columns_refuses_and_the_option_raises_it(tmp_path: Path) -> None:
    n = _reference_columns()
    case = _reference_copy(tmp_path, max_columns=n - 1)
    out = tmp_path / "out" / "plan.xlsx"
    out.parent.mkdir()
    before = {p: p.read_bytes() for p in _files(case)}
    res = CliRunner().invoke(main, ["solve", str(case), "-o", str(out)])
    assert res.exit_code == 3, res.output
    assert f"{n:,} variables" in res.stderr and f"max_columns = {n - 1:,}" in res.stderr
    assert "--max-columns" in res.stderr and "Nothing was written" in res.stderr
    assert f"model size: {n:,} variables" in res.stderr  # the estimate, with rows and nonzeros
    assert not list(out.parent.iterdir())
    assert {p: p.read_bytes() for p in _files(case)} == before

    res = CliRunner().invoke(main, ["solve", str(case), "-o", str(out), "--max-columns", str(n), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["status"] == "optimal"


@pytest.mark.parametrize("command", [["batch"], ["sweep", "--param", "risk_weight", "--from", "0", "--to", "1",
                                                  "--steps", "2"]])
def test_batch_and_sweep_take_max_columns(tmp_path: Path, command: list[str]) -> None:
    out = tmp_path / "out.xlsx"
    res = CliRunner().invoke(main, [*command, str(REFERENCE), "-o", str(out), "--max-columns",
                                    str(_reference_columns() - 1), "--jobs", "1"])
    assert res.exit_code == 3, res.output
    assert "--max-columns" in res.stderr
    assert not out.exists()


def _group_lane_case(scale: int) -> dict[str, pd.DataFrame]:
    """A small input that describes a huge model: generated plants, each with its own lead-time limit, behind a
    dozen group lanes (every stage to the next, a few countries straight to every plant)."""
    tables = generate(scale)
    stages = ["mine", "refiner", "metal", "magnet", "plant"]
    rows = [(f"stage:{a}", f"stage:{b}", "", 0.2, 0.0, 0.0, 10 + 7 * i)
            for i, (a, b) in enumerate(zip(stages, stages[1:], strict=False))]
    rows.append(("stage:metal", "stage:metal", "NDPR_METAL", 0.1, 0.0, 0.0, 3))
    rows += [(f"country:{c}", "stage:plant", "", 0.3, 0.0, 0.0, d) for c, d in
             [("CN", 30), ("JP", 12), ("KR", 14), ("DE", 21), ("US", 25), ("AU", 33)]]
    tables["Lanes"] = pd.DataFrame(rows, columns=tables["Lanes"].columns)
    return tables


def test_estimate_names_the_lanes_and_limits_that_drive_the_size(tmp_path: Path) -> None:
    write(_group_lane_case(8), tmp_path / "case")  # tens of thousands of variables from 11 Lanes rows
    out = tmp_path / "plan.xlsx"
    res = CliRunner().invoke(main, ["solve", str(tmp_path / "case"), "-o", str(out), "--max-columns", "10000"])
    assert res.exit_code == 3, res.output
    assert "Lanes!A" in res.stderr and "ship columns" in res.stderr and " -> stage:" in res.stderr
    assert "lead-time buckets" in res.stderr and "max_lead_time_days" in res.stderr
    assert not out.exists()


@pytest.mark.slow
def test_a_small_input_beyond_the_default_is_refused(tmp_path: Path) -> None:
    # 576 sites, 11 Lanes rows: about 2.5 million variables; refused from the network alone (seconds)
    write(_group_lane_case(64), tmp_path / "case")
    out = tmp_path / "plan.xlsx"
    res = CliRunner().invoke(main, ["solve", str(tmp_path / "case"), "-o", str(out)])
    assert res.exit_code == 3, res.output
    assert "max_columns = 2,000,000" in res.stderr and "--max-columns" in res.stderr
    assert not out.exists()


# --------------------------------------------------------------------------- LP-guided MIP phases


def _guided(name: str, tmp: Path, monkeypatch: pytest.MonkeyPatch, **overrides: object):  # noqa: ANN202
    from planner.api import options_from
    from planner.optimise import solve as solve_mod

    monkeypatch.setattr(solve_mod, "GUIDED_ABOVE", 0)
    monkeypatch.setattr(solve_mod, "IPM_ABOVE", 0)  # the interior point, as on large models
    write_csv_folder(read_cap(ORLIB / f"{name}.txt"), tmp / name)
    inputs = load(tmp / name)
    model = build_model(inputs)
    return model, solve_mod.solve(model, options_from(inputs, **overrides))


def test_guided_phases_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, res = _guided("cap124", tmp_path, monkeypatch)
    assert [p.name for p in res.phases] == ["LP relaxation", "restricted MIP", "full MIP"]
    lp, restricted, _ = res.phases
    assert lp.status == "Optimal" and lp.bound is not None and "yes/no decisions open" in lp.note
    assert restricted.objective is not None and "yes/no decisions open" in restricted.note
    assert res.status == "optimal"
    assert res.objective == pytest.approx(PUBLISHED_OPTIMA["cap124"], rel=1e-6)


def test_an_interior_point_relaxation_bound_is_not_above_the_lp_optimum(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # without crossover the interior point reports its primal objective; the phase's bound is taken down by
    # its relative gap tolerance, so it never lies above the LP optimum the simplex finds (a vertex, exact)
    import dataclasses  # noqa: PLC0415

    import highspy  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    from planner.optimise import solve as solve_mod  # noqa: PLC0415

    model, res = _guided("cap124", tmp_path, monkeypatch)
    lp = res.phases[0]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("solver", "simplex")
    h.passModel(solve_mod._highs_lp(dataclasses.replace(model, integer=np.zeros_like(model.integer))))
    h.run()
    exact = h.getInfo().objective_function_value
    assert lp.bound is not None and lp.bound <= exact
    assert exact - lp.bound <= 1e-7 * abs(exact)  # by no more than the tolerance
    assert res.bound is not None and res.bound <= res.objective


@pytest.mark.parametrize("name", ["cap124", "cap131"])
def test_restricted_mip_runs_on_an_unfinished_relaxation(name: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # the relaxation stopped after 3 interior-point iterations (as a time limit would on a slow machine):
    # its iterate's most used decisions are the support, and the restricted MIP still runs and finds a plan
    from planner.optimise import solve as solve_mod

    monkeypatch.setattr(solve_mod, "GUIDED_LP_ITERATIONS", 3)
    model, res = _guided(name, tmp_path, monkeypatch)
    lp, restricted, full = res.phases
    assert lp.status == "Iteration limit reached" and lp.bound is None
    assert "the unfinished LP relaxation uses most" in lp.note
    n_open = int(lp.note.split(" of ")[0])
    assert 0 < n_open <= int(model.integer.sum())
    assert restricted.objective is not None
    assert res.status in ("optimal", "feasible") and res.objective >= PUBLISHED_OPTIMA[name] * (1 - 1e-6)
    if full.status != "not run":
        assert res.objective <= restricted.objective * (1 + 1e-9)


def test_restricted_mip_runs_with_a_tiny_time_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a limit far too short for anything: every phase is still tried, in order, and reported
    model, res = _guided("cap61", tmp_path, monkeypatch, time_limit_s=1e-3)
    assert [p.name for p in res.phases] == ["LP relaxation", "restricted MIP", "full MIP"]
    assert res.phases[1].budget_s >= 0.3e-3  # its guaranteed share of the limit
    assert res.status in ("optimal", "feasible", "no_solution")
    if res.x is not None:
        assert np.isfinite(res.objective)
