"""Synthetic contract inputs of a chosen size, shaped like the reference case.

Tiers mine -> refiner -> metal -> magnet -> plant with the reference products
(REO_CONC -> NDPR_OXIDE (+ DYTB_OXIDE coproduct) -> NDPR_METAL / DYTB_METAL ->
NDFEB_ALLOY -> NDFEB_STD / NDFEB_HT), a share of Chinese sites under export
controls with the content rule on, lead-time limits at the plants, and a few
candidate sites. Lanes connect each site to a random subset of the next tier.

Two profiles (``--profile``):

* ``representative`` (the default): calibrated so that the rules bind as they do in
  ``inputs/rare_earth_magnets.xlsx``: capacity outside China is scarce where it is there (Dy/Tb
  oxide and high-grade magnets), so capacity rows bind at the clean sources; Chinese supply is
  plentiful and cheap but carries the bundled case's approval odds and denial costs, so the
  objective is mostly product and expected denial loss, and a few per cent of demand goes short;
  plants' lead-time limits are close to their routes' days (the 63 approval days cut some routes),
  a tenth of the plants take no exposed supply and a fifth cap it, and the content rule applies to
  Dy/Tb. ``calibration()`` measures these properties; tests/test_generate.py holds them.
* ``legacy``: the generator before issue 16, kept as a named regression (bench/RESULTS.md quotes it):
  45 % short at scale 23, 96 % of its objective shortage penalty, lead-time limits that do not
  change the optimum, no exposure caps.

Usage: python bench/generate.py OUTDIR --scale N [--seed S] [--candidates K] [--profile P]
(variables grow roughly with N^2 through the lanes).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

PROFILES = ("representative", "legacy")
TIERS = ("mine", "refiner", "metal", "magnet", "plant")
COUNTRIES = np.array(["CN", "AU", "US", "MY", "JP", "DE", "KR", "VN", "BR", "FR"])
LANE_COLUMNS = ["from_site", "to_site", "product", "freight_usd_per_kg", "duty_usd_per_kg", "tariff_pct",
                "transit_days"]
DEMAND_COLUMNS = ["site_id", "product", "quantity_t", "max_lead_time_days", "max_exposed_share",
                  "shortage_cost_usd_per_kg"]
DY_SITES = 0.6  # representative profile: the share of refiners outside China that separate Dy/Tb
CN_CAPACITY = 3.0  # representative profile: Chinese capacity per product, as a multiple of the demand's need
CONTROL_COLUMNS = ["country", "product", "approval_probability", "approval_days", "denial_cost_usd_per_kg",
                   "content_rule", "note"]


def generate(scale: int, seed: int = 1, candidates: int = 0, density: float = 0.3,
             lead_times: bool = True, controls: bool = True,
             limit_days: tuple[int, ...] | None = None, profile: str = "representative") -> dict[str, pd.DataFrame]:
    """The input tables of one synthetic case. ``limit_days``: the plants' lead-time limits are drawn from
    these values (sourcing policies use a few, e.g. 120/180/270 days); by default each plant gets its own
    random limit (legacy: 200-319 days, the worst case for the number of lead-time buckets)."""
    if profile == "representative":
        return _representative(scale, seed, candidates, density, lead_times, controls, limit_days)
    if profile != "legacy":
        raise ValueError(f"profile {profile!r}: one of {', '.join(PROFILES)}")
    rng = np.random.default_rng(seed)
    sites, ids = _sites(rng, scale, candidates, cn_share={}, processing={t: (5, 40) for t in TIERS[:-1]})
    cheap = {s["site_id"]: 0.7 if s["country"] == "CN" else 1.0 for s in sites}
    supply = []
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
    lanes = _lanes(rng, sites, ids, density, other_freight=(0.1, 0.6), other_days=(7, 45))
    demand = []
    for p in ids["plant"]:
        qty = float(rng.integers(100, 1500))
        limit = int(rng.integers(200, 320)) if lead_times else None
        if lead_times and limit_days:
            limit = int(limit_days[int(rng.integers(0, len(limit_days)))])
        demand.append((p, "NDFEB_HT", round(qty * 0.7), limit, None, 2000.0))
        demand.append((p, "NDFEB_STD", round(qty * 0.3), limit, None, 2000.0))
    ctrl = [("CN", "DYTB_OXIDE", 0.6, 63, 300.0, "yes", "synthetic"),
            ("CN", "DYTB_METAL", 0.6, 63, 300.0, "yes", "synthetic"),
            ("CN", "NDFEB_HT", 0.6, 63, 300.0, "no", "synthetic")]
    return _tables(sites, supply, _recipes(0.03), [("NDPR_OXIDE", "DYTB_OXIDE", 0.02)], lanes, demand,
                   ctrl if controls else None)


def _representative(scale: int, seed: int, candidates: int, density: float, lead_times: bool, controls: bool,
                    limit_days: tuple[int, ...] | None) -> dict[str, pd.DataFrame]:
    """The calibrated profile (see the module's docstring). Figures after the bundled case: unit costs per
    stage, the Dy/Tb content of high-grade magnets (0.02 t/t), China's approval odds, days and denial
    costs, the shortage cost (800 USD/kg), processing days of 1-3 months at refiners."""
    rng = np.random.default_rng(seed)
    sites, ids = _sites(rng, scale, candidates, cn_share={"mine": 0.4, "refiner": 0.5, "metal": 0.5, "magnet": 0.4,
                                                          "plant": 0.0},
                        processing={"mine": (5, 30), "refiner": (30, 90), "metal": (15, 45), "magnet": (20, 60)})
    cn = {s["site_id"]: s["country"] == "CN" for s in sites}
    cheap = {s: 0.7 if c else 1.0 for s, c in cn.items()}
    n_plants = len(ids["plant"])
    qty = rng.integers(100, 1500, size=n_plants).astype(float)
    # what the demand needs of each product (t), and the capacity outside and inside China as multiples of it:
    # outside China, Dy/Tb oxide covers under half of the need and alloy and high-grade magnets about all of
    # it (as in the bundled case); China could supply everything several times over
    total = qty.sum()
    need = {"NDFEB_HT": 0.7 * total, "NDFEB_STD": 0.3 * total, "NDFEB_ALLOY": 1.4 * total}
    need["NDPR_METAL"] = 0.31 * need["NDFEB_ALLOY"]
    need["NDPR_OXIDE"] = 1.2 * need["NDPR_METAL"]
    need["REO_CONC"] = 5.26 * need["NDPR_OXIDE"]
    need["DYTB_METAL"] = 0.02 * need["NDFEB_HT"]
    need["DYTB_OXIDE"] = 1.2 * need["DYTB_METAL"]
    clean_share = {"REO_CONC": 2.0, "NDPR_OXIDE": 1.5, "DYTB_OXIDE": 0.45, "NDPR_METAL": 1.2, "DYTB_METAL": 2.0,
                   "NDFEB_ALLOY": 1.0, "NDFEB_HT": 1.0, "NDFEB_STD": 2.0}
    cost = {"REO_CONC": 8.0, "NDPR_OXIDE": 75.0, "DYTB_OXIDE": 420.0, "NDPR_METAL": 14.0, "DYTB_METAL": 25.0,
            "NDFEB_ALLOY": 10.0, "NDFEB_HT": 30.0, "NDFEB_STD": 20.0}
    made = {"mine": ["REO_CONC"], "refiner": ["NDPR_OXIDE", "DYTB_OXIDE"],
            "metal": ["NDPR_METAL", "DYTB_METAL", "NDFEB_ALLOY"], "magnet": ["NDFEB_STD", "NDFEB_HT"]}
    supply = []
    for stage, products in made.items():
        for q in products:
            home = [s for s in ids[stage] if cn[s]]
            away = [s for s in ids[stage] if not cn[s]]
            for s in ids[stage]:
                many = len(home) if cn[s] else len(away) * (DY_SITES if q == "DYTB_OXIDE" else 1.0)
                cap = need[q] * (CN_CAPACITY if cn[s] else clean_share[q]) / many * rng.uniform(0.5, 1.5)
                # Dy/Tb separation is at some refiners only (outside China; in China at all)
                if q != "DYTB_OXIDE" or cn[s] or rng.random() < DY_SITES:
                    supply.append((s, q, round(cap, 1), cost[q] * cheap[s] * rng.uniform(0.75, 1.5)))
    lanes = _lanes(rng, sites, ids, density, other_freight=(0.1, 0.35), other_days=(7, 42), least=3, domestic=True)
    demand = []
    for i, p in enumerate(ids["plant"]):
        limit = int(rng.integers(250, 340)) if lead_times else None
        if lead_times and limit_days:
            limit = int(limit_days[int(rng.integers(0, len(limit_days)))])
        u = rng.random()
        cap = 0.0 if u < 0.1 else round(float(rng.uniform(0.2, 0.5)), 2) if u < 0.3 else None
        demand.append((p, "NDFEB_HT", round(qty[i] * 0.7), limit, cap, None))
        demand.append((p, "NDFEB_STD", round(qty[i] * 0.3), limit, cap, None))
    ctrl = [("CN", "DYTB_OXIDE", 0.6, 63, 33333.0, "yes", "synthetic, as the bundled case"),
            ("CN", "DYTB_METAL", 0.6, 63, 40000.0, "yes", "synthetic, as the bundled case"),
            ("CN", "NDFEB_HT", 0.6, 63, 800.0, "no", "synthetic, as the bundled case")]
    return _tables(sites, supply, _recipes(0.02), [("NDPR_OXIDE", "DYTB_OXIDE", 0.05)], lanes, demand,
                   ctrl if controls else None, settings=[("shortage_cost_usd_per_kg", 800.0)])


def _sites(rng: np.random.Generator, scale: int, candidates: int, cn_share: dict[str, float],
           processing: dict[str, tuple[int, int]]) -> tuple[list[dict], dict[str, list[str]]]:
    """Sites per tier (a share ``cn_share`` of them in China, 0.4 where not given), and ``candidates`` of
    them (plants never) candidate sites with a qualification cost."""
    tiers = {"mine": 2 * scale, "refiner": scale, "metal": scale, "magnet": 2 * scale, "plant": 3 * scale}
    sites: list[dict] = []
    ids: dict[str, list[str]] = {}
    for stage, n in tiers.items():
        ids[stage] = []
        for i in range(n):
            sid = f"{stage[:3].upper()}{i:05d}"
            c = "CN" if rng.random() < cn_share.get(stage, 0.4) else str(rng.choice(COUNTRIES[1:]))
            days = processing.get(stage)
            sites.append({"site_id": sid, "company": f"CO{rng.integers(0, max(2, n // 2)):04d}", "country": c,
                          "stage": stage, "status": "qualified", "qualification_cost_usd": 0.0, "min_volume_t": 0.0,
                          "processing_days": int(rng.integers(*days)) if days else 0})
            ids[stage].append(sid)
    cand = rng.choice(len(sites) - tiers["plant"], size=min(candidates, len(sites) - tiers["plant"]), replace=False)
    for k in cand:
        sites[int(k)]["status"] = "candidate"
        sites[int(k)]["qualification_cost_usd"] = float(rng.integers(1, 20)) * 1e5
    return sites, ids


def _recipes(dy_per_t: float) -> list[tuple[str, str, float]]:
    return [("NDPR_OXIDE", "REO_CONC", 5.26), ("NDPR_METAL", "NDPR_OXIDE", 1.2), ("DYTB_METAL", "DYTB_OXIDE", 1.2),
            ("NDFEB_ALLOY", "NDPR_METAL", 0.31), ("NDFEB_STD", "NDFEB_ALLOY", 1.4),
            ("NDFEB_HT", "NDFEB_ALLOY", 1.4), ("NDFEB_HT", "DYTB_METAL", dy_per_t)]


def _lanes(rng: np.random.Generator, sites: list[dict], ids: dict[str, list[str]], density: float,
           other_freight: tuple[float, float], other_days: tuple[int, int], least: int = 1,
           domestic: bool = False) -> list[tuple]:
    """Each site to a random ``density`` of the next tier (at least ``least`` sites): within a country 0.05
    USD/kg and 2-7 days, across borders the given ranges; and each metal maker's internal transfer of NdPr
    metal to its alloy line. ``domestic``: a Chinese site also ships to one Chinese site of the next tier
    (China's chain is integrated; without it, small cases have no licence-free Chinese route at all)."""
    lanes = []
    country = {s["site_id"]: s["country"] for s in sites}
    for a, b in zip(TIERS, TIERS[1:], strict=False):
        home = [t for t in ids[b] if country[t] == "CN"]
        for f in ids[a]:
            k = min(len(ids[b]), max(least, int(density * len(ids[b]))))
            to = rng.choice(ids[b], size=k, replace=False)
            if domestic and country[f] == "CN" and home and not any(country[t] == "CN" for t in to):
                to = [*to, home[int(rng.integers(0, len(home)))]]
            for t in to:
                same = country[f] == country[t]
                lanes.append((f, t, "", round(0.05 if same else rng.uniform(*other_freight), 3), 0.0, 0.0,
                              int(rng.integers(2, 8)) if same else int(rng.integers(*other_days))))
    for f in ids["metal"]:  # integrated metal and alloy lines: an explicit internal transfer
        lanes.append((f, f, "NDPR_METAL", 0.0, 0.0, 0.0, 0))
    return lanes


def _tables(sites: list[dict], supply: list[tuple], recipes: list[tuple], coproducts: list[tuple],
            lanes: list[tuple], demand: list[tuple], controls: list[tuple] | None,
            settings: list[tuple] = ()) -> dict[str, pd.DataFrame]:
    tables = {
        "Sites": pd.DataFrame(sites),
        "Supply": pd.DataFrame(supply, columns=["site_id", "product", "capacity_t", "unit_cost_usd_per_kg"]).round(4),
        "Recipes": pd.DataFrame(recipes, columns=["product", "input", "input_t_per_t"]),
        "CoProducts": pd.DataFrame(coproducts, columns=["product", "coproduct", "coproduct_t_per_t"]),
        "Lanes": pd.DataFrame(lanes, columns=LANE_COLUMNS),
        "Demand": pd.DataFrame(demand, columns=DEMAND_COLUMNS),
        "Settings": pd.DataFrame([("time_limit_s", 600), ("mip_gap", 1e-4), *settings], columns=["key", "value"]),
    }
    if controls is not None:
        tables["Controls"] = pd.DataFrame(controls, columns=CONTROL_COLUMNS)
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
    ap.add_argument("--profile", choices=PROFILES, default="representative")
    args = ap.parse_args()
    write(generate(args.scale, args.seed, args.candidates, args.density, profile=args.profile), args.outdir)


if __name__ == "__main__":
    main()
