"""The command line: exit codes, what is printed, what is (and is not) written.

Every run goes through ``invoke``, which hashes the input before and after
(an input is never changed) and checks that no ``*.tmp`` file is left beside
the output. Outputs always go to ``tmp_path`` (``-o``), never to ``outputs/``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

import planner.api
from planner.cli import main
from tests.test_validate import good, write_xlsx

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "inputs" / "rare_earth_magnets.xlsx"
REFERENCE_CSV = REPO / "inputs" / "reference"
CONTRACT_KEYS = {"status", "total_cost_usd", "cost_breakdown_usd", "shortage_t", "exposed_share", "plants"}
PLANT_KEYS = {"site_id", "product", "demand_t", "delivered_t", "shortage_t", "exposed_t", "max_lead_time_days"}


def digest(path: Path) -> str:
    """SHA-256 of a file, or of every file (name and bytes) in a folder."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def tmp_files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.name.endswith(".tmp"))


def invoke(args: list[str], inputs: list[Path] = (), folders: list[Path] = ()):  # noqa: ANN201
    """Run the CLI; the inputs must be byte-identical afterwards and no temp file may be left in folders."""
    before = {p: digest(p) for p in inputs}
    result = CliRunner().invoke(main, [str(a) for a in args])
    for p in inputs:
        assert digest(p) == before[p], f"{p} was changed by: planner {' '.join(map(str, args))}"
    for f in folders:
        assert tmp_files(f) == [], f"temporary files left by: planner {' '.join(map(str, args))}"
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture(scope="module", autouse=True)
def bundled_inputs_untouched():  # noqa: ANN201
    """Nothing in this module may change the bundled reference case."""
    before = (digest(REFERENCE), digest(REFERENCE_CSV))
    yield
    assert (digest(REFERENCE), digest(REFERENCE_CSV)) == before


@pytest.fixture
def ref(tmp_path) -> Path:  # noqa: ANN001
    """A private copy of the reference workbook."""
    return Path(shutil.copy(REFERENCE, tmp_path / "case.xlsx"))


@pytest.fixture(scope="module")
def solved(tmp_path_factory):  # noqa: ANN001, ANN201
    """`planner solve <reference copy> -o plan.xlsx --json`, once for the module."""
    folder = tmp_path_factory.mktemp("solved")
    src = Path(shutil.copy(REFERENCE, folder / "case.xlsx"))
    out = folder / "plan.xlsx"
    result = invoke(["solve", src, "-o", out, "--json"], inputs=[src], folders=[folder])
    return result, out


def bad_workbook(path: Path) -> Path:
    sheets = good()
    sheets["Supply"][2][2] = -50  # Supply!C3
    return write_xlsx(path, sheets)


def infeasible_workbook(path: Path) -> Path:
    sheets = good()  # REF_MY makes at most 200 t of NDPR_OXIDE
    sheets["Demand"][1][2] = 500
    sheets["Settings"][1] = ["allow_shortage", "no"]
    return write_xlsx(path, sheets)


# --------------------------------------------------------------------------- solve


def test_solve_reference_writes_the_workbook_and_one_json_object(solved):
    result, out = solved
    assert result.exit_code == 0, result.output
    assert out.exists()
    wb = openpyxl.load_workbook(out, read_only=True)
    assert "Summary" in wb.sheetnames
    wb.close()

    payload = json.loads(result.stdout)  # the whole of stdout is one JSON object
    assert isinstance(payload, dict)
    assert set(payload) >= CONTRACT_KEYS
    assert payload["status"] == "optimal"
    parts = payload["cost_breakdown_usd"]
    assert isinstance(parts, dict) and parts
    assert sum(parts.values()) == pytest.approx(payload["total_cost_usd"], abs=0.01)
    assert payload["total_cost_usd"] > 0
    assert payload["shortage_t"] >= 0
    assert 0 <= payload["exposed_share"] <= 1
    assert payload["plants"]
    for p in payload["plants"]:
        assert set(p) >= PLANT_KEYS, p
        assert p["delivered_t"] + p["shortage_t"] == pytest.approx(p["demand_t"], abs=1e-4)
        assert 0 <= p["exposed_t"] <= p["delivered_t"] + 1e-6
    assert sum(p["shortage_t"] for p in payload["plants"]) == pytest.approx(payload["shortage_t"], abs=1e-4)


def test_solve_reference_csv_folder_gives_the_same_total_cost(solved, tmp_path):
    folder = Path(shutil.copytree(REFERENCE_CSV, tmp_path / "reference"))
    out = tmp_path / "plan_csv.xlsx"
    result = invoke(["solve", folder, "-o", out, "--json"], inputs=[folder], folders=[tmp_path])
    assert result.exit_code == 0, result.output
    xlsx_total = json.loads(solved[0].stdout)["total_cost_usd"]
    assert json.loads(result.stdout)["total_cost_usd"] == pytest.approx(xlsx_total, abs=0.01)


def test_cbc_and_highs_give_the_same_total_cost(ref, tmp_path):
    totals = {}
    for solver in ("highs", "cbc"):
        out = tmp_path / f"plan_{solver}.xlsx"
        result = invoke(["solve", ref, "-o", out, "--json", "--solver", solver], inputs=[ref], folders=[tmp_path])
        assert result.exit_code == 0, result.output
        payload = json.loads(result.stdout)
        assert payload["status"] == "optimal"
        totals[solver] = payload["total_cost_usd"]
    assert totals["cbc"] == pytest.approx(totals["highs"], rel=1e-6)


def test_invalid_input_exits_3_names_the_cell_and_writes_nothing(tmp_path):
    src = bad_workbook(tmp_path / "bad.xlsx")
    out = tmp_path / "plan.xlsx"
    result = invoke(["solve", src, "-o", out], inputs=[src], folders=[tmp_path])
    assert result.exit_code == 3
    assert "Error:" in result.stderr
    assert "Supply!C3 (capacity_t): expected a number >= 0, got -50" in result.stderr
    assert "Nothing was written." in result.stderr
    assert not out.exists()


def test_invalid_input_leaves_an_existing_output_byte_identical(tmp_path):
    src = bad_workbook(tmp_path / "bad.xlsx")
    out = tmp_path / "plan.xlsx"
    out.write_bytes(b"last week's plan")
    result = invoke(["solve", src, "-o", out], inputs=[src, out], folders=[tmp_path])
    assert result.exit_code == 3
    assert out.read_bytes() == b"last week's plan"


def test_invalid_input_with_json_reports_the_problems(tmp_path):
    src = bad_workbook(tmp_path / "bad.xlsx")
    result = invoke(["solve", src, "-o", tmp_path / "plan.xlsx", "--json"], inputs=[src], folders=[tmp_path])
    assert result.exit_code == 3
    payload = json.loads(result.stdout)
    assert payload["status"] == "error"
    assert "Supply!C3 (capacity_t): expected a number >= 0, got -50" in payload["problems"]


def test_infeasible_exits_4_with_findings(tmp_path):
    src = infeasible_workbook(tmp_path / "tight.xlsx")
    out = tmp_path / "plan.xlsx"
    result = invoke(["solve", src, "-o", out], inputs=[src], folders=[tmp_path])
    assert result.exit_code == 4
    assert "Error: demand cannot be met in full" in result.stderr
    finding = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert finding, result.stderr
    assert "PLANT_DE" in finding[0] and "NDPR_OXIDE" in finding[0] and "300.0 t short" in finding[0]
    assert "Nothing was written." in result.stderr
    assert not out.exists()


def test_infeasible_with_json_says_infeasible(tmp_path):
    src = infeasible_workbook(tmp_path / "tight.xlsx")
    out = tmp_path / "plan.xlsx"
    result = invoke(["solve", src, "-o", out, "--json"], inputs=[src], folders=[tmp_path])
    assert result.exit_code == 4
    payload = json.loads(result.stdout)
    assert payload["status"] == "infeasible"
    assert payload["findings"]
    assert not out.exists()


def test_output_equal_to_the_input_exits_2(ref, tmp_path):
    result = invoke(["solve", ref, "-o", ref], inputs=[ref], folders=[tmp_path])
    assert result.exit_code == 2
    assert "refusing to write the output over the input" in result.stderr


def test_output_inside_the_input_csv_folder_exits_2(tmp_path):
    folder = Path(shutil.copytree(REFERENCE_CSV, tmp_path / "reference"))
    out = folder / "plan.xlsx"
    result = invoke(["solve", folder, "-o", out], inputs=[folder], folders=[tmp_path])
    assert result.exit_code == 2
    assert not out.exists()


def test_missing_input_path_exits_2(tmp_path):
    out = tmp_path / "plan.xlsx"
    result = invoke(["solve", tmp_path / "no_such_file.xlsx", "-o", out], folders=[tmp_path])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
    assert not out.exists()


def test_output_that_is_not_xlsx_exits_2(ref, tmp_path):
    result = invoke(["solve", ref, "-o", tmp_path / "plan.csv"], inputs=[ref], folders=[tmp_path])
    assert result.exit_code == 2
    assert not (tmp_path / "plan.csv").exists()


def test_output_locked_by_excel_exits_6_before_solving(ref, tmp_path, monkeypatch):
    out = tmp_path / "plan.xlsx"
    out.write_bytes(b"the plan open in Excel")
    (tmp_path / "~$plan.xlsx").write_bytes(b"owner file")

    def must_not_solve(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("solved although the output is locked")

    monkeypatch.setattr(planner.api, "plan", must_not_solve)
    result = invoke(["solve", ref, "-o", out], inputs=[ref, out], folders=[tmp_path])
    assert result.exit_code == 6
    assert "open in Excel" in result.stderr
    assert "Nothing was written." in result.stderr
    assert out.read_bytes() == b"the plan open in Excel"


def test_output_folder_missing_exits_6(ref, tmp_path):
    result = invoke(["solve", ref, "-o", tmp_path / "nowhere" / "plan.xlsx"], inputs=[ref], folders=[tmp_path])
    assert result.exit_code == 6
    assert not (tmp_path / "nowhere").exists()


def test_no_temp_files_after_a_successful_solve(solved):
    _, out = solved
    assert tmp_files(out.parent) == []
    assert sorted(p.name for p in out.parent.iterdir()) == ["case.xlsx", "plan.xlsx"]


# --------------------------------------------------------------------------- validate and template


def test_validate_reference_exits_0(ref):
    result = invoke(["validate", ref], inputs=[ref])
    assert result.exit_code == 0, result.output
    assert "is valid" in result.stdout


def test_validate_bad_file_exits_3(tmp_path):
    src = bad_workbook(tmp_path / "bad.xlsx")
    result = invoke(["validate", src], inputs=[src])
    assert result.exit_code == 3
    assert "Supply!C3 (capacity_t): expected a number >= 0, got -50" in result.stderr


def test_template_is_accepted_by_validate(tmp_path):
    out = tmp_path / "template.xlsx"
    result = invoke(["template", out], folders=[tmp_path])
    assert result.exit_code == 0, result.output
    assert out.exists()
    result = invoke(["validate", out], inputs=[out])
    assert result.exit_code == 0, result.output


def test_blank_template_is_rejected_by_validate_for_want_of_data(tmp_path):
    out = tmp_path / "blank.xlsx"
    result = invoke(["template", "--blank", out], folders=[tmp_path])
    assert result.exit_code == 0, result.output
    result = invoke(["validate", out], inputs=[out])
    assert result.exit_code == 3
    for sheet in ("Sites", "Supply", "Lanes", "Demand"):
        assert f"{sheet}: the sheet has no data rows" in result.stderr


def test_template_that_is_not_xlsx_exits_2(tmp_path):
    result = invoke(["template", tmp_path / "template.txt"], folders=[tmp_path])
    assert result.exit_code == 2
    assert not (tmp_path / "template.txt").exists()


# --------------------------------------------------------------------------- help and docs


def test_every_help_exits_0_with_an_example():
    for args in [["--help"], *[[name, "--help"] for name in main.commands]]:
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, args
        assert "Example" in result.output, args


def test_contract_commands_exist():
    assert {"solve", "validate", "template", "batch"} <= set(main.commands)


def test_every_command_is_in_the_readme():
    readme = REPO / "README.md"
    if not readme.exists():
        pytest.skip("README.md does not exist yet")
    text = readme.read_text(encoding="utf-8")
    for name in main.commands:
        assert f"planner {name}" in text, f"README.md does not mention `planner {name}`"

