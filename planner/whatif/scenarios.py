"""What-if scenarios: the WhatIf table's changes applied to validated inputs.

The machinery lives in the input layer (planner.input.overrides), since the licence regimes of a
Regimes sheet apply the same changes while planning; this module keeps the what-if layer's names.
"""

from planner.input.overrides import (  # noqa: F401
    ATTR,
    Change,
    Scenario,
    ScenarioError,
    apply_scenario,
    parse_whatif,
)
