"""planner: license-aware sourcing optimisation for rare-earth magnet supply chains."""

__version__ = "0.1.0"
