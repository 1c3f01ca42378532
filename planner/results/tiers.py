"""Where what is delivered was made, tier by tier: mine, separation, metal, magnet (pure pandas).

Two measures, because the model knows some things exactly and others only on average:

* **Made in each country at each stage, by proportional tracing.** Each plant's
  deliveries are traced up the plan's flows (the Sourcing sheet): a site's
  output is attributed to its suppliers in proportion to what each delivered to
  it, i.e. material is assumed to mix at each site. The share of a stage is the
  tonnes of that stage's products behind the deliveries that come from sites in
  the country, over all tonnes of that stage behind them (by weight).
* **Tonnes that contain any, exactly.** Where the model keeps batches apart
  (license exposure, and content-rule classes when a content rule is in the
  input), the share of delivered tonnes that contain any such material is exact:
  a magnet with 1 % licensed Dy counts whole, as the contract counts it.
"""

from __future__ import annotations

import pandas as pd

from planner.results.report import Plan, _trace

# the production stages in chain order, and how a manager names them
STAGES = ("mine", "refiner", "metal", "magnet")
STAGE_NAMES = {"mine": "mine", "refiner": "separation", "metal": "metal/alloy", "magnet": "magnet"}
METHOD = ("by proportional tracing through the plan's flows, assuming material mixes at each site "
          "(each site's output is attributed to its suppliers in proportion to what each delivered to it), by weight")
COLUMNS = ["plant", "product", "stage", "country", "tonnes", "share"]


def sourcing_of(plan: Plan, net=None) -> pd.DataFrame:  # noqa: ANN001 - planner.optimise.network.Network
    """The plan's Sourcing trace; computed here from its shipments when the plan was built without it."""
    if len(plan.sourcing) or net is None or not len(plan.shipments):
        return plan.sourcing
    return _trace(net, plan.shipments, plan.batches, plan.plants)


def by_country(sourcing: pd.DataFrame) -> pd.DataFrame:
    """Per plant and product, per stage and country: tonnes behind the deliveries and their share of the stage.

    Plant ``"all plants"`` (product ``"all"``) is every plant together.
    """
    if not len(sourcing):
        return pd.DataFrame(columns=COLUMNS)
    s = sourcing[sourcing["stage"].isin(STAGES)]
    per = s.groupby(["plant", "product", "stage", "country"], sort=True)["tonnes"].sum().reset_index()
    tot = s.groupby(["stage", "country"], sort=True)["tonnes"].sum().reset_index()
    tot.insert(0, "product", "all")
    tot.insert(0, "plant", "all plants")
    out = pd.concat([per, tot], ignore_index=True)
    stage_total = out.groupby(["plant", "product", "stage"])["tonnes"].transform("sum")
    out["share"] = (out["tonnes"] / stage_total).where(stage_total > 0, 0.0)
    order = {st: i for i, st in enumerate(STAGES)}
    out["_o"] = out["stage"].map(order)
    out["_all"] = out["plant"] == "all plants"
    out = out.sort_values(["_all", "plant", "product", "_o", "share", "country"],
                          ascending=[True, True, True, True, False, True], kind="mergesort")
    return out.drop(columns=["_o", "_all"]).reset_index(drop=True)[COLUMNS]


def _stage_shares(table: pd.DataFrame, country: str, by_product: bool) -> dict[tuple, dict[str, float | None]]:
    """Per plant (and product, with ``by_product``): for each stage with rows, the sum of the share of the
    rows made in ``country`` (0.0 if none); stages without rows are left out. One pass over the rows, in
    their order: a share that stands alone is itself (NaN as 0, as a masked column's ``sum`` reads it), and
    several are summed by that same pandas ``sum``, so the figures are those of a mask per plant and stage."""
    shares = table["share"]
    keys = list(zip(table["plant"].tolist(), table["product"].tolist(), strict=True)) if by_product else \
        [(p,) for p in table["plant"].tolist()]
    found: dict[tuple, dict[str, list]] = {}
    for key, st, c, v in zip(keys, table["stage"].tolist(), table["country"].tolist(), shares.tolist(), strict=True):
        at = found.setdefault(key, {}).setdefault(st, [])
        if c == country:
            at.append(v)
    out: dict[tuple, dict[str, float | None]] = {}
    for key, stages in found.items():
        out[key] = {st: (0.0 if not vs else (0.0 if vs[0] != vs[0] else float(vs[0])) if len(vs) == 1 else
                         float(pd.Series(vs, dtype=shares.dtype).sum())) for st, vs in stages.items()}
    return out


def country_share(table: pd.DataFrame, country: str = "CN", plant: str = "all plants") -> dict[str, float | None]:
    """Share made in ``country`` at each stage (None: no material of that stage behind the deliveries)."""
    at = _stage_shares(table[table["plant"] == plant], country, by_product=False).get((plant,), {}) \
        if len(table) else {}
    return {st: at.get(st) for st in STAGES}


def plant_shares(table: pd.DataFrame, country: str = "CN") -> pd.DataFrame:
    """One row per plant and product: the share made in ``country`` at each stage (columns named by stage)."""
    t = table[table["plant"] != "all plants"]
    t = t[t["plant"].notna() & t["product"].notna()]  # as groupby leaves out missing keys
    found = _stage_shares(t, country, by_product=True) if len(t) else {}
    rows = []
    for plant, product in sorted(found):  # groupby's order: by plant, then product
        at = found[(plant, product)]
        rows.append({"plant": plant, "product": product, **{st: at.get(st) for st in STAGES}})
    return pd.DataFrame(rows, columns=["plant", "product", *STAGES])


def contains_any(plan: Plan) -> dict[str, float]:
    """Exact shares of delivered tonnes: license-exposed, and containing any content-rule material per country."""
    p, f = plan.plants, plan.flows
    delivered = float(p["delivered_t"].sum()) if len(p) else 0.0
    out = {"exposed": float(p["exposed_t"].sum()) / delivered if delivered > 0 else 0.0}
    if len(f) and len(p):
        into = f[f.set_index(["to_site", "product"]).index.isin(p.set_index(["site_id", "product"]).index)]
        for col in (c for c in f.columns if c.endswith("_content_t")):
            out[col[: -len("_content_t")]] = float(into[col].sum()) / delivered if delivered > 0 else 0.0
    return out


def headline(table: pd.DataFrame, country: str = "CN") -> str:
    """'made in China: mine 12 %, separation 30 %, metal/alloy 61 %, magnet 32 %' (stages with material only)."""
    shares = country_share(table, country)
    parts = [f"{STAGE_NAMES[st]} {100 * v:.0f} %" for st, v in shares.items() if v is not None]
    return ", ".join(parts)
