"""What-ifs that change only numbers of the built model: applied to the baseline's arrays, not rebuilt.

A batch scenario normally goes the full path: every table re-validated, the network and the model
rebuilt, the model compared with the one HiGHS holds. Most what-ifs change a capacity, a price or a
demand, and those enter the model only as costs, bounds or coefficients of columns and rows that exist
whatever their value. ``DeltaBase.apply`` changes just those entries of a copy of the baseline's arrays,
checks just the changed cells (a value the full path would refuse sends the scenario down the full path,
which then reports it with its cell), and hands ``WarmHighs`` a model that shares the baseline's
structure, so that only the changed entries are pushed to HiGHS.

What goes the delta path (``DELTA_COLUMNS``, ``DELTA_SETTINGS``; set, add or multiply on existing rows):
Supply capacity and unit cost, Demand quantity and shortage cost, Lanes freight, duty and tariff, and the
settings that are pure costs (risk weight, default shortage cost). Everything else falls back: a new or
deleted row, any other column or setting, a period, an input over periods or with licence regimes, a
capacity or quantity that crosses zero (the network prunes on it), and a lane-use tightening of a
qualification site that appears or disappears. ``Fallback`` carries the reason.

The plan reported must be the full path's, to the last digit: the baseline here is what the full path
makes of the unchanged input (its row numbers and warnings included), every recomputed entry uses the
model builder's own expression, and tests/test_warm_delta.py compares the two paths scenario by scenario.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from planner.api import Timings, _raise_unless_planned, _time_limit_warning, check_size, diagnose, run_info
from planner.errors import Issue
from planner.input import schema
from planner.input.data import Inputs, SolveOptions
from planner.input.overrides import _apply, _cell, _matches, _settings_frame, apply_scenario
from planner.input.validate import coerce, numeric_warnings
from planner.optimise.model import LinearModel, _lane_use_rows, _Rows, _Ships, build_model
from planner.optimise.network import build_network
from planner.results.report import Plan, build_plan
from planner.whatif.scenarios import Change, Scenario

DELTA_COLUMNS = {
    "Supply": ("capacity_t", "unit_cost_usd_per_kg"),
    "Demand": ("quantity_t", "shortage_cost_usd_per_kg"),
    "Lanes": ("freight_usd_per_kg", "duty_usd_per_kg", "tariff_pct"),
}
DELTA_SETTINGS = ("risk_weight", "shortage_cost_usd_per_kg")
_ATTR = {"Supply": "supply", "Demand": "demand", "Lanes": "lanes"}


class Fallback(Exception):  # noqa: N818 - not an error: the scenario takes the full path
    """The scenario changes the model's structure (or cannot be checked cell by cell): take the full path."""


def eligible(inputs: Inputs) -> bool:
    """Inputs whose scenarios may take the delta path: one-year plans without licence regimes."""
    return inputs.periods is None and inputs.regimes is None and inputs.stock is None \
        and inputs.contracts is None and inputs.reservations is None


@dataclass
class DeltaModel:
    inputs: Inputs
    model: LinearModel
    size_text: str
    base_model: LinearModel | None = None  # the baseline's, which ``model`` is made from
    changed: frozenset[tuple[str, str]] = frozenset()  # the (sheet, column) pairs the scenario changes


def _rows_of(model: LinearModel, kinds: tuple[str, ...]) -> dict[tuple, int]:
    mask = model.rows["kind"].isin(kinds).to_numpy()
    idx = np.flatnonzero(mask)
    return dict(zip(model.rows["key"].to_numpy()[idx].tolist(), idx.tolist(), strict=True))


class DeltaBase:
    """The baseline as the full path builds it, and the indexes that tie input cells to model entries."""

    def __init__(self, inputs: Inputs) -> None:
        # what the full path plans for a scenario: the input after a round trip through validation
        self.inputs = base = apply_scenario(inputs, Scenario("", ()))
        self.net = net = build_network(base)
        self.size_text = check_size(base, net).text()
        self.model = m = build_model(base, net)
        self.numeric = set(numeric_warnings(self._tables(base)))
        kind = m.cols["kind"].to_numpy()
        # make columns: their (site, product) in the builder's order (sorted active keys)
        keys = sorted(net.active)
        pos = {k: i for i, k in enumerate(keys)}
        self.make_cols = np.flatnonzero(kind == "make")
        self.make_key = np.array([pos[(k[1], k[2])] for k in m.cols["key"].to_numpy()[self.make_cols].tolist()],
                                 dtype=np.int64)
        self.make_keys = keys
        si = m.ship_info
        self.ship_cols = si["col"].to_numpy(dtype=np.int64) if si is not None else np.zeros(0, np.int64)
        self.ship_lane = si["lane"].to_numpy(dtype=np.int64) if si is not None else np.zeros(0, np.int64)
        self.ship_loss = si["loss"].to_numpy(dtype=float) if si is not None else np.zeros(0)
        self.short_cols = np.flatnonzero(kind == "short")  # one per net.demand row, in its order
        self.rows = _rows_of(m, ("capacity", "demand", "exposure", "supplier_share"))
        self.supplier_rows: dict[tuple[str, str], list[int]] = {}
        for key, r in self.rows.items():
            if key[0] == "supplier_share":
                self.supplier_rows.setdefault((key[1], key[2]), []).append(r)
        # coefficient entries on use columns (capacity x use, bound x use): their position in a_val
        self.use_col = {k[1]: i for i, k in enumerate(m.cols["key"].tolist()[:int((kind == "use").sum())])}
        on_use = np.flatnonzero(m.integer[m.a_col])
        self.use_entry = dict(zip(zip(m.a_row[on_use].tolist(), m.a_col[on_use].tolist(), strict=True),
                                  on_use.tolist(), strict=True))
        lane_use = _rows_of(m, ("lane_use",))
        self.lane_use_keys = list(lane_use)
        self.lane_use_rows = np.array(list(lane_use.values()), dtype=np.int64)

    @staticmethod
    def _tables(inputs: Inputs) -> dict[str, pd.DataFrame]:
        return {"Supply": inputs.supply, "Demand": inputs.demand, "Lanes": inputs.lanes, "Sites": inputs.sites,
                "Controls": inputs.controls, "Recipes": inputs.recipes, "CoProducts": inputs.coproducts}

    # ------------------------------------------------------------------ the changed input

    def _changed_inputs(self, scenario: Scenario) -> tuple[Inputs, dict[str, set[int]], set[str]]:
        """The scenario applied to the baseline's frames, each changed cell checked as validation would.

        Returns the inputs, the positions of changed rows per sheet, and the changed settings."""
        base = self.inputs
        frames: dict[str, pd.DataFrame] = {}
        touched: dict[str, set[int]] = {}
        settings = dict(base.settings)
        changed_settings: set[str] = set()
        for ch in scenario.changes:
            if ch.period:
                raise Fallback("a change of one period")
            if ch.operation not in ("set", "add", "multiply"):
                raise Fallback(f"{ch.operation}: rows change")
            if ch.sheet == "Settings":
                self._setting(settings, ch)
                changed_settings.add(ch.key)
                continue
            if ch.column not in DELTA_COLUMNS.get(ch.sheet, ()):
                raise Fallback(f"{ch.sheet}.{ch.column} may change the network")
            if ch.sheet not in frames:
                frames[ch.sheet] = getattr(base, _ATTR[ch.sheet]).copy()
            frame = frames[ch.sheet]
            mask = _matches(frame, ch.sheet, ch.key)
            if not mask.any():
                raise Fallback("no row matches (the full path creates one or reports it)")
            tables = {ch.sheet: frame}
            _apply(tables, ch)  # the full path's own arithmetic, on the matching rows
            if len(tables[ch.sheet]) != len(frame):
                raise Fallback("a row was added")
            frames[ch.sheet] = frame = tables[ch.sheet]
            col = schema.SHEET_BY_NAME[ch.sheet].column(ch.column)
            rows = np.flatnonzero(mask.to_numpy())
            values = []
            for v in frame[ch.column].to_numpy()[rows].tolist():
                typed, problem = coerce(_cell(v), col)  # as tables_to_inputs checks the cell
                if problem:
                    raise Fallback(f"{ch.sheet}.{ch.column}: {problem} (the full path reports it with its cell)")
                values.append(typed)
            out = frame[ch.column].to_numpy(dtype=object, copy=True)
            out[rows] = values
            # the column as validation makes it (blanks None; all blank: object, else float)
            frame[ch.column] = pd.Series([None if v is None or v != v else v for v in out.tolist()],
                                         index=frame.index)
            touched.setdefault(ch.sheet, set()).update(rows.tolist())
        changed = replace(base, settings=settings, **{_ATTR[s]: f for s, f in frames.items()})
        if frames:
            # the span warnings are the only ones a number changes; the others are the baseline's
            new = numeric_warnings(self._tables(changed))
            kept = [w for w in base.warnings if w not in self.numeric]
            changed = replace(changed, warnings=tuple(sorted([*kept, *(
                Issue(w.sheet, message=w.message, severity="warning") for w in new)])))
        return changed, touched, changed_settings

    def _setting(self, settings: dict[str, object], ch: Change) -> None:
        if ch.key not in DELTA_SETTINGS:
            raise Fallback(f"setting {ch.key} may change the network")
        frame = _settings_frame(settings)
        frame["_row"] = 0
        tables = {"Settings": frame}
        _apply(tables, ch)
        raw = tables["Settings"].loc[tables["Settings"]["key"] == ch.key, "value"].iloc[0]
        value, problem = coerce(_cell(raw), schema.SETTING_BY_KEY[ch.key].as_column())
        if problem:
            raise Fallback(f"setting {ch.key}: {problem}")
        settings[ch.key] = value

    # ------------------------------------------------------------------ the changed model

    def apply(self, scenario: Scenario) -> DeltaModel:
        """The scenario's model, built from the baseline's arrays.

        Raises
        ------
        Fallback
            The scenario needs the full path; the message says why.
        """
        try:
            changed, touched, settings = self._changed_inputs(scenario)
        except Fallback:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever it is, the full path reports it properly
            raise Fallback(f"not applied cell by cell: {exc}") from None
        base, m, net = self.inputs, self.model, self.net
        c, col_hi = m.c, m.col_hi
        row_lo, row_hi, a_val = m.row_lo, m.row_hi, m.a_val
        net2 = copy.copy(net)
        st = changed.settings

        sup_rows = touched.get("Supply", set())
        sup = net.supply
        if sup_rows:
            old, new = base.supply.iloc[sorted(sup_rows)], changed.supply.iloc[sorted(sup_rows)]
            if ((old["capacity_t"].to_numpy() > 0) != (new["capacity_t"].to_numpy() > 0)).any():
                raise Fallback("a capacity crosses zero (the network keeps only capacities above it)")
            keys = list(zip(new["site_id"], new["product"], strict=True))
            active = [i for i, k in enumerate(keys) if k in net.active]
            if active:
                # as build_network selects it
                every = changed.supply[changed.supply["capacity_t"] > 0].set_index(["site_id", "product"])
                sup = every.loc[sorted(net.active)] if net.active else every.iloc[0:0]
                net2.supply = sup
                c = c.copy()
                unit = sup["unit_cost_usd_per_kg"].to_numpy(dtype=float)[sup.index.get_indexer(self.make_keys)]
                c[self.make_cols] = (1000.0 * unit)[self.make_key] + m.tiebreak[self.make_cols]
                cap = sup["capacity_t"].to_numpy(dtype=float)
                row_hi = row_hi.copy()
                a_val = a_val.copy()
                for (s, q), v in zip(sup.index.tolist(), cap.tolist(), strict=True):
                    r = self.rows.get(("capacity", s, q))
                    if r is None:
                        continue
                    if s in self.use_col:
                        a_val[self.use_entry[(r, self.use_col[s])]] = -v
                    else:
                        row_hi[r] = v

        dem_rows = touched.get("Demand", set())
        dem = net.demand
        if dem_rows or "shortage_cost_usd_per_kg" in settings:
            new = changed.demand.iloc[sorted(dem_rows)]
            old = base.demand.iloc[sorted(dem_rows)]
            if ((old["quantity_t"].to_numpy() > 0) != (new["quantity_t"].to_numpy() > 0)).any():
                raise Fallback("a demand crosses zero (the network keeps only demands above it)")
            dem = changed.demand[changed.demand["quantity_t"] > 0].reset_index(drop=True)  # as build_network
            net2.demand = dem
            if len(self.short_cols):
                default_short = float(st["shortage_cost_usd_per_kg"])  # type: ignore[arg-type]
                c = c.copy() if c is m.c else c
                col_hi = col_hi.copy()
                c[self.short_cols] = [1000.0 * (default_short if v is None or pd.isna(v) else float(v))
                                      for v in dem["shortage_cost_usd_per_kg"]]
                col_hi[self.short_cols] = dem["quantity_t"].to_numpy(dtype=float)
            row_lo = row_lo.copy()
            row_hi = row_hi.copy() if row_hi is m.row_hi else row_hi
            default_cap = float(st["max_exposed_share"])  # type: ignore[arg-type]
            share = float(st["max_supplier_share"])  # type: ignore[arg-type]
            for r in dem.itertuples(index=False):
                key = (r.site_id, r.product)
                qty = float(r.quantity_t)
                row_lo[self.rows[("demand", *key)]] = qty
                row_hi[self.rows[("demand", *key)]] = qty
                e = self.rows.get(("exposure", *key))
                if e is not None:
                    cap = default_cap if r.max_exposed_share is None or pd.isna(r.max_exposed_share) else \
                        float(r.max_exposed_share)
                    row_hi[e] = cap * qty
                for s in self.supplier_rows.get(key, ()):
                    row_hi[s] = share * qty

        lane_rows = touched.get("Lanes", set())
        if lane_rows or sup is not net.supply or "risk_weight" in settings:
            lanes = net.lanes.copy()
            if lane_rows:
                new = changed.lanes.iloc[sorted(lane_rows)].set_index("_row")
                hit = lanes["lane_row"].isin(new.index).to_numpy()
                for col in ("freight_usd_per_kg", "duty_usd_per_kg", "tariff_pct"):
                    lanes.loc[hit, col] = new[col].reindex(lanes.loc[hit, "lane_row"]).to_numpy()
            unit_cost = sup["unit_cost_usd_per_kg"].to_dict()
            lanes["sender_unit_cost"] = [unit_cost[k] for k in zip(lanes["from_site"].tolist(),
                                                                     lanes["product"].tolist(), strict=True)]
            lanes["cost_per_t"] = 1000.0 * (lanes["freight_usd_per_kg"] + lanes["duty_usd_per_kg"]) + 10.0 * lanes[
                "tariff_pct"] * lanes["sender_unit_cost"]
            net2.lanes = lanes
            per_t = lanes["cost_per_t"].to_numpy(dtype=float)[self.ship_lane]
            c = c.copy() if c is m.c else c
            c[self.ship_cols] = per_t + float(st["risk_weight"]) * self.ship_loss + m.tiebreak[self.ship_cols]  # type: ignore[arg-type]

        if self.use_col and (sup is not net.supply or dem is not net.demand):
            a_val = self._lane_use(net2, a_val)
        model = replace(m, c=c, col_hi=col_hi, row_lo=row_lo, row_hi=row_hi, a_val=a_val, net=net2, inputs=changed)
        return DeltaModel(changed, model, self.size_text, m, frozenset((c.sheet, c.column) for c in scenario.changes))

    def _lane_use(self, net2, a_val: np.ndarray) -> np.ndarray:  # noqa: ANN001
        """Lane-use bounds (shipped <= bound x use) again: which lanes get one depends on capacities and demand."""
        m = self.model
        a = _Rows()
        ship = _Ships(int(self.ship_cols[0]) if len(self.ship_cols) else 0, self.ship_lane, *(np.zeros(0),) * 4)
        _lane_use_rows(a, net2, ship, self.use_col)
        keys = a.parts[0][0] if a.parts else []
        if keys != self.lane_use_keys:
            raise Fallback("a lane-use bound of a qualification site appears or disappears")
        if not keys:
            return a_val
        rows, cols, vals = a.entries[-1]
        if (vals == 0).any():
            raise Fallback("a lane-use bound becomes zero")
        a_val = a_val.copy() if a_val is m.a_val else a_val
        a_val[[self.use_entry[(int(self.lane_use_rows[r]), int(col))] for r, col in
               zip(rows.tolist(), cols.tolist(), strict=True)]] = vals
        return a_val


def plan_delta(delta: DeltaModel, options: SolveOptions, solver) -> Plan:  # noqa: ANN001
    """``api.plan`` of a delta model (one year, ``detail=False``): solve, report, run info and warnings."""
    inputs, model = delta.inputs, delta.model
    t1 = time.perf_counter()
    result = solver.solve(model)
    t2 = time.perf_counter()
    _raise_unless_planned(result, options, lambda: diagnose(inputs, options), f" (model: {delta.size_text})")
    # a what-if that moves nothing (planner.whatif.batch.WarmClosest) has the baseline's tables, but for what
    # it changed
    reused = getattr(solver, "reused_tables", None)
    out = reused(delta, result) if reused is not None else None
    if out is None:
        out = build_plan(model, result, detail=False)
    t3 = time.perf_counter()
    out.run_info = run_info(inputs, options, model, result, Timings(0.0, t2 - t1, t3 - t2))
    out.run_info["size_estimate"] = delta.size_text
    out.warnings = [str(w) for w in inputs.warnings] + model.net.warnings + out.warnings
    out.warnings += _time_limit_warning(result)
    return out
