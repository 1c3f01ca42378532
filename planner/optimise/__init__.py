"""Optimise layer: the supply network, the linear model built from it, and the solvers."""
