"""The plan against licence regimes, read: each regime's plan, the cost distribution, and what the hedge buys.

Each regime's plan is read with the horizon report on its share of the solution (so every figure means
what it means in a deterministic plan). What the regimes add, for a sourcing manager:

* cost, shortage and exposure in each regime, the expected cost, CVaR and the worst regime;
* the **value of the stochastic solution** (VSS): what the deterministic plan (the input as it stands,
  licence risk as an expected loss) costs when its qualifications meet every regime, minus what this plan
  costs; and the **expected value of perfect information** (EVPI): this plan's cost minus what it would
  cost if the regime were known before deciding. Both in the objective's terms (expected cost plus
  risk_aversion x CVaR), so both are never negative for an optimal plan;
* the **hedges**: qualifications this plan makes (or makes earlier), volumes it reserves and stock it
  holds before a shock, that the deterministic plan does not; each with the regimes it protects against:
  those whose plan with perfect information takes it too (starts as early, reserves or holds more than
  the deterministic plan); else the regime where this plan saves most.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from planner.optimise.regimes import RegimeModel, cvar
from planner.results.report import Plan


@dataclass
class RegimeAnswer:
    """What the plan against regimes answers, beside each regime's plan."""

    names: list[str]
    probabilities: np.ndarray
    questions: list[str]
    plans: list[Plan]  # each regime's plan (one period "": a one-year input's regime)
    costs: np.ndarray  # each regime's cost, USD (discounted over a horizon)
    risk_aversion: float
    alpha: float
    # the deterministic plan's qualifications met by every regime (None when not evaluated)
    ev_costs: np.ndarray | None = None
    ws_costs: np.ndarray | None = None  # each regime planned with perfect information
    ev_starts: dict[str, str] = field(default_factory=dict)  # site -> period the deterministic plan starts it
    ws_starts: list[dict[str, str]] = field(default_factory=list)
    # per regime planned with perfect information: its stock table and its tonnes a year per Reservations row
    ws_held: list[tuple[pd.DataFrame, dict[int, float]]] = field(default_factory=list)
    ev_stock: pd.DataFrame | None = None  # the deterministic plan's stock in the periods before any shock
    ev_reserved: dict[int, float] = field(default_factory=dict)  # Reservations row -> t/yr the deterministic plan
    status: str = ""

    @property
    def expected(self) -> float:
        return float(self.probabilities @ self.costs)

    @property
    def cvar(self) -> float:
        return cvar(self.costs, self.probabilities, self.alpha)

    def objective(self, costs: np.ndarray) -> float:
        return float(self.probabilities @ costs) + self.risk_aversion * cvar(costs, self.probabilities, self.alpha)

    @property
    def vss(self) -> float | None:
        return None if self.ev_costs is None else self.objective(self.ev_costs) - self.objective(self.costs)

    @property
    def evpi(self) -> float | None:
        return None if self.ws_costs is None else self.objective(self.costs) - self.objective(self.ws_costs)

    @property
    def worst(self) -> int:
        return int(np.argmax(self.costs))


def starts(plan: Plan) -> dict[str, str]:
    q = plan.qualifications
    return {} if q is None or q.empty else dict(zip(q["site_id"], q["start_period"], strict=True))


def reserved(plan: Plan) -> dict[int, float]:
    """Reservations row -> tonnes a year the plan reserves under it."""
    r = plan.reservations
    if r is None or r.empty:
        return {}
    first = r.drop_duplicates("reservation_row")
    return dict(zip(first["reservation_row"].astype(int), first["reserved_t"].astype(float), strict=True))


def regime_table(ans: RegimeAnswer) -> pd.DataFrame:
    """One row per regime: probability, cost, shortage, exposure, and the deterministic plan's cost in it."""
    rows = []
    for w, (name, p, q, plan) in enumerate(zip(ans.names, ans.probabilities, ans.questions, ans.plans, strict=True)):
        s = plan.summary
        row = {"regime": name, "probability": float(p), "question": q, "cost_usd": float(ans.costs[w]),
               "shortage_t": float(s["shortage_t"]), "delivered_t": float(s["delivered_t"]),
               "exposed_t": float(s["exposed_t"]), "exposed_share": float(s["exposed_share"]),
               "worst": w == ans.worst}
        if ans.ev_costs is not None:
            row["deterministic_plan_cost_usd"] = float(ans.ev_costs[w])
            row["saved_by_hedging_usd"] = float(ans.ev_costs[w] - ans.costs[w])
        if ans.ws_costs is not None:
            row["perfect_information_cost_usd"] = float(ans.ws_costs[w])
        rows.append(row)
    return pd.DataFrame(rows)


def hedge_table(ans: RegimeAnswer, rm: RegimeModel) -> pd.DataFrame:
    """The first-stage decisions this plan takes and the deterministic plan does not: qualifications (or
    earlier starts) and stock held at the end of a period no regime has yet told apart."""
    periods = rm.periods
    order = {t: k for k, t in enumerate(periods)}
    mine = starts(ans.plans[0])
    saving = (ans.ev_costs - ans.costs) if ans.ev_costs is not None else None
    rows = []

    def protects(pred) -> str:  # noqa: ANN001
        named = [ans.names[w] for w in range(len(ans.names)) if pred(w)]
        if not named and saving is not None and (saving > 0.5).any():
            named = [ans.names[int(np.argmax(saving))]]
        return ", ".join(named)

    for site, t in sorted(mine.items()):
        ev = ans.ev_starts.get(site)
        if ev is not None and order[ev] <= order[t]:
            continue
        what = f"start qualifying {site}" + (f" in {t}" if t else "") + (
            f" (the deterministic plan starts it in {ev})" if ev is not None else "")
        rows.append({"hedge": what, "kind": "qualification", "site_id": site, "product": "", "period": t,
                     "tonnes": None,
                     "protects_against": protects(lambda w, site=site, t=t: site in ans.ws_starts[w]
                                                  and order[ans.ws_starts[w][site]] <= order[t]
                                                  if w < len(ans.ws_starts) else False)})
    res = ans.plans[0].reservations
    if res is not None and not res.empty:
        for row, v in sorted(reserved(ans.plans[0]).items()):
            more = v - ans.ev_reserved.get(row, 0.0)
            if more <= 0.05:
                continue
            g = res[res["reservation_row"] == row]
            site, product, t = g["site_id"].iloc[0], g["product"].iloc[0], g["period"].iloc[0]
            ev = ans.ev_reserved.get(row, 0.0)
            what = (f"reserve {more:,.1f} t/yr more {product} at {site} from {t}" if ev > 0.05 else
                    f"reserve {v:,.1f} t/yr of {product} at {site} from {t}") + (
                f" (Reservations row {row}; the deterministic plan reserves {ev:,.1f})" if ev > 0.05 else
                f" (Reservations row {row}; the deterministic plan reserves none)")

            def takes(w: int, row: int = row, ev: float = ev) -> bool:
                """Known in advance, regime w would reserve more than the deterministic plan does too (once
                paid for, reserved tonnes are taken wherever they are cheapest, so what a regime takes says
                nothing of what the reservation protects against)."""
                return w < len(ans.ws_held) and ans.ws_held[w][1].get(row, 0.0) > ev + 0.05

            rows.append({"hedge": what, "kind": "reservation", "site_id": site, "product": product, "period": t,
                         "tonnes": more, "protects_against": protects(takes)})
    stock = ans.plans[0].stock
    if stock is not None and not stock.empty and ans.ev_stock is not None:
        # stock held at the end of a period in which the first regime (the input as it stands) cannot yet be
        # told apart from others: held before their shock, so a hedge against them
        group = {t: [w for w in range(len(ans.names)) if rm.same_as[k][w] == rm.same_as[k][0]]
                 for k, t in enumerate(periods) if k < len(periods) - 1}
        group = {t: g for t, g in group.items() if len(g) > 1}
        held = stock[stock["period"].isin(list(group))].groupby(["period", "site_id", "product"])["closing_t"].sum()
        ev = ans.ev_stock[ans.ev_stock["period"].isin(list(group))].groupby(
            ["period", "site_id", "product"])["closing_t"].sum() if not ans.ev_stock.empty else pd.Series(dtype=float)
        for (t, site, product), tonnes in held.items():
            more = float(tonnes) - float(ev.get((t, site, product), 0.0))
            if more > 0.05:
                g = group[t]
                when = "" if len(g) == len(ans.names) else " if no shock has come by then"
                base = float(ev.get((t, site, product), 0.0))

                def holds(w: int, g=g, t=t, site=site, product=product, base=base) -> bool:  # noqa: ANN001
                    """In the group at t, and known in advance, regime w would hold more there too."""
                    if w not in g or w == 0 or w >= len(ans.ws_held):
                        return False
                    st = ans.ws_held[w][0]
                    mine = st.loc[(st["period"] == t) & (st["site_id"] == site) & (st["product"] == product),
                                  "closing_t"].sum() if len(st) else 0.0
                    return float(mine) > base + 0.05

                rows.append({"hedge": f"hold {more:,.1f} t more {product} at {site} at the end of {t}{when}",
                             "kind": "stock", "site_id": site, "product": product, "period": t, "tonnes": more,
                             "protects_against": protects(holds)})
    return pd.DataFrame(rows, columns=["hedge", "kind", "site_id", "product", "period", "tonnes",
                                       "protects_against"])


def _m(v: float) -> str:
    return f"{v / 1e6:,.1f} M USD"


def regime_findings(ans: RegimeAnswer, hedges: pd.DataFrame, per: str) -> list[str]:
    """Findings in plain words: the distribution, the worst case, what hedging costs and saves."""
    out = []
    worst = ans.worst
    out.append(f"Planned against {len(ans.names)} licence regimes: expected cost {_m(ans.expected)}{per}; in the "
               f"worst, {ans.names[worst]} (probability {ans.probabilities[worst]:.0%}), {_m(ans.costs[worst])} "
               f"with {float(ans.plans[worst].summary['shortage_t']):,.1f} t short.")
    out.append(f"CVaR at {ans.alpha:.0%} (the expected cost of the worst {1 - ans.alpha:.0%} of outcomes): "
               f"{_m(ans.cvar)}; risk aversion {ans.risk_aversion:g}"
               + (" (risk-neutral: the plan minimises the expected cost)." if ans.risk_aversion == 0 else "."))
    if ans.ev_costs is not None:
        saving = ans.ev_costs - ans.costs
        best = int(np.argmax(saving))
        premium = float(ans.probabilities @ np.minimum(saving, 0.0))
        vss = ans.vss or 0.0
        if vss > 0.5:
            line = (f"Planning against the regimes is worth {_m(vss)}{per} over the deterministic plan (the value of "
                    f"the stochastic solution): it saves {_m(float(saving[best]))} in {ans.names[best]}")
            line += (f" and costs {_m(-premium)} in expectation where the shock does not come." if premium < -0.5
                     else ".")
            out.append(line)
        else:
            out.append("The deterministic plan's qualifications already hold up in every regime: planning against "
                       "the regimes changes no first-stage decision worth money (value of the stochastic solution 0).")
    if ans.evpi is not None:
        out.append(f"Knowing the regime in advance would be worth {_m(ans.evpi)}{per} (expected value of perfect "
                   "information): the most that better intelligence on the licence regime could save.")
    for h in hedges.head(5).itertuples(index=False):
        out.append(f"Hedge: {h.hedge}" + (f", against {h.protects_against}." if h.protects_against else "."))
    return out
