"""Synthetic contract inputs of a chosen size, shaped like the reference case.

Tiers mine -> refiner -> metal -> magnet -> plant with the reference products
(REO_CONC -> NDPR_OXIDE (+ DYTB_OXIDE coproduct) -> NDPR_METAL / DYTB_METAL ->
NDFEB_ALLOY -> NDFEB_STD / NDFEB_HT), a share of Chinese sites under export
controls with the content rule on, lead-time limits at the plants, and a few
candidate sites. Lanes connect each site to a random subset of the next tier.

Usage: python bench/generate.py OUTDIR --scale N [--seed S] [--candidates K]
(variables grow roughly with N^2 through the lanes).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def generate(scale: int, seed: int = 1, candidates: int = 0, density: float = 0.3,
             lead_times: bool = True, controls: bool = True,
             limit_days: tuple[int, ...] | None = None) -> dict[str, pd.DataFrame]:
    """``limit_days``: the plants' lead-time limits are drawn from these values (sourcing policies use a few,
    e.g. 120/180/270 days); by default each plant gets its own random limit in 200-319 days, the worst case
    for the number of lead-time buckets."""
    rng = np.random.default_rng(seed)
    tiers = {"mine": 2 * scale, "refiner": scale, "metal": scale, "magnet": 2 * scale, "plant": 3 * scale}
    countries = np.array(["CN", "AU", "US", "MY", "JP", "DE", "KR", "VN", "BR", "FR"])
    sites, supply = [], []
    ids: dict[str, list[str]] = {}
    for stage, n in tiers.items():
        ids[stage] = []
        for i in range(n):
            sid = f"{stage[:3].upper()}{i:05d}"
            c = "CN" if rng.random() < 0.4 else str(rng.choice(countries[1:]))
            status = "qualified"
            sites.append({"site_id": sid, "company": f"CO{rng.integers(0, max(2, n // 2)):04d}", "country": c,
                          "stage": stage, "status": status, "qualification_cost_usd": 0.0, "min_volume_t": 0.0,
                          "processing_days": int(rng.integers(5, 40)) if stage != "plant" else 0})
            ids[stage].append(sid)
    cand = rng.choice(len(sites) - tiers["plant"], size=min(candidates, len(sites) - tiers["plant"]), replace=False)
    for k in cand:
        sites[int(k)]["status"] = "candidate"
        sites[int(k)]["qualification_cost_usd"] = float(rng.integers(1, 20)) * 1e5
    cheap = {s["site_id"]: 0.7 if s["country"] == "CN" else 1.0 for s in sites}
    for s in ids["mine"]:
        supply.append((s, "REO_CONC", float(rng.integers(2000, 20000)), 6.0 * cheap[s] * rng.uniform(0.8, 1.2)))
    for s in ids["refiner"]:
        supply.append((s, "NDPR_OXIDE", float(rng.integers(500, 5000)), 20 * cheap[s] * rng.uniform(0.8, 1.2)))
        if rng.random() < 0.5:
            supply.append((s, "DYTB_OXIDE", float(rng.integers(10, 200)), 300 * cheap[s] * rng.uniform(0.8, 1.5)))
    for s in ids["metal"]:
        supply.append((s, "NDPR_METAL", float(rng.integers(300, 3000)), 15 * cheap[s] * rng.uniform(0.8, 1.2)))
        supply.append((s, "DYTB_METAL", float(rng.integers(10, 200)), 60 * cheap[s] * rng.uniform(0.8, 1.2)))
        supply.append((s, "NDFEB_ALLOY", float(rng.integers(1000, 8000)), 8 * cheap[s] * rng.uniform(0.8, 1.2)))
    for s in ids["magnet"]:
        supply.append((s, "NDFEB_STD", float(rng.integers(500, 4000)), 30 * cheap[s] * rng.uniform(0.8, 1.2)))
        supply.append((s, "NDFEB_HT", float(rng.integers(300, 3000)), 40 * cheap[s] * rng.uniform(0.8, 1.2)))
    recipes = [("NDPR_OXIDE", "REO_CONC", 5.26), ("NDPR_METAL", "NDPR_OXIDE", 1.2), ("DYTB_METAL", "DYTB_OXIDE", 1.2),
               ("NDFEB_ALLOY", "NDPR_METAL", 0.31), ("NDFEB_STD", "NDFEB_ALLOY", 1.4),
               ("NDFEB_HT", "NDFEB_ALLOY", 1.4), ("NDFEB_HT", "DYTB_METAL", 0.03)]
    coproducts = [("NDPR_OXIDE", "DYTB_OXIDE", 0.02)]
    lanes = []
    order = ["mine", "refiner", "metal", "magnet", "plant"]
    country = {s["site_id"]: s["country"] for s in sites}
    for a, b in zip(order, order[1:], strict=False):
        for f in ids[a]:
            k = max(1, int(density * len(ids[b])))
            for t in rng.choice(ids[b], size=k, replace=False):
                same = country[f] == country[t]
                lanes.append((f, t, "", round(0.05 if same else rng.uniform(0.1, 0.6), 3), 0.0, 0.0,
                              int(rng.integers(2, 8)) if same else int(rng.integers(7, 45))))
    for f in ids["metal"]:  # integrated metal and alloy lines: an explicit internal transfer
        lanes.append((f, f, "NDPR_METAL", 0.0, 0.0, 0.0, 0))
    demand = []
    for p in ids["plant"]:
        qty = float(rng.integers(100, 1500))
        limit = int(rng.integers(200, 320)) if lead_times else None
        if lead_times and limit_days:
            limit = int(limit_days[int(rng.integers(0, len(limit_days)))])
        demand.append((p, "NDFEB_HT", round(qty * 0.7), limit, None, 2000.0))
        demand.append((p, "NDFEB_STD", round(qty * 0.3), limit, None, 2000.0))
    tables = {
        "Sites": pd.DataFrame(sites),
        "Supply": pd.DataFrame(supply, columns=["site_id", "product", "capacity_t", "unit_cost_usd_per_kg"]).round(4),
        "Recipes": pd.DataFrame(recipes, columns=["product", "input", "input_t_per_t"]),
        "CoProducts": pd.DataFrame(coproducts, columns=["product", "coproduct", "coproduct_t_per_t"]),
        "Lanes": pd.DataFrame(lanes, columns=["from_site", "to_site", "product", "freight_usd_per_kg",
                                              "duty_usd_per_kg", "tariff_pct", "transit_days"]),
        "Demand": pd.DataFrame(demand, columns=["site_id", "product", "quantity_t", "max_lead_time_days",
                                                "max_exposed_share", "shortage_cost_usd_per_kg"]),
        "Settings": pd.DataFrame([("time_limit_s", 600), ("mip_gap", 1e-4)], columns=["key", "value"]),
    }
    if controls:
        tables["Controls"] = pd.DataFrame(
            [("CN", "DYTB_OXIDE", 0.6, 63, 300.0, "yes", "synthetic"),
             ("CN", "DYTB_METAL", 0.6, 63, 300.0, "yes", "synthetic"),
             ("CN", "NDFEB_HT", 0.6, 63, 300.0, "no", "synthetic")],
            columns=["country", "product", "approval_probability", "approval_days", "denial_cost_usd_per_kg",
                     "content_rule", "note"])
    return tables


def write(tables: dict[str, pd.DataFrame], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_csv(folder / f"{name}.csv", index=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--candidates", type=int, default=0)
    ap.add_argument("--density", type=float, default=0.3)
    args = ap.parse_args()
    write(generate(args.scale, args.seed, args.candidates, args.density), args.outdir)


if __name__ == "__main__":
    main()
