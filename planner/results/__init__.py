"""Results layer: the plan recomputed from the flows, its explanations, and an independent checker."""
