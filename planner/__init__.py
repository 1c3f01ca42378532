"""planner: license-aware sourcing optimisation for rare-earth magnet supply chains.

The layers are sub-packages (input, optimise, results, output, whatif); the functions a script
needs are importable from here, loaded on first use so that ``import planner`` stays cheap::

    import planner
    inputs = planner.load("inputs/rare_earth_magnets.xlsx")
    plan = planner.plan(inputs)
    print(plan.summary["total_cost_usd"])
"""

__version__ = "0.1.0"

# name -> module; resolved lazily (PEP 562) so the CLI's start-up pays only for what a command uses
_API = {
    "load": "planner.input.validate",
    "Inputs": "planner.input.data",
    "SolveOptions": "planner.input.data",
    "options_from": "planner.optimise.solve",
    "plan": "planner.api",
    "Plan": "planner.results.report",
    "check_plan": "planner.results.check",
    "parse_whatif": "planner.whatif.scenarios",
    "run_batch": "planner.whatif.batch",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> object:
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'planner' has no attribute {name!r}")
