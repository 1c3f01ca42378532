"""An independent formulation of the input contract, for tests on small instances (issue 10).

It shares no code with ``planner.optimise`` or ``planner.results``: it reads the
validated ``Inputs`` tables only as data and builds its own model.

The idea is brute force, so that the contract's path-dependent rules hold by
construction instead of by clever bookkeeping: every batch a site could make
is enumerated by its full upstream history, the tree of (site, product) nodes
and the lanes between them that lie behind it. A history fixes everything the
contract asks about a tonne: its lead time (processing + transit + approval
days, an assembly waiting for its slowest input), whether any license event
lies anywhere upstream (exposure, de minimis), and which content-rule material
it actually contains (so a content-rule event takes exactly the rows of the
material in it). Blends need no special treatment: a blended batch is a mix
of pure-history batches, and keeping batches apart is allowed by the contract,
so optimising over pure histories is exact.

Variables: tonnes made per history (``make``), tonnes delivered per (history,
plant) arriving within the plant's limit (``deliver``), shortage per demand
row, and one binary per site that is a candidate or has a minimum volume
(``use``). A recipe history consumes its inputs' histories in fixed ratios, so
its shipments are ``factor x make`` and carry their costs with it; a site uses
all it receives (nothing is shipped that a recipe does not consume), and makes
at least what it ships (surplus is free disposal, paid for). Nothing is pruned:
a history that can never reach a plant in time still exists, counts for
minimum volumes, capacities and shipped country shares (contract
clarifications, December 2026).

Licence rules by route (contract v2): the governing Controls row of a
shipment is found here by brute force over the rows (exporter company, then
destination, then end use, then named product, then the later row); a
governing row with approval probability 0 is a ban, so no arrival exists on
that route. End use is part of a history: with rows naming an end use and
plants of both end uses, every batch is made for one end use (a raw batch
for either, a recipe batch only from inputs made for its own), and a plant
receives only batches made for its end use; otherwise every batch has the
plants' one end use.

Where the contract is silent it follows README.md ("Assumptions and
interpretations"): lead time is measured to arrival at the plant; a shipment
needing two countries' licenses adds both approval times and both losses;
material carries a country's content when made in that country with a product
under that country's content rule; a site ships to itself only on a Lanes row
naming it as both sender and receiver.

The model is solved with HiGHS (highspy) directly, to a tight MIP gap.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from planner.input.data import Inputs

K = 1000.0  # USD per tonne for each USD per kg
MAX_VARS = 20_000


class TooBig(ValueError):
    """The instance has more histories than the oracle is willing to enumerate."""


def _records(frame) -> list[SimpleNamespace]:  # noqa: ANN001 - itertuples would rename ``_row``
    return [SimpleNamespace(**r) for r in frame.to_dict("records")]


def _blank(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


# --------------------------------------------------------------------------- the data, re-read


@dataclass(frozen=True)
class Event:
    """One license a shipment needs."""

    country: str
    kind: str  # "listed" or "content"
    probability: float
    days: int
    denial: float
    rows: tuple[int, ...]  # Controls rows (Excel row numbers) the parameters come from


@dataclass(frozen=True)
class Lane:
    row: int
    freight: float
    duty: float
    tariff_pct: float
    transit: int


@dataclass(eq=False)
class Batch:
    """Output of one product at one site with one full upstream history."""

    site: str
    product: str
    lead: int  # days from order until ready to ship from this site
    exposed: bool
    content: frozenset  # (country, Controls row) of content-rule material in it
    end_use: str = "civil"  # the end use of the plant it is made for
    inputs: tuple = ()  # ((Arrival, t input per t), ...) for a recipe batch
    main: tuple | None = None  # (main Batch, t coproduct per t main) for a joint batch
    col: int = -1

    def tree(self, indent: str = "") -> str:
        tag = f"{self.site}/{self.product} lead {self.lead}{' EXPOSED' if self.exposed else ''}"
        if self.content:
            tag += " content " + ",".join(f"{c}@{r}" for c, r in sorted(self.content))
        lines = [indent + tag]
        if self.main is not None:
            lines.append(f"{indent}  joint with {self.main[1]:g} t/t of")
            lines.append(self.main[0].tree(indent + "    "))
        for arr, f in self.inputs:
            lines.append(f"{indent}  {f:g} t/t {arr.describe()}")
            lines.append(arr.batch.tree(indent + "    "))
        return "\n".join(lines)


@dataclass(eq=False)
class Arrival:
    """A batch shipped on one lane: what arrives, when, with which licenses, at what cost per tonne."""

    batch: Batch
    to_site: str
    lane: Lane
    events: tuple[Event, ...]
    lead: int
    exposed: bool
    freight_t: float
    duty_t: float
    tariff_t: float
    loss_t: float  # expected license loss per tonne (before risk_weight)

    def describe(self) -> str:
        ev = "; ".join(f"{e.kind} {e.country} p={e.probability:g} {e.days}d denial={e.denial:g}" for e in self.events)
        return (f"{self.batch.site}->{self.to_site} {self.batch.product} (Lanes row {self.lane.row}, "
                f"arrives day {self.lead}{', ' + ev if ev else ''})")


class Contract:
    """The validated tables, re-read as plain dicts with the contract's rules as methods."""

    def __init__(self, inputs: Inputs) -> None:
        st = inputs.settings
        self.settings = st
        s = inputs.sites
        self.sites = list(s["site_id"])
        self.country = dict(zip(s["site_id"], s["country"], strict=True))
        self.company = dict(zip(s["site_id"], s["company"], strict=True))
        self.stage = dict(zip(s["site_id"], s["stage"], strict=True))
        self.proc = {k: int(v) for k, v in zip(s["site_id"], s["processing_days"], strict=True)}
        self.candidate = {k: v == "candidate" for k, v in zip(s["site_id"], s["status"], strict=True)}
        self.qual = {k: float(v) for k, v in zip(s["site_id"], s["qualification_cost_usd"], strict=True)}
        self.min_volume = {k: float(v) for k, v in zip(s["site_id"], s["min_volume_t"], strict=True)}
        self.supply: dict[tuple[str, str], tuple[float, float]] = {}
        for r in _records(inputs.supply):
            if float(r.capacity_t) > 0:
                self.supply[(r.site_id, r.product)] = (float(r.capacity_t), float(r.unit_cost_usd_per_kg))
        self.makers: dict[str, list[str]] = {}
        for site, prod in sorted(self.supply):
            self.makers.setdefault(prod, []).append(site)
        self._recipes(inputs)
        self.lanes = [
            (int(r._row), str(r.from_site), str(r.to_site), "" if _blank(r.product) else str(r.product).strip(),
             Lane(int(r._row), float(r.freight_usd_per_kg), float(r.duty_usd_per_kg), float(r.tariff_pct),
                  int(r.transit_days)))
            for r in _records(inputs.lanes)
        ]
        self.default_denial = float(st["denial_cost_usd_per_kg"])
        self.controls: list[dict] = []
        for r in _records(inputs.controls):
            dest = "" if _blank(getattr(r, "destination", "")) else str(r.destination).strip()
            if dest.lower().startswith("country:"):
                dest = dest.split(":", 1)[1].strip()
            self.controls.append({
                "country": r.country, "product": r.product,
                "destination": "" if dest == "*" else dest.upper(),
                "exporter": "" if _blank(getattr(r, "exporter_company", "")) else str(r.exporter_company),
                "end_use": "" if _blank(getattr(r, "end_use", "")) else str(r.end_use),
                "row": int(r._row), "p": float(r.approval_probability), "days": int(r.approval_days),
                "denial": self.default_denial if _blank(r.denial_cost_usd_per_kg) else float(r.denial_cost_usd_per_kg),
                "content": bool(r.content_rule),
            })
        self.rows_by_number = {c["row"]: c for c in self.controls}
        # end uses: of plants with demand; labels on batches only where some row names an end use and both occur
        uses = sorted({str(getattr(r, "end_use", "civil") or "civil") for r in _records(inputs.demand)
                       if float(r.quantity_t) > 0})
        self.end_uses = uses if len(uses) == 2 and any(c["end_use"] for c in self.controls) else \
            [uses[0] if len(uses) == 1 else "civil"]
        self.plant_use = {(r.site_id, r.product): str(getattr(r, "end_use", "civil") or "civil")
                          for r in _records(inputs.demand)}
        self._lane_cache: dict[tuple[str, str, str], Lane | None] = {}

    def _recipes(self, inputs: Inputs) -> None:
        """Per (site, product) made: its recipe inputs, or the main products it comes jointly with."""
        generic: dict[str, list[tuple[str, float]]] = {}
        specific: dict[tuple[str, str], list[tuple[str, float]]] = {}
        for r in _records(inputs.recipes):
            item = (str(r.input), float(r.input_t_per_t))
            if _blank(r.site_id):
                generic.setdefault(r.product, []).append(item)
            else:
                specific.setdefault((r.site_id, r.product), []).append(item)
        self.recipe: dict[tuple[str, str], list[tuple[str, float]]] = {}
        self.joint: dict[tuple[str, str], list[tuple[str, float]]] = {}
        for site, prod in self.supply:
            mains: dict[str, float] = {}
            for r in _records(inputs.coproducts):  # generic rows first, a site's own rows override
                if r.coproduct == prod and _blank(r.site_id) and (site, r.product) in self.supply:
                    mains[r.product] = float(r.coproduct_t_per_t)
            for r in _records(inputs.coproducts):
                if r.coproduct == prod and not _blank(r.site_id) and r.site_id == site \
                        and (site, r.product) in self.supply:
                    mains[r.product] = float(r.coproduct_t_per_t)
            mains.pop(prod, None)
            if mains:
                self.joint[(site, prod)] = sorted(mains.items())
            else:
                self.recipe[(site, prod)] = specific.get((site, prod), generic.get(prod, []))

    # ---- lanes

    def _match(self, pattern: str, site: str) -> int | None:
        """How specifically a Lanes from/to value names ``site`` (4 = the site itself), or None."""
        if pattern == "*":
            return 0
        kind, sep, value = pattern.partition(":")
        kind = kind.strip().lower()
        if sep and kind in ("stage", "country", "company"):
            value = value.strip()
            if kind == "stage":
                return 1 if self.stage[site] == value.lower() else None
            if kind == "country":
                return 2 if self.country[site] == value.upper() else None
            return 3 if self.company[site] == value else None
        return 4 if pattern == site else None

    def lane(self, frm: str, to: str, product: str) -> Lane | None:
        """The governing Lanes row: named product, then sender, then receiver specificity, then the later row."""
        key = (frm, to, product)
        if key in self._lane_cache:
            return self._lane_cache[key]
        best, best_rank = None, None
        for row, f, t, p, lane in self.lanes:
            if p and p != product:
                continue
            rf, rt = self._match(f, frm), self._match(t, to)
            if rf is None or rt is None:
                continue
            if frm == to and (rf, rt) != (4, 4):  # group rows never pair a site with itself
                continue
            rank = (1 if p else 0, rf, rt, row)
            if best_rank is None or rank > best_rank:
                best, best_rank = lane, rank
        self._lane_cache[key] = best
        return best

    # ---- controls

    def control(self, country: str, product: str, destination: str | None = None, exporter: str = "",
                end_use: str = "") -> dict | None:
        """The governing row. ``destination`` None: among rows for every route only (blank destination, exporter
        company and end use), as content-rule membership is decided."""
        best, best_rank = None, None
        for c in self.controls:
            if c["country"] != country or c["product"] not in (product, "*"):
                continue
            if destination is None:
                if c["destination"] or c["exporter"] or c["end_use"]:
                    continue
            elif c["destination"] not in ("", destination) or c["exporter"] not in ("", exporter) \
                    or c["end_use"] not in ("", end_use):
                continue
            rank = (c["exporter"] != "", c["destination"] != "", c["end_use"] != "", c["product"] != "*", c["row"])
            if best_rank is None or rank > best_rank:
                best, best_rank = c, rank
        return best

    def origin(self, site: str, product: str) -> frozenset:
        """Content-rule material a batch gets where it is made (its own country's content rule on its product)."""
        row = self.control(self.country[site], product)
        return frozenset({(self.country[site], row["row"])}) if row and row["content"] else frozenset()

    def events(self, frm: str, to: str, product: str, content: frozenset, end_use: str) -> tuple[Event, ...]:
        if self.country[frm] == self.country[to]:
            return ()
        out = []
        own = self.control(self.country[frm], product, self.country[to], self.company[frm], end_use)
        if own is not None:
            out.append(Event(self.country[frm], "listed", own["p"], own["days"], own["denial"], (own["row"],)))
        by_country: dict[str, list[int]] = {}
        for c, row in content:
            if c != self.country[frm]:
                by_country.setdefault(c, []).append(row)
        for c, rows in sorted(by_country.items()):
            rr = [self.rows_by_number[r] for r in sorted(set(rows))]
            out.append(Event(c, "content", min(r["p"] for r in rr), max(r["days"] for r in rr),
                             max(r["denial"] for r in rr), tuple(sorted(set(rows)))))
        return tuple(out)


# --------------------------------------------------------------------------- histories


class _Histories:
    def __init__(self, c: Contract, max_vars: int) -> None:
        self.c = c
        self.max_vars = max_vars
        self.count = 0
        self.memo: dict[tuple[str, str], list[Batch]] = {}
        self.busy: set[tuple[str, str]] = set()

    def _grow(self, n: int) -> None:
        self.count += n
        if self.count > self.max_vars:
            raise TooBig(f"more than {self.max_vars} histories")

    def arrivals(self, product: str, to: str) -> list[Arrival]:
        c = self.c
        out = []
        for frm in c.makers.get(product, []):
            lane = c.lane(frm, to, product)
            if lane is None:
                continue
            unit = c.supply[(frm, product)][1]
            for b in self.batches(frm, product):
                ev = c.events(frm, to, product, b.content, b.end_use)
                if any(e.probability <= 0 for e in ev):  # a ban: nothing crosses
                    continue
                out.append(Arrival(
                    batch=b, to_site=to, lane=lane, events=ev,
                    lead=b.lead + lane.transit + sum(e.days for e in ev), exposed=b.exposed or bool(ev),
                    freight_t=K * lane.freight, duty_t=K * lane.duty, tariff_t=K * lane.tariff_pct / 100.0 * unit,
                    loss_t=K * sum((1.0 - e.probability) * e.denial for e in ev)))
        return out

    def batches(self, site: str, product: str) -> list[Batch]:
        key = (site, product)
        if key in self.memo:
            return self.memo[key]
        if key in self.busy:  # a cycle through this site: no history can close it
            return []
        self.busy.add(key)
        c = self.c
        own = c.origin(site, product)
        out: list[Batch] = []
        if key in c.joint:
            for main, ratio in c.joint[key]:
                for m in self.batches(site, main):
                    out.append(Batch(site, product, m.lead, m.exposed, m.content | own, m.end_use, main=(m, ratio)))
        else:
            for use in c.end_uses:
                options = [[(a, f) for a in self.arrivals(inp, site) if a.batch.end_use == use]
                           for inp, f in c.recipe[key]]
                self._grow(math.prod(len(o) for o in options))
                for combo in itertools.product(*options):
                    lead = max((a.lead for a, _ in combo), default=0) + c.proc[site]
                    exposed = any(a.exposed for a, _ in combo)
                    content = own.union(*(a.batch.content for a, _ in combo))
                    out.append(Batch(site, product, lead, exposed, content, use, inputs=tuple(combo)))
        self.busy.discard(key)
        self.memo[key] = out
        return out


# --------------------------------------------------------------------------- the model


@dataclass
class OracleResult:
    status: str  # "optimal" or "infeasible"
    total_cost_usd: float | None
    parts: dict[str, float] = field(default_factory=dict)  # cost parts, as in the planner's cost_breakdown
    expected_license_loss_usd: float = 0.0
    n_vars: int = 0
    made: dict[tuple[str, str], float] = field(default_factory=dict)
    delivered: dict[tuple[str, str], float] = field(default_factory=dict)
    exposed: dict[tuple[str, str], float] = field(default_factory=dict)
    used_sites: list[str] = field(default_factory=list)
    batches: list[tuple[float, Batch]] = field(default_factory=list)  # (tonnes, batch) of every batch made
    deliveries: list[tuple[float, Arrival]] = field(default_factory=list)

    def explain(self) -> str:
        """The chosen plan, every batch with its history: for debugging a disagreement."""
        lines = [f"oracle: {self.status}, total {self.total_cost_usd}", f"parts {self.parts}"]
        for v, a in self.deliveries:
            lines.append(f"deliver {v:.6g} t: {a.describe()}{' EXPOSED' if a.exposed else ''}")
            lines.append(a.batch.tree("    "))
        for v, b in self.batches:
            lines.append(f"make {v:.6g} t {b.site}/{b.product} lead {b.lead}{' EXPOSED' if b.exposed else ''}")
        return "\n".join(lines)


class _Model:
    def __init__(self) -> None:
        self.cost: list[float] = []
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.integer: list[int] = []
        self.rows: list[tuple[float, float, dict[int, float]]] = []

    def col(self, cost: float, lb: float = 0.0, ub: float = math.inf, integer: bool = False) -> int:
        self.cost.append(cost)
        self.lb.append(lb)
        self.ub.append(ub)
        self.integer.append(1 if integer else 0)
        return len(self.cost) - 1

    def row(self, lo: float, hi: float, terms: dict[int, float]) -> None:
        self.rows.append((lo, hi, terms))

    def solve(self, mip_gap: float) -> tuple[str, np.ndarray | None, float | None]:
        import highspy  # noqa: PLC0415

        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("mip_rel_gap", mip_gap)
        h.setOptionValue("mip_abs_gap", 1e-6)
        h.setOptionValue("random_seed", 0)
        h.setOptionValue("threads", 1)
        inf = highspy.kHighsInf
        n = len(self.cost)
        h.addVars(n, np.array(self.lb, dtype=float), np.array([inf if math.isinf(u) else u for u in self.ub]))
        h.changeColsCost(n, np.arange(n, dtype=np.int32), np.array(self.cost, dtype=float))
        if any(self.integer):
            idx = np.array([i for i, v in enumerate(self.integer) if v], dtype=np.int32)
            h.changeColsIntegrality(len(idx), idx, np.array([highspy.HighsVarType.kInteger] * len(idx)))
        if self.rows:
            lo = np.array([-inf if math.isinf(r[0]) else r[0] for r in self.rows], dtype=float)
            hi = np.array([inf if math.isinf(r[1]) else r[1] for r in self.rows], dtype=float)
            start, index, value = [0], [], []
            for _, _, terms in self.rows:
                for j, a in sorted(terms.items()):
                    if a != 0.0:
                        index.append(j)
                        value.append(a)
                start.append(len(index))
            h.addRows(len(self.rows), lo, hi, len(index), np.array(start[:-1], dtype=np.int32),
                      np.array(index, dtype=np.int32), np.array(value, dtype=float))
        h.run()
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            return "optimal", np.array(h.getSolution().col_value), h.getInfo().objective_function_value
        if status in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
            return "infeasible", None, None
        raise RuntimeError(f"oracle: HiGHS ended with {h.modelStatusToString(status)}")


def _add(terms: dict[int, float], col: int, a: float) -> None:
    terms[col] = terms.get(col, 0.0) + a


def solve_oracle(inputs: Inputs, max_vars: int = MAX_VARS, mip_gap: float = 1e-9) -> OracleResult:
    """The optimal plan of ``inputs`` under the contract, by enumerating histories. Raises TooBig."""
    c = Contract(inputs)
    st = c.settings
    risk = float(st["risk_weight"])
    hist = _Histories(c, max_vars)
    m = _Model()

    # every batch any site can make, whether or not it can ever reach a plant
    all_batches: list[Batch] = []
    for key in sorted(c.supply):
        all_batches.extend(hist.batches(*key))
    # shipments as (column, tonnes shipped per unit of the column, arrival)
    ship_terms: list[tuple[int, float, Arrival]] = []
    for b in all_batches:
        b.col = m.col(K * c.supply[(b.site, b.product)][1])
        for arr, f in b.inputs:
            ship_terms.append((b.col, f, arr))
            m.cost[b.col] += f * (arr.freight_t + arr.duty_t + arr.tariff_t + risk * arr.loss_t)

    deliveries: list[tuple[int, Arrival, int]] = []  # (column, arrival, demand row index)
    shorts: list[int] = []
    allow = bool(st["allow_shortage"])
    for d, r in enumerate(_records(inputs.demand)):
        qty = float(r.quantity_t)
        limit = None if _blank(r.max_lead_time_days) else int(r.max_lead_time_days)
        cols = []
        use = c.plant_use[(r.site_id, r.product)]
        for arr in hist.arrivals(r.product, r.site_id):
            if limit is not None and arr.lead > limit:
                continue
            if len(c.end_uses) > 1 and arr.batch.end_use != use:  # material made for another end use
                continue
            j = m.col(arr.freight_t + arr.duty_t + arr.tariff_t + risk * arr.loss_t)
            deliveries.append((j, arr, d))
            ship_terms.append((j, 1.0, arr))
            cols.append((j, arr))
        hist._grow(len(cols))
        sc = float(st["shortage_cost_usd_per_kg"]) if _blank(r.shortage_cost_usd_per_kg) \
            else float(r.shortage_cost_usd_per_kg)
        short = m.col(K * sc, 0.0, qty if allow else 0.0)
        shorts.append(short)
        terms = {j: 1.0 for j, _ in cols}
        terms[short] = 1.0
        m.row(qty, qty, terms)  # delivered + short = demand
        cap = float(st["max_exposed_share"]) if _blank(r.max_exposed_share) else float(r.max_exposed_share)
        exposed = {j: 1.0 for j, a in cols if a.exposed}
        if exposed:
            m.row(-math.inf, cap * qty, exposed)
        share = float(st["max_supplier_share"])
        if share < 1:
            by_company: dict[str, dict[int, float]] = {}
            for j, a in cols:
                by_company.setdefault(c.company[a.batch.site], {})[j] = 1.0
            for terms_c in by_company.values():
                m.row(-math.inf, share * qty, terms_c)

    # every batch makes at least what leaves it (surplus is paid for and discarded)
    out_of: dict[int, dict[int, float]] = {b.col: {b.col: -1.0} for b in all_batches}
    for j, f, arr in ship_terms:
        _add(out_of[arr.batch.col], j, f)
    for terms in out_of.values():
        m.row(-math.inf, 0.0, terms)
    # a coproduct comes only with its main product's run, at most at its ratio, with that run's history
    for b in all_batches:
        if b.main is not None:
            main, ratio = b.main
            m.row(-math.inf, 0.0, {b.col: 1.0, main.col: -ratio})
    # capacities
    per_key: dict[tuple[str, str], list[int]] = {}
    for b in all_batches:
        per_key.setdefault((b.site, b.product), []).append(b.col)
    for key, cols in per_key.items():
        m.row(-math.inf, c.supply[key][0], dict.fromkeys(cols, 1.0))
    # candidates and minimum volumes: one yes/no per site, on its total output (surplus included)
    use: dict[str, int] = {}
    for s in c.sites:
        if not (c.candidate[s] or c.min_volume[s] > 0):
            continue
        cols = [j for (site, _), js in per_key.items() if site == s for j in js]
        if not cols:
            continue
        total_cap = sum(cap for (site, _), (cap, _) in c.supply.items() if site == s)
        u = m.col(c.qual[s] if c.candidate[s] else 0.0, 0.0, 1.0, integer=True)
        use[s] = u
        terms = dict.fromkeys(cols, 1.0)
        m.row(-math.inf, 0.0, {**terms, u: -total_cap})
        if c.min_volume[s] > 0:
            m.row(0.0, math.inf, {**terms, u: -c.min_volume[s]})
    # country share per stage and product, of everything shipped (late or not)
    cshare = float(st["max_country_share"])
    if cshare < 1:
        groups: dict[tuple[str, str], dict[str, dict[int, float]]] = {}
        for j, f, arr in ship_terms:
            s = arr.batch.site
            g = groups.setdefault((c.stage[s], arr.batch.product), {}).setdefault(c.country[s], {})
            _add(g, j, f)
        for by_country in groups.values():
            total: dict[int, float] = {}
            for terms in by_country.values():
                for j, a in terms.items():
                    _add(total, j, a)
            for terms in by_country.values():
                row = {j: -cshare * a for j, a in total.items()}
                for j, a in terms.items():
                    _add(row, j, a)
                m.row(-math.inf, 0.0, row)

    n = len(m.cost)
    if n > max_vars:
        raise TooBig(f"{n} variables")
    status, x, obj = m.solve(mip_gap)
    res = OracleResult(status, None, n_vars=n)
    if x is None:
        return res
    x = np.where(np.abs(x) < 1e-9, 0.0, x)
    parts = dict.fromkeys(["production", "freight", "duty", "tariff", "qualification", "shortage",
                           "license_risk"], 0.0)
    for b in all_batches:
        v = float(x[b.col])
        parts["production"] += v * K * c.supply[(b.site, b.product)][1]
        if v > 1e-9:
            res.made[(b.site, b.product)] = res.made.get((b.site, b.product), 0.0) + v
            res.batches.append((v, b))
    loss = 0.0
    for j, f, arr in ship_terms:
        t = float(x[j]) * f
        parts["freight"] += t * arr.freight_t
        parts["duty"] += t * arr.duty_t
        parts["tariff"] += t * arr.tariff_t
        loss += t * arr.loss_t
    parts["license_risk"] = risk * loss
    for s, u in use.items():
        if x[u] > 0.5 and c.candidate[s]:
            parts["qualification"] += c.qual[s]
        if x[u] > 0.5:
            res.used_sites.append(s)
    for j, arr, d in deliveries:
        v = float(x[j])
        if v > 1e-9:
            r = inputs.demand.iloc[d]
            key = (r["site_id"], r["product"])
            res.delivered[key] = res.delivered.get(key, 0.0) + v
            if arr.exposed:
                res.exposed[key] = res.exposed.get(key, 0.0) + v
            res.deliveries.append((v, arr))
    for d, j in enumerate(shorts):
        r = inputs.demand.iloc[d]
        sc = float(st["shortage_cost_usd_per_kg"]) if _blank(r["shortage_cost_usd_per_kg"]) \
            else float(r["shortage_cost_usd_per_kg"])
        parts["shortage"] += float(x[j]) * K * sc
    res.parts = parts
    res.expected_license_loss_usd = loss
    res.total_cost_usd = sum(parts.values())
    # the recomputed parts must add up to what the solver minimised (a self-check of the oracle)
    assert abs(res.total_cost_usd - obj) <= 1e-6 * max(1.0, abs(obj)) + 1e-3, (res.total_cost_usd, obj)
    return res
