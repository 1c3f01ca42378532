"""The VSS's and EVPI's solves beside the plan: in a worker process or here, the same answer.

planner.results.information runs the deterministic plan met by every regime and every regime planned alone in
one worker process while the plan against regimes is solved (models of at least IN_PARALLEL_ABOVE columns,
a core to spare); these small cases force it on with IN_PARALLEL_ABOVE = 0 and compare with the serial run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.api import options_from, plan
from planner.input.data import SolveOptions
from planner.results import information
from tests.test_regimes import M, case, supply, three_regimes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the worker is forked on Linux only")


def _answer(inputs):  # noqa: ANN001, ANN201
    p = plan(inputs, options_from(inputs, solver="highs", mip_gap=1e-9))
    a = p.regimes
    return p, a


def _same(a, b) -> None:  # noqa: ANN001
    np.testing.assert_array_equal(a.ev_costs, b.ev_costs)
    np.testing.assert_array_equal(a.ws_costs, b.ws_costs)
    assert a.ev_starts == b.ev_starts and a.ws_starts == b.ws_starts and a.ev_reserved == b.ev_reserved
    for (sa, ra), (sb, rb) in zip(a.ws_held, b.ws_held, strict=True):
        pd.testing.assert_frame_equal(sa, sb)
        assert ra == rb


@pytest.mark.parametrize("lam", [0.0, 0.1])
def test_beside_the_plan_in_a_worker_the_answer_is_the_serial_one(lam, monkeypatch):
    inputs = three_regimes(lam)
    serial, a = _answer(inputs)
    started: list[object] = []
    real = information.Pending._submit

    def submit(self) -> None:  # noqa: ANN001
        real(self)
        started.append(self.future)

    monkeypatch.setattr(information, "IN_PARALLEL_ABOVE", 0)
    monkeypatch.setattr(information, "_spare_cores", lambda _options: 1)
    monkeypatch.setattr(information.Pending, "_submit", submit)
    parallel, b = _answer(inputs)
    assert started and started[0] is not None, "the worker was not started"
    _same(a, b)
    assert parallel.summary["value_of_stochastic_solution_usd"] == serial.summary["value_of_stochastic_solution_usd"]
    assert parallel.summary["expected_value_of_perfect_information_usd"] == \
        serial.summary["expected_value_of_perfect_information_usd"]
    pd.testing.assert_frame_equal(parallel.hedges, serial.hedges)


def test_a_worker_that_fails_is_replaced_by_the_same_solves_here(monkeypatch):
    inputs = case(supply(), fee=1.5 * M)
    _, a = _answer(inputs)

    def broken() -> None:  # runs in the worker (forked with this patch): raises there
        raise RuntimeError("the worker fails")

    monkeypatch.setattr(information, "IN_PARALLEL_ABOVE", 0)
    monkeypatch.setattr(information, "_spare_cores", lambda _options: 1)
    monkeypatch.setattr(information, "_held", broken)
    _, b = _answer(inputs)
    _same(a, b)


def test_cancel_ends_the_worker(monkeypatch):
    inputs = three_regimes(0.0)
    workers: list = []
    real = information.Pending._submit

    def submit(self) -> None:  # noqa: ANN001
        real(self)
        workers.extend(self.pool._processes.values())  # forked at the submit

    monkeypatch.setattr(information, "IN_PARALLEL_ABOVE", 0)
    monkeypatch.setattr(information, "_spare_cores", lambda _options: 1)
    monkeypatch.setattr(information.Pending, "_submit", submit)
    # a plan that fails after the worker started (no time to find one): the worker must go with it
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the planner raises for it
        plan(inputs, SolveOptions(solver="highs", time_limit_s=0.0))
    assert workers, "the worker was not started"
    for proc in workers:
        proc.join(60)  # killed: returns at once; the bound only keeps a regression from hanging the suite
        # asked of the system, not of the Process object: the pool's own thread may reap the child at the same
        # time, and Process.is_alive() then reads "alive" (waitpid: no such child) under a busy machine
        assert not _running(proc.pid)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][:1]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has ended; only its parent has yet to read its status


def test_small_models_and_the_decomposition_stay_in_this_process():
    inputs = three_regimes(0.0)
    from planner.api import plan as _plan  # noqa: PLC0415

    p = _plan(inputs)
    assert p.regimes is not None
    job = information.Pending.start(*_start_args(inputs, "extensive"))
    assert job.future is None  # below IN_PARALLEL_ABOVE columns
    job = information.Pending.start(*_start_args(inputs, "decomposed"))
    assert job.future is None


def _start_args(inputs, method: str):  # noqa: ANN001, ANN202
    from dataclasses import replace  # noqa: PLC0415

    from planner.input.overrides import Scenario, apply_scenario  # noqa: PLC0415
    from planner.optimise.regimes import as_horizon, build_regimes  # noqa: PLC0415

    rm = build_regimes(inputs)
    base = as_horizon(apply_scenario(replace(inputs, regimes=None, regime_changes=None, whatif=None),
                                     Scenario("deterministic", ())))
    return rm, base, SolveOptions(), method
