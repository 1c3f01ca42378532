"""The second hostile catalogue (issue 11): faults while writing, signals, full disks, long names, exit codes.

In the style of tests/test_bad_inputs.py: each case runs the command line on a small input in ``in/`` with
earlier outputs in ``out/`` and asserts the exit code, the message, that every earlier output is
byte-identical, that the input is byte-identical and that no other file appeared (no temporaries, no backups).

Classes:

* transaction: one run's outputs (workbook, Sankey HTML and PNG, MPS) are replaced together or not at all;
* signals: SIGTERM is handled like Ctrl-C (solver cancelled, CBC child ended, exit 143, nothing written);
  these spawn ``python -m planner`` with a stand-in solver and wait for it to say it has started;
* disk: a full disk or a name too long for the file system is exit 6, found before solving where possible;
* exit codes: a batch whose baseline is infeasible (4), a malformed --scheduler (2), --write-mps with a name
  HiGHS refuses (2), a sweep in which no point can be planned (non-zero), an option whose dependency is
  missing (2, before anything is read).
"""

from __future__ import annotations

import errno
import gc
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

import planner.api
import planner.output.sankey
import planner.output.write
from planner.cli import main
from planner.errors import OutputError
from tests.test_bad_inputs import valid, write_xlsx

REPO = Path(__file__).resolve().parents[1]
# A write that fails midway abandons openpyxl's write-only row generators, whose finalizers then complain about
# the closed (removed) temporary file: harmless, and collected here so the noise stays in this module.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
OLD = {"plan.xlsx": b"last week's plan\n", "plan_chain.html": b"last week's picture\n",
       "plan_chain.png": b"last week's png\n", "model.mps": b"last week's model\n"}


# --------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _collect_abandoned_writers():  # noqa: ANN202
    yield
    gc.collect()


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture
def case(tmp_path: Path):  # noqa: ANN201
    """``in/input.xlsx`` (the small valid workbook) and ``out/`` holding last week's outputs."""
    inp = write_xlsx(tmp_path / "in" / "input.xlsx", valid())
    out = tmp_path / "out"
    out.mkdir()
    for name, data in OLD.items():
        (out / name).write_bytes(data)
    return inp, out


def infeasible(path: Path) -> Path:
    s = valid()
    s["Settings"][1] = ["allow_shortage", "no"]
    s["Demand"][1][2] = 1000  # 1000 t of oxide needs 5,260 t of ore; the mines have 800
    return write_xlsx(path, s)


def run(args: list[str], inp: Path, out: Path, code: int, *messages: str, written: bool = False):  # noqa: ANN201
    """Run the CLI; assert the exit code, the messages on stderr, the input untouched and (unless ``written``)
    every earlier output byte-identical with nothing added."""
    before_in, before_out = snapshot(inp.parent), snapshot(out)
    res = CliRunner().invoke(main, args)
    where = f"planner {' '.join(map(str, args))}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    assert res.exit_code == code, where
    for m in messages:
        assert m in res.stderr, f"{m!r} not on stderr\n{where}"
    assert snapshot(inp.parent) == before_in, "the input changed"
    if not written:
        assert snapshot(out) == before_out, f"an output changed or a file was left behind: {sorted(os.listdir(out))}"
        if code != 0:
            assert "Nothing was written." in res.stderr, where
    return res


@pytest.fixture
def no_solve(monkeypatch):  # noqa: ANN001, ANN201
    """Fail the test if the solver is called: the case must be refused before solving."""

    def solve(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("solved although the run could be refused before solving")

    monkeypatch.setattr(planner.api, "solve", solve)


# --------------------------------------------------------------------------- transaction


def test_picture_failing_after_the_workbook_leaves_every_old_file(case, monkeypatch):  # noqa: ANN001
    inp, out = case

    def disk_full(*_a, **_k) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(planner.output.sankey, "render_png", disk_full)
    run(["solve", str(inp), "-o", str(out / "plan.xlsx"), "--picture"], inp, out, 6, "the disk is full")


def test_picture_bug_after_the_workbook_leaves_every_old_file(case, monkeypatch):  # noqa: ANN001
    inp, out = case

    def bug(*_a, **_k) -> None:
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(planner.output.sankey, "render_png", bug)
    run(["solve", str(inp), "-o", str(out / "plan.xlsx"), "--picture"], inp, out, 1, "Internal error",
        "drawing failed")


def test_ctrl_c_while_writing_leaves_every_old_file(case, monkeypatch):  # noqa: ANN001
    inp, out = case

    def interrupted(*_a, **_k) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(planner.output.sankey, "render_png", interrupted)
    run(["solve", str(inp), "-o", str(out / "plan.xlsx"), "--picture"], inp, out, 130, "Interrupted")


def test_mps_is_not_replaced_by_an_infeasible_run(case):  # noqa: ANN001
    inp, out = case
    bad = infeasible(inp.parent / "infeasible.xlsx")
    run(["solve", str(bad), "-o", str(out / "plan.xlsx"), "--write-mps", str(out / "model.mps")], bad, out, 4,
        "demand cannot be met", "PLANT_DE")


def test_mps_is_not_replaced_by_an_invalid_input(case):  # noqa: ANN001
    inp, out = case
    s = valid()
    s["Supply"][1][2] = -5
    bad = write_xlsx(inp.parent / "invalid.xlsx", s)
    run(["solve", str(bad), "-o", str(out / "plan.xlsx"), "--write-mps", str(out / "model.mps")], bad, out, 3,
        "Supply!C2 (capacity_t)")


def test_mps_is_not_replaced_when_the_workbook_cannot_be_written(case, monkeypatch):  # noqa: ANN001
    inp, out = case

    def disk_full(self, filename) -> None:  # noqa: ANN001
        Path(filename).write_bytes(b"PK half a workbook")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(planner.output.write, "save_workbook", disk_full)
    run(["solve", str(inp), "-o", str(out / "plan.xlsx"), "--write-mps", str(out / "model.mps")], inp, out, 6,
        "the disk is full")


def test_a_replace_failing_midway_puts_back_the_files_already_replaced(case, monkeypatch):  # noqa: ANN001
    inp, out = case
    real = os.replace

    def replace(src, dst, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
        if Path(dst).name == "plan_chain.png":  # the third output: the workbook and the HTML are replaced by then
            raise OSError(errno.EIO, "Input/output error")
        return real(src, dst, *a, **k)

    monkeypatch.setattr(planner.output.write.os, "replace", replace)
    run(["solve", str(inp), "-o", str(out / "plan.xlsx"), "--picture"], inp, out, 6,
        "could not write", "plan_chain.png")


def test_a_locked_picture_keeps_the_new_files_beside_and_the_old_ones_in_place(case, monkeypatch):  # noqa: ANN001
    inp, out = case
    real = os.replace

    def replace(src, dst, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
        if Path(dst).name == "plan_chain.png":
            raise PermissionError(errno.EACCES, "Permission denied")
        return real(src, dst, *a, **k)

    monkeypatch.setattr(planner.output.write.os, "replace", replace)
    res = run(["solve", str(inp), "-o", str(out / "plan.xlsx"), "--picture"], inp, out, 6, "is open or locked",
              written=True)
    for name, data in OLD.items():
        assert (out / name).read_bytes() == data
    kept = sorted(p.name for p in out.iterdir() if ".locked-" in p.name)
    assert [k.split(".locked-")[0] for k in kept] == ["plan", "plan_chain", "plan_chain"], kept
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary or backup files left"
    assert "Nothing was written." not in res.stderr
    openpyxl.load_workbook(next(out.glob("plan.locked-*.xlsx")))  # the finished plan, whole


def test_batch_workbook_failing_leaves_the_old_one(case, monkeypatch):  # noqa: ANN001
    inp, out = case
    (out / "batch.xlsx").write_bytes(b"last week's batch\n")

    def disk_full(self, filename) -> None:  # noqa: ANN001
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(planner.output.write, "save_workbook", disk_full)
    run(["batch", str(inp), "-o", str(out / "batch.xlsx"), "--jobs", "1"], inp, out, 6, "the disk is full")


def test_a_successful_run_replaces_every_output_and_leaves_no_temporaries(case):  # noqa: ANN001
    inp, out = case
    run(["solve", str(inp), "-o", str(out / "plan.xlsx"), "--picture", "--write-mps", str(out / "model.mps")],
        inp, out, 0, written=True)
    assert sorted(os.listdir(out)) == sorted(OLD)
    for name, data in OLD.items():
        assert (out / name).read_bytes() != data, name
    assert (out / "model.mps").read_text().startswith(("NAME", "*"))


def test_output_set_commits_all_or_nothing(tmp_path):  # noqa: ANN001
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old a")
    with planner.output.write.OutputSet() as outputs:
        outputs.reserve(a)
        outputs.reserve(b)
        outputs.temp(a).write_text("new a")
        outputs.temp(b).write_text("new b")
        assert a.read_text() == "old a" and not b.exists()  # nothing replaced before the commit
        outputs.commit()
    assert (a.read_text(), b.read_text()) == ("new a", "new b")
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.txt"]
    with pytest.raises(RuntimeError, match="never written"), planner.output.write.OutputSet() as outputs:
        outputs.temp(a).write_text("newer a")
        outputs.reserve(b)  # reserved, never written: a bug, and no reason to replace a
        outputs.commit()
    assert a.read_text() == "new a"
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.txt"]


# --------------------------------------------------------------------------- signals

# A stand-in for HiGHS that "solves" until cancelled, run through the planner's own interruptible runner, so
# that the test can wait for the event "the solver has started" instead of guessing a time.
_SLOW_HIGHS = """
    import sys, threading
    from pathlib import Path
    import planner.api
    import planner.optimise.solve as solve_mod
    started = Path(sys.argv[1])

    class SlowHighs:
        def __init__(self):
            self.HandleUserInterrupt = False
            self.cancelled = threading.Event()

        def run(self):
            started.write_text("solving")
            self.cancelled.wait(300)

        def cancelSolve(self):
            Path(str(started) + ".cancelled").write_text("cancelled")
            self.cancelled.set()

    def slow_solve(model, options):
        solve_mod.run_interruptible(SlowHighs())
        raise AssertionError("the stand-in solver was not cancelled")

    planner.api.solve = slow_solve
    solve_mod.solve = slow_solve
    solve_mod._run_highs = lambda h, model, t0: slow_solve(model, None)  # a batch's warm solver
"""
# A stand-in CBC binary: writes its process id, then runs until killed.
_SLOW_CBC = """
    import os, sys
    from pathlib import Path
    import planner.optimise.solve as solve_mod
    started = Path(sys.argv[1])
    fake = started.with_name("cbc")
    fake.write_text('#!/bin/sh\\necho $$ > "' + str(started) + '.tmp"\\nmv "' + str(started) + '.tmp" "'
                    + str(started) + '"\\nexec sleep 300\\n')
    fake.chmod(0o755)
    solve_mod.cbc_path = lambda: str(fake)
"""
_MAIN = """
    from planner.cli import main
    sys.argv = ["planner", *sys.argv[2:]]
    main()
"""


def _spawn(stand_in: str, started: Path, args: list[str]) -> subprocess.Popen:
    code = textwrap.dedent(stand_in) + textwrap.dedent(_MAIN)
    return subprocess.Popen([sys.executable, "-c", code, str(started), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=started.parent)


def _wait_for(path: Path, proc: subprocess.Popen, what: str) -> None:
    """Wait for the event (``path`` appears); a generous bound only so that a broken run cannot hang the suite."""
    deadline = time.monotonic() + 120
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the planner ended before {what}: {proc.communicate()}")
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_during_a_solve_cancels_it_and_writes_nothing(case):  # noqa: ANN001
    inp, out = case
    started = inp.parent.parent / "started"
    before_in, before_out = snapshot(inp.parent), snapshot(out)
    proc = _spawn(_SLOW_HIGHS, started, ["solve", str(inp), "-o", str(out / "plan.xlsx"), "--picture",
                                         "--write-mps", str(out / "model.mps")])
    try:
        _wait_for(started, proc, "the solver started")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert "Terminated" in err and "Nothing was written." in err, err
    assert Path(str(started) + ".cancelled").exists(), "the solver was not cancelled"
    assert snapshot(out) == before_out, sorted(os.listdir(out))  # the MPS temporary, written before, is gone too
    assert snapshot(inp.parent) == before_in


def test_sigterm_during_a_cbc_solve_ends_the_cbc_process(case):  # noqa: ANN001
    inp, out = case
    started = inp.parent.parent / "started"
    before_out = snapshot(out)
    proc = _spawn(_SLOW_CBC, started, ["solve", str(inp), "-o", str(out / "plan.xlsx"), "--solver", "cbc"])
    pid = None
    try:
        _wait_for(started, proc, "CBC started")
        pid = int(started.read_text())
        assert _alive(pid)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 143, err
        assert "Terminated" in err and "Nothing was written." in err, err
        assert not _alive(pid), "the CBC child process outlived the planner"
        assert snapshot(out) == before_out
    finally:
        proc.kill()
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with open(task / "children") as fh:
            out |= {int(c) for c in fh.read().split()}
    return out


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from /proc")
def test_sigterm_during_a_parallel_batch_ends_the_workers(case):  # noqa: ANN001
    inp, out = case
    started = inp.parent.parent / "started"
    before_out = snapshot(out)
    whatif = inp.parent / "WhatIf.csv"
    whatif.write_text("scenario,sheet,key,column,operation,value\n"
                      "cheap A,Supply,MINE_A/ORE,unit_cost_usd_per_kg,set,1\n"
                      "cheap B,Supply,MINE_B/ORE,unit_cost_usd_per_kg,set,1\n")
    proc = _spawn(_SLOW_HIGHS, started, ["batch", str(inp), "--whatif", str(inp.parent), "-o",
                                         str(out / "batch.xlsx"), "--jobs", "2"])
    _sigterm_ends_the_workers(proc, started, out, before_out, "a worker started solving")


def _sigterm_ends_the_workers(proc: subprocess.Popen, started: Path, out: Path, before_out: dict, what: str) -> None:
    """Once ``what`` happened, SIGTERM: exit 143, nothing written, and no worker process of the planner left."""
    workers: set[int] = set()
    try:
        _wait_for(started, proc, what)
        workers = _children(proc.pid)
        assert workers, "no worker processes"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 143, err
        assert "Terminated" in err and "Nothing was written." in err, err
        assert not [w for w in workers if _alive(w)], "a worker outlived the planner"
        assert snapshot(out) == before_out
    finally:
        proc.kill()
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)


# --------------------------------------------------------------------------- full disk, long names


def test_full_disk_is_exit_6_before_solving(case, no_solve, monkeypatch):  # noqa: ANN001
    inp, out = case

    class Full:
        f_bavail, f_frsize = 3, 4096

    monkeypatch.setattr(planner.output.write.os, "statvfs", lambda _p: Full())
    run(["solve", str(inp), "-o", str(out / "plan.xlsx")], inp, out, 6, "the disk is full")


def test_full_disk_while_writing_is_exit_6(case, monkeypatch):  # noqa: ANN001
    inp, out = case

    def disk_full(self, filename) -> None:  # noqa: ANN001
        Path(filename).write_bytes(b"PK half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(planner.output.write, "save_workbook", disk_full)
    run(["solve", str(inp), "-o", str(out / "plan.xlsx"), "--picture"], inp, out, 6, "the disk is full")


def test_quota_exceeded_is_a_full_disk_too(case, monkeypatch):  # noqa: ANN001
    inp, out = case

    def quota(self, filename) -> None:  # noqa: ANN001
        raise OSError(errno.EDQUOT, "Disk quota exceeded")

    monkeypatch.setattr(planner.output.write, "save_workbook", quota)
    run(["solve", str(inp), "-o", str(out / "plan.xlsx")], inp, out, 6, "the disk is full")


@pytest.mark.parametrize("option", ["-o", "--picture", "--write-mps"])
def test_name_too_long_is_exit_6_before_solving(case, no_solve, option):  # noqa: ANN001
    inp, out = case
    long = "p" * 250  # fits the usual 255-byte limit; "<name>_chain.html" does not
    args = {"-o": ["-o", str(out / ("p" * 300 + ".xlsx"))],
            "--picture": ["-o", str(out / f"{long}.xlsx"), "--picture"],
            "--write-mps": ["-o", str(out / "plan.xlsx"), "--write-mps", str(out / ("m" * 300 + ".mps"))]}[option]
    run(["solve", str(inp), *args], inp, out, 6, "too long")


def test_name_too_long_for_a_sweep_is_exit_6(case, no_solve):  # noqa: ANN001
    inp, out = case
    run(["sweep", str(inp), "--param", "risk_weight", "--from", "0", "--to", "1", "--steps", "2", "-o",
         str(out / ("s" * 300 + ".xlsx"))], inp, out, 6, "too long")


def test_path_too_long_is_exit_6(case, no_solve):  # noqa: ANN001
    inp, out = case
    deep = out.joinpath(*(["d" * 200] * 25))  # each part is fine, the whole path is over PATH_MAX
    run(["solve", str(inp), "-o", str(deep / "plan.xlsx")], inp, out, 6)


# --------------------------------------------------------------------------- exit codes


def test_batch_with_an_infeasible_baseline_exits_4(case):  # noqa: ANN001
    inp, out = case
    bad = infeasible(inp.parent / "infeasible.xlsx")
    run(["batch", str(bad), "-o", str(out / "batch.xlsx"), "--jobs", "1"], bad, out, 4,
        "the baseline could not be planned", "PLANT_DE")


@pytest.mark.parametrize("address", ["not an address", "tcp://host:99999", "http://10.0.0.5:8786", "tcp://",
                                     "host:port", ""])
def test_malformed_scheduler_is_a_usage_error(case, no_solve, address):  # noqa: ANN001
    inp, out = case
    run(["batch", str(inp), "-o", str(out / "batch.xlsx"), "--executor", "dask", "--scheduler", address], inp, out,
        2, "--scheduler" if address else "needs --scheduler")


def test_scheduler_without_dask_is_a_usage_error(case, no_solve):  # noqa: ANN001
    inp, out = case
    run(["batch", str(inp), "-o", str(out / "batch.xlsx"), "--scheduler", "tcp://127.0.0.1:8786"], inp, out, 2,
        "--scheduler is for --executor dask")


@pytest.mark.parametrize("name", ["model.txt", "model.lp", "model"])
def test_write_mps_with_a_name_highs_refuses_is_a_usage_error(case, no_solve, name):  # noqa: ANN001
    inp, out = case
    run(["solve", str(inp), "-o", str(out / "plan.xlsx"), "--write-mps", str(out / name)], inp, out, 2,
        "give a name ending in .mps")


def test_write_mps_refused_by_highs_is_an_error_not_a_silent_success(tmp_path):  # noqa: ANN001
    from planner.input.validate import load  # noqa: PLC0415
    from planner.optimise.model import build_model  # noqa: PLC0415
    from planner.optimise.solve import write_mps  # noqa: PLC0415

    model = build_model(load(write_xlsx(tmp_path / "in.xlsx", valid())))
    with pytest.raises(OutputError, match="could not write the model"):
        write_mps(model, tmp_path / "model.txt")
    assert not (tmp_path / "model.txt").exists()


def test_sweep_where_no_point_can_be_planned_is_infeasible(case):  # noqa: ANN001
    inp, out = case
    s = valid()
    s["Settings"][1] = ["allow_shortage", "no"]
    bad = write_xlsx(inp.parent / "tight.xlsx", s)
    # the baseline (100 t) can be met; every point of the sweep asks for more than the mines can give
    run(["sweep", str(bad), "--param", "Demand:PLANT_DE/NDPR_OXIDE:quantity_t", "--from", "500", "--to", "900",
         "--steps", "3", "-o", str(out / "sweep.xlsx"), "--jobs", "1"], bad, out, 4,
        "no point of the sweep could be planned")


def test_sweep_whose_parameter_matches_nothing_is_a_usage_error(case):  # noqa: ANN001
    inp, out = case
    run(["sweep", str(inp), "--param", "Supply:NO_SUCH_SITE/ORE:capacity_t", "--from", "1", "--to", "2",
         "--steps", "2", "-o", str(out / "sweep.xlsx"), "--jobs", "1"], inp, out, 2,
        "no point of the sweep could be planned")


def test_picture_without_pillow_is_refused_before_solving(case, no_solve, monkeypatch):  # noqa: ANN001
    inp, out = case
    monkeypatch.setitem(sys.modules, "PIL", None)  # what a missing package looks like to find_spec
    run(["solve", str(inp), "-o", str(out / "plan.xlsx"), "--picture"], inp, out, 2, "--picture needs", "pillow")


def test_dask_executor_without_dask_is_refused_before_reading(case, no_solve, monkeypatch):  # noqa: ANN001
    inp, out = case
    monkeypatch.setitem(sys.modules, "distributed", None)
    run(["batch", str(inp), "-o", str(out / "batch.xlsx"), "--executor", "dask", "--scheduler",
         "tcp://127.0.0.1:8786"], inp, out, 2, "--executor dask needs", "planner[dask]")



def test_a_reader_that_goes_away_is_not_an_error(case):  # noqa: ANN001
    # planner solve | head: BrokenPipeError is an OSError, and must be taken neither for a disk error nor a bug
    inp, out = case
    proc = subprocess.Popen([sys.executable, "-m", "planner", "solve", str(inp), "-o", str(out / "plan.xlsx")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode == 0, err
    assert "Error" not in err, err
    assert (out / "plan.xlsx").read_bytes() != OLD["plan.xlsx"]


# The plan against regimes solves its VSS and EVPI beside the plan in a worker process (large models; forced
# on here): the worker stands in for a slow solve too, and must not outlive a SIGTERM.
_SLOW_BESIDE = _SLOW_HIGHS + """
    import planner.optimise.decompose as decompose_mod
    import planner.results.information as information_mod
    decompose_mod.solve = slow_solve
    information_mod.solve = slow_solve
    information_mod.IN_PARALLEL_ABOVE = 0
    information_mod._spare_cores = lambda options: 1
"""


@pytest.mark.skipif(not Path("/proc/self/task").exists() or not hasattr(os, "fork"),
                    reason="reads child processes from /proc; the worker is forked")
def test_sigterm_during_a_plan_against_regimes_ends_the_worker_beside_it(case):  # noqa: ANN001
    inp, out = case
    started = inp.parent.parent / "started"
    regimes = inp.parent / "regimes"
    regimes.mkdir()
    (regimes / "Regimes.csv").write_text("scenario,probability,question\nas is,0.7,\nmine A halved,0.3,\n")
    (regimes / "RegimeChanges.csv").write_text("scenario,sheet,key,column,operation,value\n"
                                              "mine A halved,Supply,MINE_A/ORE,capacity_t,multiply,0.5\n")
    before_out = snapshot(out)
    proc = _spawn(_SLOW_BESIDE, started, ["solve", str(inp), "--regimes", str(regimes), "-o",
                                          str(out / "plan.xlsx")])
    # the worker is forked before the plan's solve starts
    _sigterm_ends_the_workers(proc, started, out, before_out, "a solve started")
