"""From validated tables to the flow network the model is built on (pure, no solver).

What this module decides, and why:

* **Recipes.** A site-specific recipe replaces the generic one at that site; a
  coproduct made jointly at a site needs no recipe input of its own.
* **Lanes.** Group rows (``*``, ``stage:``, ``country:``, ``company:``) are
  expanded with table joins; where several rows match one (from, to, product),
  the most specific governs (contract order: named product, then from, then
  to, then the later row).
* **Pruning.** Only (site, product) pairs that can both be made (every input
  can arrive) and be useful (their output can reach a demand) get variables.
* **Exposure classes.** Each flow carries a class bit set: bit 0 = license
  exposed, bit 1+i = contains material under content group i (one country's
  content-rule rows with equal parameters: a shipment's content-rule licence
  takes the strictest parameters of the groups it actually carries). A batch
  made from inputs of several classes has the union class (de minimis), so a
  batch is exposed as soon as any input is; a clean input may go into a dirtier
  batch ("downgrade") but never the reverse. This keeps exposure exact for
  blends instead of averaging it away.
* **Lead-time buckets.** Every flow is labelled with an upper bound on its
  elapsed days, chosen from the thresholds that matter downstream (a plant's
  limit minus the remaining route). Rounding a true elapsed time up to the next
  threshold loses nothing, also through assemblies (the max of rounded inputs
  rounds to the same bucket as the max of the true inputs), so limits are
  exact in whole days with few labels. Every departure (lane, class, bucket)
  that can still arrive in time, and is the latest of its lane and class to
  arrive in its arrival bucket, is listed in ``Network.ships``, with the class
  and bucket it arrives in: these are the model's ship columns. (An earlier
  departure arriving alike adds nothing: its batch could be made later at the
  same cost, its inputs waiting in the buffer. Where coproducts tie buckets
  together, every departure is kept.)

Classes and buckets are decided product by product in bill-of-materials order
(thresholds in reverse order), and within a product for all of its lanes at
once, on arrays (see "vectorised helpers"); per (site, product) the results are
kept as plain sorted lists.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from graphlib import TopologicalSorter

import numpy as np
import pandas as pd

from planner.input.data import Inputs, content_digest, lane_group, remember

INF = 10**9  # "no lead-time limit downstream"
EXPOSED = 1


def round_up(value: int, thresholds: list[int]) -> int | None:
    """Smallest threshold >= value (thresholds sorted), or None."""
    i = bisect.bisect_left(thresholds, value)
    return thresholds[i] if i < len(thresholds) else None


@dataclass(frozen=True)
class License:
    country: str
    approval_probability: float
    approval_days: int
    denial_cost_usd_per_kg: float
    kind: str  # "listed" or "content"


@dataclass
class Network:
    """Everything the model needs, as plain tables and dicts keyed by ids."""

    sites: pd.DataFrame  # index site_id
    supply: pd.DataFrame  # index (site_id, product): capacity_t, unit_cost_usd_per_kg
    recipe: dict[tuple[str, str], list[tuple[str, float]]]  # (site, product) -> [(input, t/t)]
    joint: dict[tuple[str, str], list[tuple[str, float]]]  # (site, coproduct) -> [(main, t/t)]
    lanes: pd.DataFrame  # every resolved, active lane: from_site, to_site, product, costs, transit
    demand: pd.DataFrame  # site_id, product, quantity_t, limits, shortage cost
    active: set[tuple[str, str]]
    order: list[str]  # products in bill-of-materials order
    content_countries: list[str]  # countries with a content rule, in name order (report columns)
    binary_sites: list[str]
    # classes and buckets; thr_in: the lead-time thresholds an input arriving at (site, product) is rounded to
    out_classes: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    out_buckets: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    buffer_classes: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    buffer_buckets: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    origin: dict[tuple[str, str], int] = field(default_factory=dict)
    lane_events: dict[tuple[int, int], list[License]] = field(default_factory=dict)
    thr_in: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    # class bit 1 + i marks material under content group i (one country's content rows with equal parameters)
    content_groups: list[License] = field(default_factory=list)
    # the end-use labels (contract v2, licence rules by route): class bit per end use, {} when not needed
    end_use_bits: dict[str, int] = field(default_factory=dict)
    # (site, product) whose output may be made or shipped "late" (bucket INF: after every limit), to count
    # towards a minimum volume or a country share (see _counted_surplus)
    late: set[tuple[str, str]] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)  # supply that can never be used, and why
    # every departure that can arrive in time, one row per (lane, class, bucket) in lane, class, bucket order:
    # the model's ship columns. lane, cls, bucket, arr_cls, arr_bucket, days (approval), loss (USD/t expected)
    ships: pd.DataFrame | None = None

    def content_mask(self, country: str) -> int:
        """The class bits of ``country``'s content groups: material carrying any of its controlled content."""
        return sum(1 << (i + 1) for i, g in enumerate(self.content_groups) if g.country == country)


SHIP_COLUMNS = ["lane", "cls", "bucket", "arr_cls", "arr_bucket", "days", "loss"]


# --------------------------------------------------------------------------- recipes


def effective_recipes(inputs: Inputs) -> tuple[dict, dict]:
    """Per (site, product) made: its inputs, or its main products if made jointly."""
    supply = inputs.supply[inputs.supply["capacity_t"] > 0]
    made = set(zip(supply["site_id"], supply["product"], strict=True))
    rec = inputs.recipes
    specific: dict[tuple[str, str], list[tuple[str, float]]] = {}
    generic: dict[str, list[tuple[str, float]]] = {}
    for prod, inp, f, site in zip(rec["product"], rec["input"], rec["input_t_per_t"], rec["site_id"], strict=True):
        if site:
            specific.setdefault((site, prod), []).append((inp, float(f)))
        else:
            generic.setdefault(prod, []).append((inp, float(f)))
    co = inputs.coproducts
    co_specific: dict[tuple[str, str], list[tuple[str, float]]] = {}
    co_generic: dict[str, list[tuple[str, float]]] = {}
    for main, cop, r, site in zip(co["product"], co["coproduct"], co["coproduct_t_per_t"], co["site_id"], strict=True):
        if site:
            co_specific.setdefault((site, cop), []).append((main, float(r)))
        else:
            co_generic.setdefault(cop, []).append((main, float(r)))
    recipe: dict[tuple[str, str], list[tuple[str, float]]] = {}
    joint: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for site, prod in sorted(made):
        spec = {m: r for m, r in co_generic.get(prod, [])}
        spec.update({m: r for m, r in co_specific.get((site, prod), [])})
        mains = [(m, r) for m, r in sorted(spec.items()) if (site, m) in made and m != prod]
        if mains:
            joint[(site, prod)] = mains
            continue
        recipe[(site, prod)] = sorted(specific.get((site, prod), generic.get(prod, [])))
    return recipe, joint


def product_order(recipe: dict, joint: dict, products: set[str]) -> list[str]:
    ts: TopologicalSorter[str] = TopologicalSorter()
    for p in sorted(products):
        ts.add(p)
    for (_, prod), ins in recipe.items():
        for inp, _ in ins:
            ts.add(prod, inp)
    for (_, cop), mains in joint.items():
        for main, _ in mains:
            ts.add(cop, main)
    return list(ts.static_order())


def _by_product(pairs: set[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for key in sorted(pairs):
        out.setdefault(key[1], []).append(key)
    return out


# --------------------------------------------------------------------------- lanes


def _expand(lanes: pd.DataFrame, column: str, sites: pd.DataFrame) -> pd.DataFrame:
    """(lane index, site) for every site the lane's ``column`` group names."""
    kinds = lanes[column].map(lane_group)
    frame = pd.DataFrame(
        {"lane": lanes.index, "kind": [k for k, _ in kinds], "value": [v for _, v in kinds]}
    )
    parts = []
    attr = {"site": "site_id", "company": "company", "country": "country", "stage": "stage"}
    s = sites.reset_index()
    for kind, group in frame.groupby("kind", sort=True):
        if kind == "*":
            part = group[["lane"]].merge(s[["site_id"]], how="cross")
        else:
            keys = s[["site_id"]].assign(value=s[attr[kind]])
            part = group.drop(columns="kind").merge(keys, on="value")[["lane", "site_id"]]
        part["rank"] = {"site": 4, "company": 3, "country": 2, "stage": 1, "*": 0}[kind]
        parts.append(part[["lane", "site_id", "rank"]])
    if not parts:
        return pd.DataFrame(columns=["lane", "site_id", "rank"])
    return pd.concat(parts, ignore_index=True)


# Resolved lanes by a digest of everything resolve_lanes reads: the networks of a plan against regimes are
# built per regime and period (50 on the bundled 16 regimes), and a licence regime changes Controls, not
# Lanes or Sites, so most of them resolve the same lanes (27 ms each).
_RESOLVED: dict[bytes, pd.DataFrame] = {}
_RESOLVED_MAX = 64


def resolve_lanes(
    inputs: Inputs, producers: pd.DataFrame, consumers: pd.DataFrame
) -> pd.DataFrame:
    """Concrete (from_site, to_site, product) lanes with the governing row's values.

    ``producers``: site_id, product (what can be made); ``consumers``: site_id,
    product (what a site uses as recipe input or a plant demands).
    """
    key = content_digest(inputs.lanes, inputs.sites[["site_id", "company", "country", "stage"]], producers, consumers)
    if key not in _RESOLVED:
        remember(_RESOLVED, key, _resolve_lanes(inputs, producers, consumers), _RESOLVED_MAX)
    return _RESOLVED[key].copy()


def _resolve_lanes(inputs: Inputs, producers: pd.DataFrame, consumers: pd.DataFrame) -> pd.DataFrame:
    lanes = inputs.lanes.reset_index(drop=True)
    cols = ["from_site", "to_site", "product", "lane_row", "freight_usd_per_kg", "duty_usd_per_kg",
            "tariff_pct", "transit_days", "spec"]
    if lanes.empty or producers.empty or consumers.empty:
        return pd.DataFrame(columns=cols)
    sites = inputs.sites.set_index("site_id")
    frm = _expand(lanes, "from_site", sites).rename(columns={"site_id": "from_site", "rank": "from_rank"})
    to = _expand(lanes, "to_site", sites).rename(columns={"site_id": "to_site", "rank": "to_rank"})
    lane_product = lanes["product"].rename("lane_product")
    frm = frm.join(lane_product, on="lane")
    a = frm.merge(producers.rename(columns={"site_id": "from_site"}), on="from_site")
    a = a[(a["lane_product"] == "") | (a["lane_product"] == a["product"])]
    # join on the lane first: joining on product first would pair every sender with every consumer of
    # the product before the lane's receiver group filters them (100 M rows for OR-Library capa)
    b = a.merge(to, on="lane")
    b = b.merge(consumers.rename(columns={"site_id": "to_site"}), on=["to_site", "product"])
    # Group rows never pair a site with itself; a row naming the same site on both sides is an
    # internal transfer (an integrated site using its own metal for its alloy, say).
    b = b[(b["from_site"] != b["to_site"]) | ((b["from_rank"] == 4) & (b["to_rank"] == 4))]
    b["named"] = (b["lane_product"] != "").astype(int)
    b = b.sort_values(["named", "from_rank", "to_rank", "lane"], ascending=False, kind="mergesort")
    b = b.drop_duplicates(["from_site", "to_site", "product"], keep="first")
    b = b.join(lanes[["freight_usd_per_kg", "duty_usd_per_kg", "tariff_pct", "transit_days", "_row"]], on="lane")
    b = b.rename(columns={"_row": "lane_row"})
    b["spec"] = b["from_rank"] * 10 + b["to_rank"]
    b = b.sort_values(["from_site", "to_site", "product"], kind="mergesort").reset_index(drop=True)
    return b[cols]


# --------------------------------------------------------------------------- controls


@dataclass(frozen=True)
class _Rule:
    """One Controls row as a licence rule: whom it applies to, its rank of specificity, its licence."""

    country: str
    product: str  # or "*"
    destination: str  # an importing country, "" = any
    exporter: str  # a company, "" = any
    end_use: str  # "civil", "military", "" = any
    row: int  # Excel row: the later row breaks ties
    license: License
    content_rule: bool = False

    @property
    def rank(self) -> tuple[int, int, int, int, int]:
        """Specificity, compared left to right: exporter company, destination, end use, product, later row."""
        return (bool(self.exporter), bool(self.destination), bool(self.end_use), self.product != "*", self.row)

    @property
    def any_route(self) -> bool:
        return not (self.destination or self.exporter or self.end_use)


class _Rules:
    """The governing Controls row of a shipment (contract v2, licence rules by route)."""

    def __init__(self, rules: list[_Rule]) -> None:
        self.by_country: dict[str, list[_Rule]] = {}
        for r in rules:
            self.by_country.setdefault(r.country, []).append(r)
        self.by_route = any(not r.any_route for r in rules)
        self.destinations = any(r.destination for r in rules)
        self.exporters = any(r.exporter for r in rules)
        self.end_uses = any(r.end_use for r in rules)
        self._cache: dict[tuple, _Rule | None] = {}

    def governing(self, country: str, product: str, destination: str = "", exporter: str = "",
                  end_use: str = "", any_route: bool = False) -> _Rule | None:
        """The most specific row of ``country`` that applies (``any_route``: among rows for every route only)."""
        key = (country, product, destination, exporter, end_use, any_route)
        if key not in self._cache:
            fits = [r for r in self.by_country.get(country, []) if r.product in (product, "*")
                    and (r.any_route if any_route else (r.destination in ("", destination)
                                                         and r.exporter in ("", exporter)
                                                         and r.end_use in ("", end_use)))]
            self._cache[key] = max(fits, key=lambda r: r.rank) if fits else None
        return self._cache[key]


def _control_tables(inputs: Inputs) -> tuple[_Rules, dict, list[License]]:
    """The licence rules, content-rule licences by (country, product), and the content groups.

    A content group is one controlling country's content-rule rows with identical parameters: the
    class bit that marks material carrying that country's content rule stands for the group, not the
    country, so that a licence event takes the parameters of the controlled material actually in
    the shipment (clarification 2 of the contract) without one bit per controlled product. Content-rule
    rows are rows for every route (validation refuses a content rule limited to a route).
    """
    rules: list[_Rule] = []
    content: dict[tuple[str, str], License] = {}
    default_denial = float(inputs.settings["denial_cost_usd_per_kg"])  # type: ignore[arg-type]
    ctrl = inputs.controls
    cols = [ctrl[c] if c in ctrl else pd.Series([""] * len(ctrl), index=ctrl.index, dtype=object)
            for c in ("destination", "exporter_company", "end_use")]
    for r, dest, exporter, end_use, row in zip(ctrl.itertuples(index=False), *cols, ctrl["_row"], strict=True):
        denial = default_denial if r.denial_cost_usd_per_kg is None or pd.isna(r.denial_cost_usd_per_kg) else float(
            r.denial_cost_usd_per_kg
        )
        lic = License(r.country, float(r.approval_probability), int(r.approval_days), denial, "listed")
        rules.append(_Rule(r.country, r.product, _text(dest), _text(exporter), _text(end_use), int(row), lic,
                           bool(r.content_rule)))
    table = _Rules(rules)
    for rule in rules:
        # per (country, product or *): the governing row for every route decides whether material made there
        # carries that country's content rule, and with which parameters
        g = table.governing(rule.country, rule.product, any_route=True) if rule.any_route else None
        if g is not None and g.content_rule:
            lic = g.license
            content[(g.country, g.product)] = License(g.country, lic.approval_probability, lic.approval_days,
                                                      lic.denial_cost_usd_per_kg, "content")
    groups = sorted(set(content.values()),
                    key=lambda g: (g.country, g.approval_probability, g.approval_days, g.denial_cost_usd_per_kg))
    return table, content, groups


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def end_use_bits(inputs: Inputs, n_groups: int, rules_by_end_use: bool) -> dict[str, int]:
    """The class bits that label material by the end use of the plant it will serve, or {} when one label would
    do: no Controls row names an end use, or every plant with demand has the same end use. The bits follow the
    content groups' (bit 0 exposed, bits 1..n_groups content); a class carries exactly one of them."""
    if not rules_by_end_use:
        return {}
    demand = inputs.demand[inputs.demand["quantity_t"] > 0]
    uses = set(demand["end_use"]) if "end_use" in demand else set()
    if len(uses) < 2:
        return {}
    return {"civil": 1 << (1 + n_groups), "military": 1 << (2 + n_groups)}


def single_end_use(inputs: Inputs) -> str:
    """The end use of every shipment when material needs no end-use label (see ``end_use_bits``)."""
    demand = inputs.demand[inputs.demand["quantity_t"] > 0]
    uses = sorted(set(demand["end_use"])) if "end_use" in demand else []
    return uses[0] if len(uses) == 1 else "civil"


def build_network(inputs: Inputs, latest_departures: bool = True,
                  seeds: dict[tuple[str, str], set[tuple[int, int]]] | None = None) -> Network:
    """Resolve recipes and lanes, prune, and assign exposure classes and lead-time buckets.

    ``latest_departures=False`` keeps every departure that can arrive in time (the model before the
    reduction), for the differential test that holds the two to the same optima.

    ``seeds``: (site, input) -> (class, bucket) pairs that may be in that input buffer beside what arrives
    in this period: stock carried in from another period (planner.optimise.horizon). They reach the
    buffer's grid and every class and bucket downstream, as arrivals would."""
    sites = inputs.sites.set_index("site_id")
    country = sites["country"].to_dict()
    proc = sites["processing_days"].astype(int).to_dict()
    recipe, joint = effective_recipes(inputs)
    supply = inputs.supply[inputs.supply["capacity_t"] > 0].set_index(["site_id", "product"])
    made = set(supply.index)
    products = {p for _, p in made} | set(inputs.demand["product"])
    order = product_order(recipe, joint, products)

    demand = inputs.demand.copy()
    demand = demand[demand["quantity_t"] > 0]
    consumers = sorted(
        {(s, inp) for (s, _), ins in recipe.items() for inp, _ in ins}
        | set(zip(demand["site_id"], demand["product"], strict=True))
    )
    producers = pd.DataFrame(sorted(made), columns=["site_id", "product"])
    cons = pd.DataFrame(consumers, columns=["site_id", "product"])
    lanes = resolve_lanes(inputs, producers, cons)

    # ---- can be made: every input can arrive from something that can be made
    senders: dict[tuple[str, str], list[str]] = {}
    receivers: dict[tuple[str, str], list[str]] = {}
    for f, t, p in zip(lanes["from_site"].tolist(), lanes["to_site"].tolist(), lanes["product"].tolist(), strict=True):
        senders.setdefault((t, p), []).append(f)
        receivers.setdefault((f, p), []).append(t)
    makeable: set[tuple[str, str]] = set()
    made_of = _by_product(made)
    for p in order:
        for (s, q) in made_of.get(p, []):
            if (s, q) in joint:
                ok = any((s, m) in makeable for m, _ in joint[(s, q)])
            else:
                ok = True
                for inp, _ in recipe[(s, q)]:
                    if not any((f, inp) in makeable for f in senders.get((s, inp), ())):
                        ok = False
                        break
            if ok:
                makeable.add((s, q))
    # ---- useful: output can reach a demand (directly or through later stages)
    plant_needs = set(zip(demand["site_id"], demand["product"], strict=True))
    active: set[tuple[str, str]] = set()
    uses: dict[tuple[str, str], list[str]] = {}  # (site, input) -> outputs at site using it
    for (s, q), ins in recipe.items():
        for inp, _ in ins:
            uses.setdefault((s, inp), []).append(q)
    coproducts_of: dict[tuple[str, str], list[str]] = {}
    for (s, c), mains in joint.items():
        for m, _ in mains:
            coproducts_of.setdefault((s, m), []).append(c)
    makeable_of = _by_product(makeable)
    for p in reversed(order):
        for (s, q) in makeable_of.get(p, []):
            useful = any((s, c) in active for c in coproducts_of.get((s, q), []))
            if not useful:
                for t in receivers.get((s, q), ()):
                    if (t, q) in plant_needs or any((t, r) in active for r in uses.get((t, q), [])):
                        useful = True
                        break
            if useful:
                active.add((s, q))

    # ---- counted although no plant needs it: see _counted_surplus
    share_capped = float(inputs.settings["max_country_share"]) < 1.0  # type: ignore[arg-type]
    min_volume = set(sites.index[sites["min_volume_t"] > 0])
    late = _counted_surplus(min_volume, share_capped, makeable, recipe, joint, senders, receivers, uses)
    active = active | late

    # a lane stays if its sender is active and its receiver needs the product (a plant, or an active user)
    wanted = {k for k in consumers if k in plant_needs or any((k[0], r) in active for r in uses.get(k, []))}
    if len(lanes):
        keep = _pairs_in(lanes["from_site"], lanes["product"], active) & _pairs_in(
            lanes["to_site"], lanes["product"], wanted)
        lanes = lanes[keep].reset_index(drop=True)

    warnings = _unusable_supply(supply, made, makeable, active, recipe, joint, senders)
    sup = supply.loc[sorted(active)] if active else supply.iloc[0:0]
    unit_cost = sup["unit_cost_usd_per_kg"].to_dict()
    lanes["sender_unit_cost"] = [unit_cost[k] for k in zip(lanes["from_site"].tolist(), lanes["product"].tolist(),
                                                             strict=True)]
    lanes["cost_per_t"] = 1000.0 * (lanes["freight_usd_per_kg"] + lanes["duty_usd_per_kg"]) + 10.0 * lanes[
        "tariff_pct"
    ] * lanes["sender_unit_cost"]
    lanes["cross_border"] = [country[f] != country[t] for f, t in zip(lanes["from_site"].tolist(),
                                                                      lanes["to_site"].tolist(), strict=True)]

    used_sites = sorted({s for s, _ in active})
    st = sites.loc[used_sites] if used_sites else sites.iloc[0:0]
    binary = sorted(st.index[(st["status"] == "candidate") | (st["min_volume_t"] > 0)])

    net = Network(
        sites=sites,
        supply=sup,
        recipe={k: v for k, v in recipe.items() if k in active},
        joint={k: [(m, r) for m, r in v if (k[0], m) in active] for k, v in joint.items() if k in active},
        lanes=lanes,
        demand=demand.reset_index(drop=True),
        active=active,
        order=order,
        content_countries=[],
        binary_sites=binary,
        warnings=warnings,
        late=late,
    )
    codes = _SiteCodes(sites.index, lanes)
    by_product: dict[str, dict[tuple[str, str], set[tuple[int, int]]]] = {}
    for key, pairs in (seeds or {}).items():
        if pairs:
            by_product.setdefault(key[1], {})[key] = pairs
    departures = _assign_classes(net, inputs, country, codes, by_product)
    _assign_buckets(net, proc, codes, departures, latest_departures, by_product)
    return net


def _counted_surplus(min_volume: set[str], share_capped: bool, makeable: set, recipe: dict, joint: dict,
                     senders: dict, receivers: dict, uses: dict) -> set[tuple[str, str]]:
    """What may be made, or shipped, although it reaches no plant in time or at all, because it counts.

    The contract lets a site make surplus (outputs may be left unused; inputs received are all used).
    Two rules count such material: a minimum volume is on a site's total output, so a used site may
    fill it with its cheapest output (a by-product nobody demands, or output of slow inputs that arrive
    after every limit); and a country share counts every shipment of a stage's product, also one that
    arrives too late to reach a plant (its receiver turns it into surplus). Pruning to what can reach a
    plant would drop exactly those columns and make such plans dearer than the contract's.

    Returned: every makeable (site, product) at a minimum-volume site, and with a country share cap
    every makeable sender with a lane to a site that can use what it sends, with that user; then all
    they are made of (every sender of each recipe input, the main product of a coproduct). These get a
    "late" lead-time bucket (INF, after every limit) besides the buckets that reach a plant: all that
    surplus needs, since its timing changes neither cost nor any constraint.
    """
    seeds = {k for k in makeable if k[0] in min_volume}
    if share_capped:
        for f, q in sorted(makeable):
            for t in receivers.get((f, q), ()):
                users = [(t, r) for r in uses.get((t, q), []) if (t, r) in makeable]
                if users:
                    seeds.add((f, q))
                    seeds.update(users)
    out: set[tuple[str, str]] = set()
    stack = sorted(seeds)
    while stack:
        key = stack.pop()
        if key in out:
            continue
        out.add(key)
        s, q = key
        if key in joint:
            stack += [(s, m) for m, _ in joint[key] if (s, m) in makeable]
        else:
            for inp, _ in recipe[key]:
                stack += [(f, inp) for f in senders.get((s, inp), ()) if (f, inp) in makeable]
    return out


def _pairs_in(site: pd.Series, product: pd.Series, pairs: set[tuple[str, str]]) -> np.ndarray:
    """Per row: is (site, product) one of ``pairs``."""
    return np.fromiter((k in pairs for k in zip(site.tolist(), product.tolist(), strict=True)), dtype=bool,
                       count=len(site))


def _unusable_supply(supply: pd.DataFrame, made: set, makeable: set, active: set, recipe: dict, joint: dict,
                     senders: dict, most: int = 10) -> list[str]:
    """Why Supply rows can never carry flow: an input that cannot arrive, or no way on to a plant."""
    out = []
    for s, q in sorted(made - active):
        row = int(supply.at[(s, q), "_row"]) if "_row" in supply.columns else 0
        where = f"Supply!A{row}: " if row else ""
        if (s, q) not in makeable:
            if (s, q) in joint:
                why = f"it comes only with {', '.join(m for m, _ in joint[(s, q)])}, which {s} cannot make"
            else:
                missing = [i for i, _ in recipe[(s, q)] if not any((f, i) in makeable for f in senders.get((s, i), ()))]
                why = f"no lane brings {', '.join(missing)} from a site that can make it"
            out.append(f"{where}{s} cannot make {q}: {why}")
        else:
            out.append(f"{where}{s}'s {q} cannot reach a plant that needs it (no lane onward to a user of {q})")
    if len(out) > most:
        out = [*out[:most], f"...and {len(out) - most} more Supply rows that cannot be used"]
    return out


# --------------------------------------------------------------------------- vectorised helpers
#
# Classes and buckets are decided product by product (in bill-of-materials order), and within a
# product for all of its lanes at once, on arrays: a site is a number (its position in ``sites``),
# and a set of lead-time values per site is one sorted array of site * SPAN + value.

SPAN = 1 << 32  # > any lead-time value (days are at most 36,525; INF is 1e9)
_NONE = np.zeros(0, dtype=np.int64)


def ragged(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows of these lengths: the row of every element, and its position in its row (row-major)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    row = np.repeat(np.arange(len(lengths)), lengths)
    pos = np.arange(len(row)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return row, pos


def distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (``np.unique`` without its overhead: a sort, much faster here)."""
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values


def _union(parts: list[np.ndarray]) -> np.ndarray:
    """The union of sorted sets of distinct values, sorted."""
    if len(parts) == 1:
        return parts[0]
    return distinct(np.concatenate(parts)) if parts else _NONE


def _round_up_all(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """The distinct ``round_up`` of ``values`` (those with a threshold), sorted."""
    i = np.searchsorted(thresholds, values)
    return distinct(thresholds[i[i < len(thresholds)]])


def _less(values: np.ndarray, days: np.ndarray | int) -> np.ndarray:
    """``values - days``, where INF (no limit) stays INF."""
    return np.where(values >= INF, INF, values - days)


def _more(values: np.ndarray, days: np.ndarray | int) -> np.ndarray:
    """``values + days``, where INF (no limit) stays INF."""
    return np.where(values >= INF, INF, values + days)


class _SiteCodes:
    """Sites as numbers, and every lane's sender and receiver as numbers."""

    def __init__(self, site_ids: pd.Index, lanes: pd.DataFrame) -> None:
        self.names = site_ids.to_numpy(dtype=object)
        self.of = {s: i for i, s in enumerate(self.names)}
        self.src = site_ids.get_indexer(lanes["from_site"]).astype(np.int64)
        self.dst = site_ids.get_indexer(lanes["to_site"]).astype(np.int64)
        codes, uniques = pd.factorize(lanes["product"])
        by = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[by], np.arange(len(uniques) + 1))
        self.lanes_of = {p: by[bounds[k]:bounds[k + 1]] for k, p in enumerate(uniques)}  # lanes of p, ascending

    def __len__(self) -> int:
        return len(self.names)


class _PerSite:
    """A sorted set of integers per site (for one product), stored flat for vectorised look-ups."""

    def __init__(self, n_sites: int, site: np.ndarray, value: np.ndarray) -> None:
        assert not len(value) or (value.min() >= 0 and value.max() < SPAN)
        self.key = distinct(site.astype(np.int64) * SPAN + value)
        self.value = self.key % SPAN
        bounds = np.searchsorted(self.key // SPAN, np.arange(n_sites + 1))
        self.start, self.len = bounds[:-1], np.diff(bounds)

    @classmethod
    def of_lists(cls, n_sites: int, lists: dict[int, list[int] | np.ndarray]) -> _PerSite:
        site = np.repeat(np.fromiter(lists, dtype=np.int64, count=len(lists)),
                         [len(v) for v in lists.values()]) if lists else _NONE
        value = np.concatenate([np.asarray(v, dtype=np.int64) for v in lists.values()]) if lists else _NONE
        return cls(n_sites, site, value)

    def of(self, site: int) -> np.ndarray:
        return self.value[self.start[site]:self.start[site] + self.len[site]]

    def sites(self) -> np.ndarray:
        return np.flatnonzero(self.len)

    def expand(self, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every value of each of ``sites``: (position in ``sites``, value), in that order."""
        row, pos = ragged(self.len[sites])
        return row, self.value[self.start[sites[row]] + pos]

    def round_up(self, sites: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per (site, value): whether the site's set has a value >= it, and the smallest such."""
        if not len(self.key):
            return np.zeros(len(values), dtype=bool), np.zeros(len(values), dtype=np.int64)
        assert not len(values) or (values.min() >= 0 and values.max() < SPAN)
        i = np.searchsorted(self.key, sites * SPAN + values)
        last = np.minimum(i, len(self.key) - 1)
        return (i < len(self.key)) & (self.key[last] // SPAN == sites), self.value[last]


@dataclass
class _Departures:
    """Material leaving on the lanes of one product: one row per (lane, class), in lane then class order."""

    lane: np.ndarray
    src: np.ndarray  # sender, as a site number
    dst: np.ndarray  # receiver
    cls: np.ndarray
    arr_cls: np.ndarray  # class on arrival (exposed once a licence event applies)
    days: np.ndarray  # approval days of the licence events
    loss: np.ndarray  # expected denial loss, USD per tonne
    shift: np.ndarray  # transit + approval days


# --------------------------------------------------------------------------- classes


def _assign_classes(net: Network, inputs: Inputs, country: dict[str, str], codes: _SiteCodes,
                    seeds: dict[str, dict[tuple[str, str], set[tuple[int, int]]]]) -> dict[str, _Departures]:
    """Classes made (``out_classes``), carried on lanes (``lane_events``) and buffered; per product, its departures."""
    rules, content, groups = _control_tables(inputs)
    net.content_groups = groups
    net.content_countries = sorted({g.country for g in groups})
    bit = {g: 1 << (i + 1) for i, g in enumerate(groups)}
    of_country: dict[str, list[tuple[int, License]]] = {}
    for g in groups:
        of_country.setdefault(g.country, []).append((bit[g], g))
    # end use: a label carried by material from where it is made to the plant it serves (see end_use_bits)
    eu_bits = end_use_bits(inputs, len(groups), rules.end_uses)
    net.end_use_bits = eu_bits
    eu_mask = sum(eu_bits.values())
    only_use = single_end_use(inputs)

    def content_license(c: str, cls: int) -> License | None:
        """Country c's content-rule licence for material of class ``cls``: the strictest parameters among
        c's groups whose material it carries."""
        rows = [g for b, g in of_country[c] if cls & b]
        if not rows:
            return None
        return License(
            c,
            min(r.approval_probability for r in rows),
            max(r.approval_days for r in rows),
            max(r.denial_cost_usd_per_kg for r in rows),
            "content",
        )

    for s, q in net.active:
        c = country[s]
        # the governing row for every route of (country, product) decides whether its material carries
        # content, and which
        g = rules.governing(c, q, any_route=True)
        key = (c, g.product) if g is not None else None
        net.origin[(s, q)] = bit[content[key]] if key in content else 0

    def events(route: tuple[str, str, str] | None, p: str, cls: int) -> list[License]:
        """Licence events of class ``cls`` material of ``p`` crossing a border on ``route``: the sender's country
        and company and the receiver's country (None: a lane within one country)."""
        if route is None:
            return []
        sender_country, exporter, destination = route
        use = ("military" if cls & eu_bits["military"] else "civil") if eu_bits else only_use
        out = []
        rule = rules.governing(sender_country, p, destination, exporter, use)
        own = rule.license if rule is not None else None
        if own is not None:
            out.append(License(own.country, own.approval_probability, own.approval_days,
                               own.denial_cost_usd_per_kg, "listed"))
        for c in net.content_countries:
            if c != sender_country:
                lic = content_license(c, cls)
                if lic is not None:
                    out.append(lic)
        return out

    # the events of a lane depend only on its product, its route if it crosses a border (the sender's country;
    # the sender's company and the receiver's country where some Controls row names one), and the class
    lanes = net.lanes
    company = net.sites["company"].to_dict()
    route_of = list(zip(
        pd.Series(country).reindex(lanes["from_site"]).tolist(),
        pd.Series(company).reindex(lanes["from_site"]).tolist() if rules.exporters else [""] * len(lanes),
        pd.Series(country).reindex(lanes["to_site"]).tolist() if rules.destinations else [""] * len(lanes),
        strict=True))
    routes: dict[tuple[str, str, str], int] = {}
    route_code = np.fromiter((routes.setdefault(r, len(routes)) for r in route_of), dtype=np.int64,
                             count=len(route_of))
    group_route = list(routes)
    group = np.where(lanes["cross_border"].to_numpy(dtype=bool), route_code + 1, 0).astype(np.int64)
    transit = lanes["transit_days"].astype(int).to_numpy(dtype=np.int64)
    # per product: the end-use bit a plant receiving it demands (0: not a plant of that product)
    plant_bit: dict[str, np.ndarray] = {}
    if eu_bits:
        for site, prod, use in zip(net.demand["site_id"], net.demand["product"], net.demand["end_use"], strict=True):
            arr = plant_bit.setdefault(prod, np.zeros(len(codes), dtype=np.int64))
            arr[codes.of[site]] = eu_bits[use]

    active_of = _by_product(net.active)
    arrivals: dict[tuple[str, str], set[int]] = {}
    departures: dict[str, _Departures] = {}
    for p in net.order:
        for key, pairs in seeds.get(p, {}).items():  # before its users' classes: products come in input order
            arrivals.setdefault(key, set()).update(c for c, _ in pairs)
        for key in active_of.get(p, []):
            s, q = key
            if key in net.joint:
                classes = {k | net.origin[key] for m, _ in net.joint[key] for k in net.out_classes.get((s, m), [])}
            else:
                combos = {net.origin[key]}
                for inp, _ in net.recipe[key]:
                    arr = arrivals.get((s, inp), set())
                    combos = {a | b for a in combos for b in arr}
                classes = combos
                if eu_bits and not net.recipe[key]:  # raw material: made for either end use
                    classes = {c | b for c in classes for b in eu_bits.values()}
                elif eu_bits:  # a batch serves one end use: its inputs all carry that label
                    classes = {c for c in classes if (c & eu_mask) in eu_bits.values()}
            net.out_classes[key] = sorted(classes)
        # arrivals of product p, now that every sender's classes are known
        idx = codes.lanes_of.get(p)
        if idx is None:
            continue
        sent = _PerSite.of_lists(len(codes), {codes.of[s]: net.out_classes[(s, p)] for s, _ in active_of.get(p, [])})
        row, cls = sent.expand(codes.src[idx])
        lane = idx[row]
        kind = group[lane] * SPAN + cls
        kinds = distinct(kind)
        which = np.searchsorted(kinds, kind)
        ev = [events(group_route[g - 1] if g else None, p, int(k)) for g, k in zip(kinds // SPAN, kinds % SPAN,
                                                                                  strict=True)]
        # a ban (approval probability 0) lets nothing cross: no departure; a plant receives only material
        # labelled with its own end use
        keep = ~np.array([any(e.approval_probability <= 0.0 for e in x) for x in ev], dtype=bool)[which]
        if p in plant_bit:
            need = plant_bit[p][codes.dst[lane]]
            keep &= (need == 0) | ((cls & eu_mask) == need)
        if not keep.all():
            lane, cls, which = lane[keep], cls[keep], which[keep]
        days = np.array([sum(e.approval_days for e in x) for x in ev], dtype=np.int64)[which]
        loss = np.array([1000.0 * sum((1.0 - e.approval_probability) * e.denial_cost_usd_per_kg for e in x)
                         for x in ev], dtype=float)[which]
        arr_cls = np.where(np.array([bool(x) for x in ev], dtype=bool)[which], cls | EXPOSED, cls)
        net.lane_events.update(zip(zip(lane.tolist(), cls.tolist(), strict=True), map(ev.__getitem__, which.tolist()),
                                   strict=True))
        dep = _Departures(lane, codes.src[lane], codes.dst[lane], cls, arr_cls, days, loss, transit[lane] + days)
        departures[p] = dep
        got = _PerSite(len(codes), dep.dst, arr_cls)
        for t in got.sites().tolist():
            arrivals.setdefault((codes.names[t], p), set()).update(got.of(t).tolist())
    for (s, q), ins in net.recipe.items():
        for inp, _ in ins:
            cl = set(arrivals.get((s, inp), set())) | set(net.out_classes.get((s, q), []))
            prev = set(net.buffer_classes.get((s, inp), []))
            net.buffer_classes[(s, inp)] = sorted(cl | prev)
    for (d, p) in zip(net.demand["site_id"], net.demand["product"], strict=True):
        net.buffer_classes[(d, p)] = sorted(arrivals.get((d, p), set()))
    return departures


# --------------------------------------------------------------------------- buckets


def _assign_buckets(net: Network, proc: dict[str, int], codes: _SiteCodes, departures: dict[str, _Departures],
                    latest_departures: bool = True,
                    seeds: dict[str, dict[tuple[str, str], set[tuple[int, int]]]] | None = None) -> None:
    """Thresholds backward from the plants' limits, then the buckets that can occur forward; and ``net.ships``."""
    limit: dict[tuple[str, str], int] = {}
    for r in net.demand.itertuples(index=False):
        lim = r.max_lead_time_days
        limit[(r.site_id, r.product)] = INF if lim is None or pd.isna(lim) else int(lim)
    n_sites = len(codes)
    # backward: thresholds that matter downstream. thr_in: (site, product) -> parts of its set of thresholds
    thr_in: dict[tuple[str, str], list[np.ndarray]] = {k: [np.array([v], dtype=np.int64)] for k, v in limit.items()}
    receivers_of: dict[str, list[str]] = {}
    for s, p in thr_in:
        receivers_of.setdefault(p, []).append(s)
    thr_out: dict[tuple[str, str], np.ndarray] = {}
    coproducts_of: dict[tuple[str, str], list[str]] = {}
    for (s, c), mains in net.joint.items():
        for m, _ in mains:
            coproducts_of.setdefault((s, m), []).append(c)
    arriving: dict[str, _PerSite] = {}  # per product: the thresholds an arrival at each site rounds to

    active_of = _by_product(net.active)
    for p in reversed(net.order):
        arriving[p] = _PerSite.of_lists(n_sites, {codes.of[s]: np.concatenate(thr_in[(s, p)])
                                                  for s in receivers_of.get(p, [])})
        dep = departures.get(p)
        if dep is not None:  # a sender's thresholds: each receiver's, less transit and approval days
            row, value = arriving[p].expand(dep.dst)
            value = _less(value, dep.shift[row])
            keep = value >= 0
            leaving = _PerSite(n_sites, dep.src[row[keep]], value[keep])
        for key in active_of.get(p, []):
            s, q = key
            parts = [leaving.of(codes.of[s])] if dep is not None else []
            parts += [thr_out.get((s, c), _NONE) for c in coproducts_of.get(key, [])]
            th = _union(parts)
            if key in net.late and (not len(th) or th[-1] < INF):
                th = np.append(th, INF)
            thr_out[key] = th
            for inp, _ in net.recipe.get(key, []):
                if (s, inp) not in thr_in:
                    thr_in[(s, inp)] = []
                    receivers_of.setdefault(inp, []).append(s)
                t2 = _less(th, proc[s])
                thr_in[(s, inp)].append(t2[t2 >= 0])
    # forward: buckets that can actually occur; every departure that can arrive in time is a ship column
    joint_keys = set(net.joint) | set(coproducts_of)
    out_b: dict[tuple[str, str], np.ndarray] = {}
    arr_buckets: dict[tuple[str, str], np.ndarray] = {}
    ships = []
    for p in net.order:
        for key in active_of.get(p, []):
            s, q = key
            th = thr_out.get(key, _NONE)
            if key in net.joint:
                src = [out_b.get((s, m), _NONE) for m, _ in net.joint[key]]
                f = _round_up_all(np.concatenate([_NONE, *src]), th)
            elif not net.recipe[key]:
                f = _round_up_all(np.array([proc[s]], dtype=np.int64), th)
            else:
                lists = [arr_buckets.get((s, inp), _NONE) for inp, _ in net.recipe[key]]
                if any(not len(x) for x in lists):
                    f = _NONE
                else:
                    floor = max(x[0] for x in lists)
                    cand = distinct(np.concatenate(lists))
                    f = _round_up_all(_more(cand[cand >= floor], proc[s]), th)
            out_b[key] = f
            net.out_buckets[key] = f.tolist()
        dep = departures.get(p)
        if dep is None:
            _seed_buckets(arr_buckets, (seeds or {}).get(p, {}))
            continue
        made = _PerSite.of_lists(n_sites, {codes.of[s]: out_b[(s, p)] for s, _ in active_of.get(p, [])})
        row, bucket = made.expand(dep.src)
        ok, arr_bucket = arriving[p].round_up(dep.dst[row], _more(bucket, dep.shift[row]))
        row, bucket, arr_bucket = row[ok], bucket[ok], arr_bucket[ok]
        # Of the departures of one (lane, class) that arrive in the same bucket, only the latest is
        # needed: they cost the same and arrive alike, and a batch made earlier could as well have been
        # made in the later bucket (its inputs wait in the buffer, whose buckets include every make
        # bucket less processing days). Not so where coproducts tie a batch's bucket to another's:
        # there every departure stays.
        if latest_departures and len(row):
            tied = np.zeros(n_sites, dtype=bool)
            tied[[codes.of[s] for s, _ in active_of.get(p, []) if (s, p) in joint_keys]] = True
            last = np.append((row[1:] != row[:-1]) | (arr_bucket[1:] != arr_bucket[:-1]), True)
            keep = last | tied[dep.src[row]]
            row, bucket, arr_bucket = row[keep], bucket[keep], arr_bucket[keep]
        got = _PerSite(n_sites, dep.dst[row], arr_bucket)
        for t in got.sites().tolist():
            arr_buckets[(codes.names[t], p)] = got.of(t)
        _seed_buckets(arr_buckets, (seeds or {}).get(p, {}))
        ships.append((dep.lane[row], dep.cls[row], bucket, dep.arr_cls[row], arr_bucket, dep.days[row],
                      dep.loss[row]))
    # product by product so far; in lane order (each lane carries one product)
    by_lane = np.argsort(np.concatenate([_NONE, *(s[0] for s in ships)]), kind="stable")
    net.ships = pd.DataFrame({c: np.concatenate([np.zeros(0, dtype=float if c == "loss" else np.int64),
                                                 *(s[k] for s in ships)])[by_lane] for k, c in enumerate(SHIP_COLUMNS)},
                             copy=False)
    users: dict[tuple[str, str], list[str]] = {}
    for (s, q), ins in net.recipe.items():
        for inp, _ in ins:
            users.setdefault((s, inp), []).append(q)
    for (s, inp) in list(net.buffer_classes):
        if (s, inp) in limit:
            net.buffer_buckets[(s, inp)] = arr_buckets.get((s, inp), _NONE).tolist()
            continue
        parts = [arr_buckets.get((s, inp), _NONE)]
        for q in users.get((s, inp), []):
            t2 = _less(out_b.get((s, q), _NONE), proc[s])
            parts.append(t2[t2 >= 0])
        net.buffer_buckets[(s, inp)] = _union(parts).tolist()
    net.thr_in = {k: _union(v).tolist() for k, v in thr_in.items()}


def _seed_buckets(arr_buckets: dict[tuple[str, str], np.ndarray], seeds: dict[tuple[str, str], set]) -> None:
    for key, pairs in seeds.items():
        more = np.array(sorted({b for _, b in pairs}), dtype=np.int64)
        arr_buckets[key] = _union([arr_buckets.get(key, _NONE), more])


def hasse_edges(classes: list[int]) -> list[tuple[int, int]]:
    """Covering pairs (a, b), a a strict subset of b, with nothing of ``classes`` in between."""
    out = []
    for a in classes:
        for b in classes:
            if a != b and a & b == a and not any(c not in (a, b) and a & c == a and c & b == c for c in classes):
                out.append((a, b))
    return out
