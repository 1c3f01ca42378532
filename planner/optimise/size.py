"""The model's size, estimated from the network before any of its arrays are built (pure, no solver).

A small input can describe a model of millions of columns: every plant's
lead-time limit minus every route's days is a bucket upstream, and group lanes
(``*``, ``stage:``) multiply the routes. Building such a model takes gigabytes
before the solver even starts, so its size is decided from what
``build_network`` already knows (which is cheap: no column is made there but
the ship rows of ``Network.ships``):

* **columns: exact.** use = binary sites; make = classes x buckets per active
  (site, product); ship = ``Network.ships``; down = per input buffer, its buckets
  x class steps plus its classes x bucket steps; short = demand rows;
  share_total = (stage, product) groups shipping, under a country share cap.
* **rows and nonzeros: upper bounds.** Each kind of row is counted by the keys
  it may have (a balance row per buffer class and bucket, an outflow row per
  batch), and each column's entries by the rows it may appear in; the model
  drops rows with no entry, and zero entries.

``tests/test_size.py`` holds the estimate to the built model's counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from planner.input import schema
from planner.input.data import Inputs
from planner.optimise.network import INF, Network, hasse_edges


@dataclass(frozen=True)
class Size:
    columns: int  # exact
    rows: int  # at least the model's
    nonzeros: int  # at least the model's
    by_kind: dict[str, int] = field(default_factory=dict)  # columns per kind, as ``LinearModel.cols``
    # what drives it: per Lanes row (Excel row), its resolved lanes and ship columns, most columns first
    lane_rows: list[tuple[int, int, int]] = field(default_factory=list)
    most_buckets: tuple[int, str, str] = (0, "", "")  # lead-time buckets of the (site, product) with most
    mean_buckets: float = 0.0  # per active (site, product)
    limits: tuple[int, ...] = ()  # the plants' distinct lead-time limits, days

    def text(self) -> str:
        kinds = ", ".join(f"{n:,} {k}" for k, n in sorted(self.by_kind.items(), key=lambda t: -t[1]) if n)
        return (f"{self.columns:,} variables ({kinds}), at most {self.rows:,} rows and "
                f"{self.nonzeros:,} nonzeros")


def _setting(settings: Mapping[str, object] | None, key: str) -> object:
    if settings is not None and key in settings:
        return settings[key]
    return schema.SETTING_BY_KEY[key].default


def estimate(net: Network, settings: Mapping[str, object] | None = None) -> Size:
    """The size of ``build_model``'s model of ``net`` (``settings``: the input's, for the optional rows)."""
    allow_shortage = bool(_setting(settings, "allow_shortage"))
    default_cap = float(_setting(settings, "max_exposed_share"))  # type: ignore[arg-type]
    supplier_share = float(_setting(settings, "max_supplier_share"))  # type: ignore[arg-type]
    country_share = float(_setting(settings, "max_country_share"))  # type: ignore[arg-type]
    lanes, dem, sites = net.lanes, net.demand, net.sites
    ships = net.ships if net.ships is not None else pd.DataFrame({"lane": np.zeros(0, dtype=np.int64)})
    n_lanes = len(lanes)
    per_lane = np.bincount(ships["lane"].to_numpy(dtype=np.int64), minlength=n_lanes)[:n_lanes]
    n_ship = int(per_lane.sum())

    # ---- columns
    binary = set(net.binary_sites)
    keys = sorted(net.active)
    make_of = {k: len(net.out_classes.get(k, [])) * len(net.out_buckets.get(k, [])) for k in keys}
    n_make = sum(make_of.values())
    plants = set(zip(dem["site_id"], dem["product"], strict=True))
    buffers = [k for k in sorted(net.buffer_classes) if k not in plants]
    edges: dict[tuple[int, ...], int] = {}
    n_down = n_balance = 0
    for k in buffers:
        classes = net.buffer_classes[k]
        nb = len(net.buffer_buckets.get(k, []))
        ne = edges.setdefault(tuple(classes), len(hasse_edges(classes)))
        n_down += nb * ne + len(classes) * max(nb - 1, 0)
        n_balance += len(classes) * nb
    n_short = len(dem) if allow_shortage else 0
    sender = lanes["from_site"].to_numpy(dtype=object)
    receiver = lanes["to_site"].to_numpy(dtype=object)
    product = lanes["product"].to_numpy(dtype=object)
    used = per_lane > 0
    shares = None  # under a country share cap: per (stage, product) shipped, its sender countries
    if country_share < 1.0 and n_ship:
        stage = sites["stage"].reindex(sender).to_numpy(dtype=object)
        country = sites["country"].reindex(sender).to_numpy(dtype=object)
        group = pd.Series(list(zip(stage.tolist(), product.tolist(), strict=True)), dtype=object)[used]
        shares = pd.DataFrame({"g": group.to_numpy(dtype=object), "c": country[used]}).groupby("g")["c"].nunique()
    by_kind = {"use": len(binary), "make": n_make, "ship": n_ship, "down": n_down, "short": n_short,
               "share_total": 0 if shares is None else len(shares)}
    columns = sum(by_kind.values())

    # ---- rows (upper bounds) and their entries
    to_plant = np.fromiter(((t, p) in plants for t, p in zip(receiver.tolist(), product.tolist(), strict=True)),
                           dtype=bool, count=n_lanes)
    from_binary = np.fromiter((s in binary for s in sender.tolist()), dtype=bool, count=n_lanes)
    into_plants = int(per_lane[to_plant].sum())
    rows = len(keys) + n_make + n_balance  # capacity, outflow (per batch), balance
    nz = n_make + sum(1 for s, _ in keys if s in binary)  # capacity
    nz += n_ship + n_make  # outflow
    nz += (n_ship - into_plants) + 2 * n_down  # balance: arrivals, carried in and out
    nz += sum(make_of[k] * len(ins) for k, ins in net.recipe.items() if k in make_of)  # balance: inputs used
    for k, mains in net.joint.items():  # coproduct <= ratio x main
        rows += make_of.get(k, 0)
        nz += make_of.get(k, 0) + sum(make_of.get((k[0], m), 0) for m, _ in mains)
    caps = dem["max_exposed_share"].astype(float).fillna(default_cap).to_numpy() if len(dem) else np.zeros(0)
    capped = {k for k, c in zip(zip(dem["site_id"], dem["product"], strict=True), caps.tolist(), strict=True)
              if c < 1.0}
    into_capped = np.fromiter(((t, p) in capped for t, p in zip(receiver.tolist(), product.tolist(), strict=True)),
                              dtype=bool, count=n_lanes)
    rows += len(dem) + len(capped)  # demand, exposure caps
    nz += into_plants + int(per_lane[into_capped].sum()) + n_short
    if supplier_share < 1.0 and used.any():
        company = sites["company"].reindex(sender).to_numpy(dtype=object)
        pairs = set(zip(receiver[used & to_plant].tolist(), product[used & to_plant].tolist(),
                        company[used & to_plant].tolist(), strict=True))
        rows += len(pairs)
        nz += into_plants
    if shares is not None:  # per group: total = its ship columns; per group and country: shipped <= share x total
        rows += len(shares) + int(shares.sum())
        nz += 2 * n_ship + 2 * len(shares) + int(shares.sum())
    for s in binary:
        if float(sites.at[s, "min_volume_t"]) > 0:
            rows += 1
            nz += 1 + sum(make_of[k] for k in keys if k[0] == s)
    out_of_binary = used & from_binary
    rows += int(out_of_binary.sum())  # ship <= bound x use
    nz += int(per_lane[out_of_binary].sum()) + int(out_of_binary.sum())

    # ---- what drives it
    by_row = pd.DataFrame({"row": lanes["lane_row"].to_numpy(dtype=np.int64), "ships": per_lane}).groupby("row")[
        "ships"].agg(["size", "sum"]).sort_values("sum", ascending=False, kind="mergesort")
    lane_rows = [(int(r), int(n), int(c)) for r, n, c in zip(by_row.index, by_row["size"], by_row["sum"],
                                                           strict=True) if c]
    buckets = {k: len(net.out_buckets.get(k, [])) for k in keys}
    top = max(buckets, key=lambda k: (buckets[k], k)) if buckets else ("", "")
    limits = dem["max_lead_time_days"].dropna().astype(int).tolist() if len(dem) else []
    return Size(columns, rows, nz, by_kind, lane_rows[:5], (buckets.get(top, 0), *top),
                float(np.mean(list(buckets.values()))) if buckets else 0.0,
                tuple(sorted({v for v in limits if v < INF})))


def causes(size: Size, inputs: Inputs) -> list[str]:
    """In the input's terms, what makes the model this large: the Lanes rows behind most ship columns and
    the lead-time buckets the plants' limits create."""
    out = []
    lanes = inputs.lanes
    text = {int(r): f"{f} -> {t}" + (f" ({p})" if p else "") for r, f, t, p in zip(
        lanes["_row"], lanes["from_site"], lanes["to_site"], lanes["product"].fillna(""), strict=True)}
    ship = size.by_kind.get("ship", 0)
    for row, n, cols in size.lane_rows[:3]:
        where = f"Lanes!A{row} ({text[row]})" if row in text else "lanes added by a what-if"
        out.append(f"{where} resolves to {n:,} lanes with {cols:,} ship columns "
                   f"({100 * cols / max(ship, 1):.0f} % of them)")
    n, site, product = size.most_buckets
    if n > 1:
        limits = size.limits
        shown = ", ".join(f"{v:,}" for v in limits[:8]) + (", ..." if len(limits) > 8 else "")
        out.append(f"lead-time buckets: up to {n:,} per site and product ({site} {product}), {size.mean_buckets:.1f} "
                   f"on average: every distinct limit of the plants (Demand max_lead_time_days: {len(limits):,} "
                   f"distinct, {shown} days) less every route's days upstream is one; each multiplies the columns "
                   "of every lane it can travel")
    return out
