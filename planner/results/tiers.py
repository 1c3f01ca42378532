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


def country_share(table: pd.DataFrame, country: str = "CN", plant: str = "all plants") -> dict[str, float | None]:
    """Share made in ``country`` at each stage (None: no material of that stage behind the deliveries)."""
    out: dict[str, float | None] = {}
    for st in STAGES:
        rows = table[(table["plant"] == plant) & (table["stage"] == st)]
        out[st] = float(rows.loc[rows["country"] == country, "share"].sum()) if len(rows) else None
    return out


def plant_shares(table: pd.DataFrame, country: str = "CN") -> pd.DataFrame:
    """One row per plant and product: the share made in ``country`` at each stage (columns named by stage)."""
    rows = []
    for (plant, product), g in table[table["plant"] != "all plants"].groupby(["plant", "product"], sort=True):
        row: dict[str, object] = {"plant": plant, "product": product}
        for st in STAGES:
            at = g[g["stage"] == st]
            row[st] = float(at.loc[at["country"] == country, "share"].sum()) if len(at) else None
        rows.append(row)
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
