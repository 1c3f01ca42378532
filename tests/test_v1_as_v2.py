"""Every hand-worked model rule plans the same when its input is written as a one-period v2 workbook.

Contract v2 keeps v1 readable: a v1 input is a one-period v2 input. Here each rule of
tests/test_model_rules.py runs again with its case given a Periods sheet of one row, so it goes through
the horizon model (blocks, qualification decisions, discounting) and check_horizon, and must reach the
same hand-worked optimum.
"""

from __future__ import annotations

import inspect

import pytest

from tests import conftest
from tests import test_model_rules as rules

RULES = [f for name, f in sorted(vars(rules).items())
         if name.startswith("test_") and callable(f) and not inspect.signature(f).parameters]


@pytest.mark.parametrize("rule", RULES, ids=[f.__name__.removeprefix("test_") for f in RULES])
def test_a_model_rule_holds_for_a_one_period_v2_input(rule, monkeypatch):
    monkeypatch.setitem(conftest.AS_V2, "on", True)
    monkeypatch.setitem(conftest.SOLVER, "name", "highs")
    rule()
