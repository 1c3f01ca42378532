"""Validated input tables, the hand-off between validation and the model."""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from planner.errors import Issue


def content_digest(*frames: pd.DataFrame) -> bytes:
    """A digest of exactly the frames' contents: column names and every value with its Python type (pickled:
    1, 1.0, "1", None and NaN all differ), column by column in order. Equal digests, equal frames."""
    h = hashlib.sha256()
    for f in frames:
        h.update(pickle.dumps([str(c) for c in f.columns], protocol=5))
        for c in range(f.shape[1]):
            h.update(pickle.dumps(f.iloc[:, c].tolist(), protocol=5))
    return h.digest()


def remember(memo: dict, key: object, value: object, most: int) -> None:
    """``memo[key] = value``, dropping the oldest entry first when ``memo`` holds ``most``."""
    if len(memo) >= most:
        del memo[next(iter(memo))]
    memo[key] = value


@dataclass(frozen=True)
class Inputs:
    """Validated, canonically sorted input tables.

    Every table keeps a ``_row`` column with the Excel row it came from (0 for
    rows added by code) so that later findings can point back at the sheet.
    ``settings`` holds every key of ``schema.SETTINGS_KEYS`` with its value.
    """

    sites: pd.DataFrame
    supply: pd.DataFrame
    recipes: pd.DataFrame
    coproducts: pd.DataFrame
    lanes: pd.DataFrame
    demand: pd.DataFrame
    controls: pd.DataFrame
    settings: dict[str, object]
    whatif: pd.DataFrame | None = None
    warnings: tuple[Issue, ...] = ()
    source: Path | None = None
    source_sha256: str = ""
    # the horizon (contract v2): period ids in time order with their days; None: one year (v1), and the
    # periodic tables' ``period`` column is blank
    periods: pd.DataFrame | None = None
    stock: pd.DataFrame | None = None  # Stock rows (contract v2), or None
    contracts: pd.DataFrame | None = None  # Contracts rows (contract v2), or None
    reservations: pd.DataFrame | None = None  # Reservations rows (contract v2), or None
    # licence regimes to plan against (scenarios): Regimes rows (scenario, probability, question) and their
    # RegimeChanges (WhatIf rows); None: the one deterministic world
    regimes: pd.DataFrame | None = None
    regime_changes: pd.DataFrame | None = None

    @property
    def period_ids(self) -> list[str]:
        return [""] if self.periods is None else self.periods["period"].tolist()

    def for_period(self, period: str) -> Inputs:
        """The one-year input of one period: its rows of every periodic table, quantities per year scaled to
        the period's length. A v1 input is its own only period."""
        if self.periods is None:
            return self
        days = int(self.periods.set_index("period").at[period, "days"])
        scale = days / 365.0

        def pick(frame: pd.DataFrame) -> pd.DataFrame:
            return frame[frame["period"] == period].reset_index(drop=True)

        sites, supply, demand = pick(self.sites), pick(self.supply), pick(self.demand)
        if scale != 1.0:  # per-year figures, for a period of another length
            sites = sites.assign(min_volume_t=sites["min_volume_t"] * scale)
            supply = supply.assign(capacity_t=supply["capacity_t"] * scale)
            demand = demand.assign(quantity_t=demand["quantity_t"] * scale)
        reach = self.reservable(period)
        if reach:
            # the period's network may make up to capacity plus the most that can be reserved; the horizon
            # model holds what is made within capacity plus what the plan reserves (planner.optimise.horizon)
            more = [reach.get(k, 0.0) * scale for k in zip(supply["site_id"], supply["product"], strict=True)]
            supply = supply.assign(capacity_t=supply["capacity_t"] + more)
        return replace(self, sites=sites, supply=supply, lanes=pick(self.lanes), demand=demand,
                       controls=pick(self.controls), periods=None, stock=None, contracts=None, reservations=None,
                       regimes=None, regime_changes=None)

    def in_force(self, row: pd.Series) -> list[str]:
        """The periods a Contracts or Reservations row runs: first_period (blank: the first) to last_period."""
        periods = self.period_ids
        first = periods.index(row["first_period"]) if row["first_period"] else 0
        last = periods.index(row["last_period"]) if row["last_period"] else len(periods) - 1
        return periods[first:last + 1]

    def reservable(self, period: str) -> dict[tuple[str, str], float]:
        """(site, product) -> the most tonnes a year that Reservations rows in force in ``period`` can reserve."""
        out: dict[tuple[str, str], float] = {}
        if self.reservations is None:
            return out
        for _, r in self.reservations.iterrows():
            if period in self.in_force(r):
                key = (r["site_id"], r["product"])
                out[key] = out.get(key, 0.0) + float(r["max_t"])
        return out

    def with_settings(self, **changes: object) -> Inputs:
        """A copy with some settings changed (used by tests and the command line)."""
        return replace(self, settings={**self.settings, **changes})


@dataclass(frozen=True)
class SolveOptions:
    """How to solve, from ``Settings`` or the command line (the command line wins)."""

    solver: str = "auto"
    time_limit_s: float = 300.0
    mip_gap: float = 1e-4
    threads: int = 1
    seed: int = 0
    verbose: bool = False
    extra: dict[str, object] = field(default_factory=dict)
    # a MIP's row duals from the LP with its integers fixed (the values the explanations report); solves
    # that only evaluate a cost (a plan against regimes' VSS and EVPI) leave them out
    duals: bool = True
    # how a large MIP's LP relaxation is solved (``_solve_mip_guided``): "auto" is the interior point above
    # IPM_ABOVE columns (crossover off: only its support is used), "simplex" a vertex. The plan against
    # regimes asks for the simplex (planner.optimise.decompose.solve_regimes says why)
    relaxation: str = "auto"


def lane_group(value: str) -> tuple[str, str]:
    """What a Lanes ``from_site``/``to_site`` value names: ``(kind, value)``, kind one of site, company,
    country, stage, ``*``; spelled canonically (stage lower case, country upper case), so that two
    spellings of one group are one group (validation's repeat check and the network's expansion agree)."""
    if value == "*":
        return "*", ""
    prefix, sep, rest = value.partition(":")
    if sep and prefix.strip().lower() in ("stage", "country", "company"):
        kind = prefix.strip().lower()
        rest = rest.strip()
        return kind, rest.lower() if kind == "stage" else rest.upper() if kind == "country" else rest
    return "site", value
