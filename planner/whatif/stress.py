"""Stress test: lose each supplier (or each country's exports) in turn, re-plan, and rank the losses (pure).

A **supplier** is every site with a ``Supply`` row of some capacity, qualified or candidate: mines and
bought-in feeds (which make their product from nothing) and every refiner, metal maker and magnet maker
(which buy their inputs but are still somebody the buyer depends on, one tier or several up). That is the
multi-tier view of Simchi-Levi et al. (Interfaces 45(5), 2015): every node of the supply network is removed
in turn. Plants are not suppliers. Losing a supplier sets its ``Supply`` capacity to 0 in every row (every
product, every period); its rows stay, so Lanes, Contracts and the rest still name a site that exists.

Losing a **country's exports** bans every shipment from a site of that country to a site in another
country, through the licence machinery (contract v2: a Controls row with ``approval_probability`` 0 is a
ban): every Controls row of that country is set to 0 (route-specific rows govern before the row for every
route, so they must be bans too), and a row for every route with approval 0 is set (or created) for every
product its sites make, in every period. Flows within the country stay.

Each loss is a what-if scenario, run with the batch machinery against the baseline plan (among equally
cheap plans the one closest to the baseline's flows, so the flows that change are caused by the loss).
Losses are ranked by the shortage they cause (tonnes over all plants and periods, against the baseline),
then by the cost they add (USD a year; over a horizon the discounted total).

**Time-to-survive** (TTS) of a plant and product after a loss: how many days the plant's stock lasts.
The loss strikes at the start of the first period (the re-plan is without the supplier from the start), so
the stock on hand is the first period's opening stock, ``Stock.initial_stock_t`` (a one-year input has no
stock: S = 0). Stock the baseline plan would build later is not counted: without the supplier it is not
built. The stock is drawn at the rate the re-plan leaves uncovered by arrivals: each period's demand less
what arrives (its shortage plus what it draws from stock; so the stock is not counted twice), per day of
that period. TTS is the day the cumulative uncovered demand reaches S: S / daily rate when the first
period's rate holds, the next period's rate once a period is covered; past the horizon, the last rate goes
on. ``None`` ("unlimited") when the loss leaves the plant no shorter than the baseline; 0 when it is
short and holds no stock.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from planner.input.data import Inputs
from planner.results.report import Plan
from planner.whatif.batch import Outcome, change_sentence, cost_split, horizon_words
from planner.whatif.scenarios import Change, Scenario

TOL_T = 1e-6  # tonnes below this are solver noise
BY = ("supplier", "country", "both")
TOP_FINDINGS = 3
TAKERS = 3  # sites named as taking over a lost supplier's volume


@dataclass(frozen=True)
class Loss:
    """What one scenario takes away."""

    scenario: str  # the scenario's name: "without SP_MY_LYNAS", "without CN exports"
    kind: str  # supplier or country
    lost_id: str  # site id or country code
    name: str  # display name: the site's name, or "CN exports"
    country: str
    stage: str = ""  # a supplier's stage
    status: str = ""  # a supplier's status (qualified or candidate)


@dataclass
class StressReport:
    ranking: pd.DataFrame  # one row per loss, ranked
    survival: pd.DataFrame  # one row per loss and plant/product it leaves short
    findings: list[str]
    losses: list[Loss]
    per_t: str = "a year"  # what tonnes are for: "a year", or "over 2026-2030"
    per_usd: str = "a year"  # what costs are for ("over 2026-2030, discounted,")
    stock_note: str = ""  # the stock convention, in words, for the workbook


# --------------------------------------------------------------------------- scenarios


def _sites(inputs: Inputs) -> pd.DataFrame:
    """One row per site (a v2 input holds one per period; site attributes are one for the horizon)."""
    return inputs.sites.drop_duplicates("site_id").set_index("site_id")


def suppliers(inputs: Inputs) -> list[str]:
    """Every site with a Supply row of positive capacity in some period, by site id."""
    sup = inputs.supply
    return sorted(set(sup.loc[sup["capacity_t"].astype(float) > 0, "site_id"].astype(str)))


def exporting_countries(inputs: Inputs) -> list[str]:
    """The countries of the suppliers, by code."""
    sites = _sites(inputs)
    return sorted({str(sites.at[s, "country"]) for s in suppliers(inputs)})


def supplier_loss(inputs: Inputs, site: str) -> tuple[Loss, Scenario]:
    s = _sites(inputs).loc[site]
    loss = Loss(f"without {site}", "supplier", site, str(s["name"] or site), str(s["country"]), str(s["stage"]),
                str(s["status"]))
    return loss, Scenario(loss.scenario, (Change("Supply", f"{site}/*", "capacity_t", "set", 0.0),))


def country_loss(inputs: Inputs, country: str) -> tuple[Loss, Scenario]:
    sites = _sites(inputs)
    own = set(sites.index[sites["country"].astype(str) == country])
    sup = inputs.supply
    products = sorted(set(sup.loc[sup["site_id"].isin(own) & (sup["capacity_t"].astype(float) > 0), "product"]
                          .astype(str)))
    changes: list[Change] = []
    ctrl = inputs.controls
    if len(ctrl) and (ctrl["country"].astype(str) == country).any():
        # every row of the country, whatever its route (a route's own row governs before the row for every route)
        changes.append(Change("Controls", f"{country}/*/*/*/*", "approval_probability", "set", 0.0))
    periods = inputs.period_ids if inputs.periods is not None else [""]
    for p in products:
        for t in periods:  # a period's own row replaces the blank one there: one per period
            changes.append(Change("Controls", f"{country}/{p}", "approval_probability", "set", 0.0, period=t))
    loss = Loss(f"without {country} exports", "country", country, f"{country} exports", country)
    return loss, Scenario(loss.scenario, tuple(changes))


def stress_scenarios(inputs: Inputs, by: str = "supplier") -> tuple[list[Loss], list[Scenario]]:
    """One scenario per supplier (``by="supplier"``), per exporting country (``"country"``), or both."""
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}, got {by!r}")
    pairs = []
    if by in ("supplier", "both"):
        pairs += [supplier_loss(inputs, s) for s in suppliers(inputs)]
    if by in ("country", "both"):
        pairs += [country_loss(inputs, c) for c in exporting_countries(inputs)]
    return [lo for lo, _ in pairs], [sc for _, sc in pairs]


# --------------------------------------------------------------------------- reading the re-plans


def _period_days(inputs: Inputs) -> list[tuple[str, float]]:
    if inputs.periods is None:
        return [("", 365.0)]
    return [(str(t), float(d)) for t, d in zip(inputs.periods["period"], inputs.periods["days"], strict=True)]


def _plant_periods(p: Plan) -> pd.DataFrame:
    """Per plant, product and period: shortage, and what arrivals leave uncovered (shortage + net stock draw)."""
    f = p.plants
    out = pd.DataFrame({
        "period": f["period"].astype(str) if "period" in f else "",
        "site_id": f["site_id"].astype(str), "product": f["product"].astype(str),
        "shortage_t": f["shortage_t"].astype(float),
    })
    if "received_t" in f:  # a plan with stock: delivered = received + usable opening - usable closing
        out["uncovered_t"] = f["demand_t"].astype(float) - f["received_t"].astype(float)
    else:
        out["uncovered_t"] = out["shortage_t"]
    return out


def initial_stock(inputs: Inputs) -> dict[tuple[str, str], float]:
    st = inputs.stock
    if st is None or not len(st):
        return {}
    out: dict[tuple[str, str], float] = {}
    for r in st.itertuples(index=False):
        v = r.initial_stock_t
        out[(str(r.site_id), str(r.product))] = 0.0 if v is None or pd.isna(v) else float(v)
    return out


def time_to_survive(stock_t: float, uncovered: list[tuple[float, float]]) -> float | None:
    """Days until ``stock_t`` is used up, given each period's (uncovered tonnes, days) in time order.

    ``None`` when it never is (nothing uncovered). Past the horizon the last period's rate goes on.
    """
    if not any(u > TOL_T for u, _ in uncovered):
        return None
    if stock_t <= TOL_T:
        return 0.0
    left, elapsed, rate = stock_t, 0.0, 0.0
    for u, days in uncovered:
        r = u / days if days > 0 else 0.0
        if r > 0:
            rate = r
            if u >= left:
                return elapsed + left / r
        left -= u  # a period that arrives more than it uses builds the stock back up
        elapsed += days
    return elapsed + left / rate if rate > 0 else None


def _shipped(p: Plan, loss: Loss) -> pd.Series:
    """Tonnes the lost supplier (or country, across its borders) ships, by product, over the periods."""
    f = p.flows
    if not len(f):
        return pd.Series(dtype=float)
    if loss.kind == "supplier":
        m = f["from_site"].astype(str) == loss.lost_id
    else:
        m = (f["from_country"].astype(str) == loss.lost_id) & (f["to_country"].astype(str) != loss.lost_id)
    return f[m].groupby("product", sort=True)["tonnes"].sum()


def _by_sender(p: Plan) -> pd.Series:
    f = p.flows
    if not len(f):
        return pd.Series(dtype=float)
    return f.groupby([f["from_site"].astype(str), f["product"].astype(str)], sort=True)["tonnes"].sum()


def takers(base: Plan, re: Plan, loss: Loss, names: dict[str, str], sites: pd.DataFrame) -> list[str]:
    """Who takes over from the lost supplier in the re-plan: the sites whose shipments grow most, preferring
    those shipping the products it shipped, then those of its stage (a lost mine is replaced by another
    mine's feed, a different product)."""
    delta = _by_sender(re).subtract(_by_sender(base), fill_value=0.0)
    delta = delta[delta > TOL_T]
    if not len(delta):
        return []
    frm = delta.index.get_level_values(0)
    if loss.kind == "supplier":
        delta = delta[frm != loss.lost_id]
    else:
        country = sites["country"].astype(str).reindex(frm).to_numpy()
        delta = delta[country != loss.lost_id]
    lost_products = set(_shipped(base, loss).index)
    same = delta[delta.index.get_level_values(1).isin(lost_products)]
    if not len(same) and loss.kind == "supplier":
        stage = sites["stage"].astype(str).reindex(delta.index.get_level_values(0)).to_numpy()
        same = delta[stage == loss.stage]
    pick = same if len(same) else delta
    per_site: dict[str, list[tuple[str, float]]] = {}
    for (s, prod), t in pick.items():
        per_site.setdefault(s, []).append((prod, float(t)))
    order = sorted(per_site.items(), key=lambda kv: (-round(sum(t for _, t in kv[1]), 6), kv[0]))[:TAKERS]
    out = []
    for s, items in order:
        items.sort(key=lambda it: (-round(it[1], 6), it[0]))
        out.append(f"{names.get(s, s)} ({', '.join(f'+{t:,.1f} t {prod}' for prod, t in items[:2])})")
    return out


def _per_words(inputs: Inputs) -> str:
    """What tonnes are for: a year, or the horizon's periods."""
    ids = inputs.period_ids
    if inputs.periods is None:
        return "a year"
    return f"over {ids[0]}" if len(ids) == 1 else f"over {ids[0]}-{ids[-1]}"


def _tts_text(days: float | None) -> str:
    return "unlimited" if days is None else f"{days:,.0f} days"


def _stock_words(stock_t: float, tts: float | None) -> str:
    if stock_t <= TOL_T:
        return "it holds no stock there, so it is short from the first day"
    return f"with the {stock_t:,.1f} t in stock it lasts {_tts_text(tts)}"


def stress_report(inputs: Inputs, losses: list[Loss], outcomes: list[Outcome]) -> StressReport:
    """Rank the losses and work out each plant's time-to-survive. ``outcomes``: ``run_batch``'s, baseline first,
    then one per loss in the order of ``losses``."""
    base = outcomes[0].plan
    assert base is not None, "the baseline must be planned"
    sites = _sites(inputs)
    names = {str(k): str(v or k) for k, v in sites["name"].items()}
    days = _period_days(inputs)
    order = [t for t, _ in days]
    stock = initial_stock(inputs)
    per_t = _per_words(inputs)
    per_usd = horizon_words(base)
    bp = _plant_periods(base)
    b_short = bp.groupby(["site_id", "product"], sort=True)["shortage_t"].sum()
    b_total = float(base.summary["shortage_t"])
    b_cost = float(base.summary["total_cost_usd"])
    b_split = cost_split(base)
    rows, surv = [], []
    for i, (loss, o) in enumerate(zip(losses, outcomes[1:], strict=True)):
        shipped = _shipped(base, loss)
        row: dict[str, object] = {
            "order": i, "lost": loss.name, "kind": loss.kind, "lost_id": loss.lost_id, "country": loss.country,
            "stage": loss.stage, "supplier_status": loss.status, "status": o.status,
            "baseline_shipped_t": float(shipped.sum()), "scenario": loss.scenario, "message": o.message,
        }
        p = o.plan
        if p is None:
            row["effect"] = "failed"
            why = o.message if not o.findings else o.message + ": " + " | ".join(o.findings)
            row["reading"] = f"Could not be planned without {loss.name}: {why}"
            rows.append(row)
            continue
        split = {k: v - b_split[k] for k, v in cost_split(p).items()}
        delta_cost = float(p.summary["total_cost_usd"]) - b_cost
        short_total = float(p.summary["shortage_t"]) - b_total
        rp = _plant_periods(p)
        added = rp.groupby(["site_id", "product"], sort=True)["shortage_t"].sum().subtract(b_short, fill_value=0.0)
        hit = added[added > TOL_T]
        plant_rows = []
        for (plant, product), t in hit.items():
            g = rp[(rp["site_id"] == plant) & (rp["product"] == product)].set_index("period")
            bg = bp[(bp["site_id"] == plant) & (bp["product"] == product)].set_index("period")
            seq = [(float(g.at[tp, "uncovered_t"]) if tp in g.index else 0.0, d) for tp, d in days]
            s = stock.get((plant, product), 0.0)
            tts = time_to_survive(s, seq)
            short_more = [tp for tp in order if tp in g.index and float(g.at[tp, "shortage_t"])
                          - (float(bg.at[tp, "shortage_t"]) if tp in bg.index else 0.0) > TOL_T]
            first = next((k for k, (u, _) in enumerate(seq) if u > TOL_T), None)
            rate = seq[first][0] / seq[first][1] if first is not None and seq[first][1] > 0 else 0.0
            plant_rows.append({
                "lost": loss.name, "kind": loss.kind, "lost_id": loss.lost_id, "plant": plant,
                "plant_name": names.get(plant, plant), "product": product, "shortage_t": float(t),
                "first_short_period": short_more[0] if short_more else "", "stock_t": s,
                "uncovered_t_per_day": rate, "time_to_survive_days": tts, "time_to_survive": _tts_text(tts),
            })
        worst = max(plant_rows, key=lambda r: (round(r["shortage_t"], 6), _neg(r["plant"]), _neg(r["product"])),
                    default=None)
        take = takers(base, p, loss, names, sites)
        if _no_effect(delta_cost, short_total, b_cost):
            effect = "none"
        else:
            effect = "shortage" if short_total > TOL_T or plant_rows else "cost"
        row.update({
            "effect": effect,
            "shortage_t": short_total, "delta_cost_usd": delta_cost, "delta_cash_usd": split["cash"],
            "delta_shortage_penalty_usd": split["shortage"], "delta_license_risk_usd": split["license_risk"],
            "plants_short": len(plant_rows), "taken_over_by": "; ".join(take),
        })
        if worst is not None:
            row.update({"worst_plant": worst["plant"], "worst_plant_name": worst["plant_name"],
                        "worst_product": worst["product"], "worst_plant_shortage_t": worst["shortage_t"],
                        "stock_t": worst["stock_t"], "time_to_survive_days": worst["time_to_survive_days"],
                        "time_to_survive": worst["time_to_survive"]})
        else:
            row["time_to_survive"] = "unlimited"
        row["reading"] = _reading(loss, row, worst, take, split, delta_cost, short_total, per_t, per_usd,
                                  float(shipped.sum()))
        rows.append(row)
        surv += plant_rows
    ranking = _ranked(pd.DataFrame(rows))
    rank_of = dict(zip(ranking["lost"], ranking["rank"], strict=True))
    survival = pd.DataFrame(surv, columns=SURVIVAL_COLUMNS[1:])
    if len(survival):
        survival["rank"] = [rank_of[x] for x in survival["lost"]]
        key = survival["time_to_survive_days"].astype(float).fillna(float("inf"))
        survival = survival.assign(_k=key, _s=-survival["shortage_t"].round(6)).sort_values(
            ["_k", "_s", "rank", "plant", "product"], kind="mergesort").drop(columns=["_k", "_s"])
    survival = survival.reindex(columns=SURVIVAL_COLUMNS).reset_index(drop=True)
    return StressReport(ranking, survival, findings(ranking, per_t, per_usd), losses, per_t, per_usd,
                        stock_convention(inputs))


def stock_convention(inputs: Inputs) -> str:
    if inputs.periods is None:
        return "a one-year input holds no stock, so a plant the loss leaves short is short from the first day (0)."
    return ("the stock is the first period's opening stock (Stock initial_stock_t): the loss strikes at the start, "
            "and stock the baseline would build later is not there without the supplier.")


def _neg(text: str) -> tuple[int, ...]:
    """A key that orders text backwards (max() then picks the first id among equals)."""
    return tuple(-ord(c) for c in text)


RANKING_COLUMNS = [
    "rank", "lost", "kind", "lost_id", "country", "stage", "supplier_status", "status", "effect", "shortage_t",
    "delta_cost_usd", "delta_cash_usd", "delta_shortage_penalty_usd", "delta_license_risk_usd", "worst_plant",
    "worst_plant_name", "worst_product", "worst_plant_shortage_t", "stock_t", "time_to_survive_days",
    "time_to_survive", "plants_short", "baseline_shipped_t", "taken_over_by", "reading", "scenario", "message",
]
SURVIVAL_COLUMNS = [
    "rank", "lost", "kind", "lost_id", "plant", "plant_name", "product", "shortage_t", "first_short_period",
    "stock_t", "uncovered_t_per_day", "time_to_survive_days", "time_to_survive",
]


def _ranked(frame: pd.DataFrame) -> pd.DataFrame:
    """Most shortage caused first, then most cost added; losses that could not be planned last."""
    if not len(frame):
        return pd.DataFrame(columns=RANKING_COLUMNS)
    frame = frame.reindex(columns=[*RANKING_COLUMNS, "order"])
    planned = frame["shortage_t"].notna()
    key = frame.assign(
        _p=(~planned).astype(int),
        # a loss that shifts the mix may leave less short than the baseline: it causes no shortage (0), and
        # ranks by its cost like any other
        _s=-pd.to_numeric(frame["shortage_t"], errors="coerce").round(6).fillna(0.0).clip(lower=0.0),
        _c=-pd.to_numeric(frame["delta_cost_usd"], errors="coerce").round(2).fillna(0.0),
    ).sort_values(["_p", "_s", "_c", "order"], kind="mergesort")
    out = key.drop(columns=["_p", "_s", "_c", "order"]).reset_index(drop=True)
    out["rank"] = pd.array([k + 1 if ok else None for k, ok in enumerate(planned[key.index])], dtype="Int64")
    return out


def _no_effect(delta_cost: float, short_total: float, base_cost: float) -> bool:
    return abs(short_total) <= TOL_T and abs(delta_cost) <= 1e-7 * max(abs(base_cost), 1.0) + 1.0


def _reading(loss: Loss, row: dict, worst: dict | None, take: list[str], split: dict[str, float],
             delta_cost: float, short_total: float, per_t: str, per_usd: str, moved: float) -> str:
    """The sentence of one loss: what it does, or why it does nothing."""
    if row["effect"] == "none":
        if moved <= TOL_T:
            if loss.kind == "country":
                return f"No effect: no site in {loss.country} ships abroad in the baseline plan."
            unused = " (a candidate the baseline does not qualify)" if loss.status == "candidate" else ""
            return f"No effect: {loss.name} supplies nothing in the baseline plan{unused}."
        if take:
            return (f"No effect: the {moved:,.1f} t {loss.name} ships in the baseline are taken over at the same "
                    f"cost by {', '.join(take)}.")
        return f"No effect: the plan finds an equally cheap mix without {loss.name}."
    cost = change_sentence(delta_cost, split, short_total, per_usd)
    if worst is None:
        text = f"Losing {loss.name}: no plant goes short. {cost}."
    else:
        more = int(row["plants_short"]) - 1
        others = f" ({short_total:,.1f} t short in all, at {more + 1} plants and products)" if more > 0 else ""
        text = (f"Losing {loss.name} leaves {worst['plant_name']} {worst['shortage_t']:,.1f} t of {worst['product']} "
                f"short {per_t}{others}; {_stock_words(float(worst['stock_t']), worst['time_to_survive_days'])}. "
                f"{cost}.")
    if take:
        text += f" Taking over: {', '.join(take)}."
    return text


def findings(ranking: pd.DataFrame, per_t: str, per_usd: str) -> list[str]:
    """The top three risks in plain words, then how many losses do what."""
    out = []
    planned = ranking[ranking["rank"].notna()] if len(ranking) else ranking
    hurts = planned[planned["effect"] != "none"] if len(planned) else planned
    for r in hurts.head(TOP_FINDINGS).itertuples(index=False):
        cost = f"{r.delta_cost_usd / 1e6:+,.1f} M USD {per_usd.rstrip(',')}"
        if isinstance(r.worst_plant, str) and r.worst_plant:
            out.append(f"Losing {r.lost} leaves {r.worst_plant_name} {r.worst_plant_shortage_t:,.1f} t of "
                       f"{r.worst_product} short {per_t} ({cost}; {r.shortage_t:,.1f} t short in all); "
                       f"{_stock_words(float(r.stock_t), _days(r.time_to_survive_days))}.")
        else:
            take = f": {r.taken_over_by} take over" if r.taken_over_by else ""
            out.append(f"Losing {r.lost} costs {cost}; no plant goes short{take}.")
    if not len(hurts):
        out.append("No single loss leaves a plant short or costs more: every supplier can be replaced at the same "
                   "cost.")
    n = len(ranking)
    short = int((planned["effect"] == "shortage").sum()) if len(planned) else 0
    none = planned[planned["effect"] == "none"] if len(planned) else planned
    unused = none[none["baseline_shipped_t"].astype(float) <= TOL_T]
    absorbed = none[none["baseline_shipped_t"].astype(float) > TOL_T]
    costly = len(planned) - short - len(none)
    n_sup = int((ranking["kind"] == "supplier").sum()) if n else 0
    what = [f"{n_sup} suppliers" if n_sup else "", f"{n - n_sup} countries' exports" if n - n_sup else ""]
    text = (f"Of {' and '.join(w for w in what if w) or 'no suppliers'} lost in turn, {short} leave a plant short, "
            f"{costly} only cost more and {len(none)} change nothing")
    parts = []
    if len(unused):
        parts.append(f"unused in the baseline: {_list(unused['lost'])}")
    if len(absorbed):
        parts.append(f"others absorb them at the same cost: {_list(absorbed['lost'])}")
    out.append(text + (f" ({'; '.join(parts)})" if parts else "") + ".")
    failed = ranking[ranking["rank"].isna()] if len(ranking) else ranking
    if len(failed):
        out.append(f"{len(failed)} could not be planned: {_list(failed['lost'])} (see the message column).")
    return out


def _days(v: object) -> float | None:
    return None if v is None or (isinstance(v, float) and pd.isna(v)) else float(v)  # type: ignore[arg-type]


def _list(names: pd.Series, most: int = 8) -> str:
    items = [str(x) for x in names]
    return ", ".join(items[:most]) + (f" and {len(items) - most} more" if len(items) > most else "")


def json_rows(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as plain JSON values (None for blanks)."""
    out = []
    for rec in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        out.append({k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()})
    return out
