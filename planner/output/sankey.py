"""A plan as a supply-chain Sankey diagram: one self-contained HTML file, and optionally a PNG.

Columns are the stages (mines, refiners, metal & alloy, magnets, plants); each
site that ships or receives is a node, each used lane (site, site, product) a
band whose width is proportional to the tonnes shipped. Nodes are coloured by
country (China red, everyone else in cool colours), bands by their sender's
country, and license-exposed flows are hatched with a dashed outline.

* :func:`sankey_layout` is pure: plan in, geometry out (layout units are the
  PNG's pixels). Both drawings below are made from it, so they agree.
* :func:`sankey_html` is one HTML file with an inline SVG and a few lines of
  inline CSS/JS for tooltips: no scripts, fonts or anything else fetched when
  it is viewed.
* :func:`write_picture` writes the HTML (and a PNG drawn with Pillow): both or neither.

Self-loops (a site shipping to itself) are not drawn. A lane inside a stage
(refiner -> refiner) puts its receiver a little to the right of its sender in
the same column.
"""

from __future__ import annotations

import html
import math
import os
import time
from functools import lru_cache
from pathlib import Path

from planner.errors import OutputError
from planner.input.schema import STAGES
from planner.output.write import OutputSet, os_error

__all__ = ["sankey_layout", "sankey_html", "render_png", "write_picture", "country_color", "DEFAULT_TITLE"]

DEFAULT_TITLE = "Rare-earth magnet supply chain"

STAGE_TITLES = {"mine": "Mines", "refiner": "Refiners", "metal": "Metal & alloy", "magnet": "Magnets",
                "plant": "Plants"}

# ---- colours: China red; everyone else a cool or earthy colour that cannot be mistaken for it
CHINA = "CN"
CHINA_COLOR = "#d62728"
COUNTRY_COLORS = {
    "CN": CHINA_COLOR,
    "US": "#1f5fa8",
    "JP": "#7b4fa0",
    "AU": "#2e8b57",
    "MY": "#8c6d31",
    "KR": "#1aa1b0",
    "DE": "#4d5866",
    "GB": "#6baed6",
    "FR": "#393b79",
    "EE": "#6b8e23",
    "IN": "#e0a030",
    "VN": "#9bb53a",
    "CA": "#6b6ecf",
    "BR": "#31a354",
    "MM": "#a8a84a",
    "MX": "#b07aa1",
    "MW": "#8ca252",
    "TZ": "#9e9ac8",
    "NG": "#8d8d8d",
    "ZA": "#a08060",
    "TH": "#5aa0a0",
    "LA": "#a6a36b",
    "RU": "#6a5acd",
    "KZ": "#4f9d9d",
    "SE": "#2c7fb8",
    "NO": "#41ab5d",
    "GL": "#74a9cf",
    "PH": "#b0a040",
    "TW": "#8a6fb0",
}
# for countries not listed above, in order of first appearance (no reds, pinks or oranges)
FALLBACK_COLORS = ("#4a7ba6", "#5f9e6e", "#8172b3", "#937860", "#64b5cd", "#8c8c8c", "#4c9a2a", "#3b5b92",
                   "#a2a23c", "#6d8fb0", "#7a6f9b", "#5d7a5d")

COUNTRY_NAMES = {
    "AU": "Australia", "BR": "Brazil", "CA": "Canada", "CN": "China", "DE": "Germany", "EE": "Estonia",
    "FR": "France", "GB": "United Kingdom", "GL": "Greenland", "IN": "India", "JP": "Japan", "KR": "South Korea",
    "KZ": "Kazakhstan", "LA": "Laos", "MM": "Myanmar", "MW": "Malawi", "MX": "Mexico", "MY": "Malaysia",
    "NG": "Nigeria", "NO": "Norway", "PH": "Philippines", "RU": "Russia", "SE": "Sweden", "TH": "Thailand",
    "TW": "Taiwan", "TZ": "Tanzania", "US": "United States", "VN": "Vietnam", "ZA": "South Africa",
}

LINK_OPACITY = 0.45
EXPOSED_INK = "#1a1a1a"
TEXT = "#1f2328"
MUTED = "#5f6b7a"
FONT_FAMILY = "'Helvetica Neue', Helvetica, Arial, 'Liberation Sans', sans-serif"

# ---- geometry (layout units = PNG pixels)
WIDTH = 1800
DIAGRAM_HEIGHT = 760  # the band area; grows when a column has many nodes
NODE_W = 14
LABEL_LEFT = 270  # room for the first column's labels, left of its nodes
LABEL_RIGHT = 280  # room for the last column's labels, right of its nodes
MIN_SLOT = 36  # each node gets at least this much height, so its two label lines never collide
GAP = 8
TOP = 168  # title, headline figures and column titles above
LEGEND_H = 86
NAME_CHARS = 34
LABEL_PX = 13
SUB_PX = 11.5


def _name(code: str) -> str:
    return COUNTRY_NAMES.get(code, code)


def country_color(code: str, fallback: dict[str, str] | None = None) -> str:
    """The fixed colour of a country (``fallback``: assignments already made for unlisted countries)."""
    if code in COUNTRY_COLORS:
        return COUNTRY_COLORS[code]
    if fallback is None:
        return FALLBACK_COLORS[sum(map(ord, code)) % len(FALLBACK_COLORS)]
    if code not in fallback:
        fallback[code] = FALLBACK_COLORS[len(fallback) % len(FALLBACK_COLORS)]
    return fallback[code]


def _t(v: float) -> str:
    """Tonnes for a label: whole tonnes from 100 t up."""
    return f"{v:,.0f} t" if abs(v) >= 100 else f"{v:,.1f} t"


def _t1(v: float) -> str:
    return f"{v:,.1f} t"


def _money(v: float) -> str:
    if abs(v) >= 1e9:
        return f"USD {v / 1e9:,.2f} bn"
    if abs(v) >= 1e6:
        return f"USD {v / 1e6:,.1f} M"
    return f"USD {v:,.0f}"


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def _short(name: str, n: int = NAME_CHARS) -> str:
    name = " ".join(str(name).split())
    if len(name) <= n:
        return name
    cut = name[: n - 1]
    if " " in cut[n // 2:]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;-(/") + "…"


def _num(v: object, default: float = 0.0) -> float:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return f if math.isfinite(f) else default


def link_tooltip(link: dict) -> str:
    """FROM -> TO: PRODUCT, 1,234.5 t (exposed 12.3 t, 1.0%), lead time 250 days."""
    s = f"{link['from_name']} -> {link['to_name']}: {link['product']}, {_t1(link['tonnes'])}"
    if link["exposed_t"] > 0:
        s += f" (exposed {_t1(link['exposed_t'])}, {_pct(link['exposed_t'] / link['tonnes'])} of the lane)"
    if link["lead_time_days"] is not None:
        s += f", lead time {link['lead_time_days']} days"
    return s


# ------------------------------------------------------------------------------------------------ layout


def sankey_layout(plan, width: int = WIDTH, diagram_height: int = DIAGRAM_HEIGHT) -> dict:  # noqa: ANN001, C901, PLR0912, PLR0915
    """The diagram's geometry and texts, from a :class:`planner.results.report.Plan` (pure, deterministic).

    Returns a dict with ``width``, ``height``, ``scale`` (px per tonne), ``columns``
    (stage, title, x), ``nodes`` (id, name, country, stage, x, y, w, h, in_t, out_t,
    value_t, color, label, detail, label_side), ``links`` (from, to, product,
    tonnes, exposed_t, lead_time_days, ..., width, x0, y0, x1, y1: the band's
    centre line, color, exposed), ``legend`` and ``headline``.
    """
    # ---- used lanes: one link per row of flows with tonnes > 0, self-loops left out
    rows = []
    flows = plan.flows
    if flows is not None and len(flows):
        for r in flows.to_dict("records"):
            t = _num(r.get("tonnes"))
            if not t > 0 or r["from_site"] == r["to_site"]:
                continue
            lt = r.get("lead_time_days")
            rows.append({
                "from": str(r["from_site"]), "to": str(r["to_site"]), "product": str(r["product"]), "tonnes": t,
                "exposed_t": max(_num(r.get("exposed_t")), 0.0), "licensed_t": _num(r.get("licensed_t")),
                "cost_usd": _num(r.get("cost_usd")),
                "lead_time_days": None if lt is None or not math.isfinite(_num(lt, math.nan)) else int(lt),
                "from_country": r.get("from_country"), "to_country": r.get("to_country"),
                "from_stage": r.get("from_stage"),
            })
    rows.sort(key=lambda r: (r["from"], r["to"], r["product"]))

    sites = plan.sites.set_index("site_id") if plan.sites is not None and "site_id" in plan.sites else None

    def site_attr(s: str, col: str, default: object) -> object:
        if sites is not None and s in sites.index and col in sites.columns:
            v = sites.at[s, col]
            if isinstance(v, str) and v:
                return v
        return default

    ids = sorted({r["from"] for r in rows} | {r["to"] for r in rows})
    in_t = dict.fromkeys(ids, 0.0)
    out_t = dict.fromkeys(ids, 0.0)
    for r in rows:
        out_t[r["from"]] += r["tonnes"]
        in_t[r["to"]] += r["tonnes"]
    flow_country: dict[str, str] = {}
    flow_stage: dict[str, str] = {}
    for r in rows:
        if isinstance(r["from_country"], str):
            flow_country.setdefault(r["from"], r["from_country"])
        if isinstance(r["to_country"], str):
            flow_country.setdefault(r["to"], r["to_country"])
        if isinstance(r["from_stage"], str):
            flow_stage.setdefault(r["from"], r["from_stage"])
    stage_rank = {s: i for i, s in enumerate(STAGES)}
    nodes: dict[str, dict] = {}
    for s in ids:
        stage = str(site_attr(s, "stage", flow_stage.get(s, "plant" if out_t[s] == 0 else "magnet")))
        country = str(site_attr(s, "country", flow_country.get(s, "??")))
        name = str(site_attr(s, "name", s))
        nodes[s] = {
            "id": s, "name": name, "company": str(site_attr(s, "company", "")), "country": country,
            "country_name": _name(country), "stage": stage, "rank": stage_rank.get(stage, len(STAGES)),
            "in_t": in_t[s], "out_t": out_t[s], "value_t": max(in_t[s], out_t[s]),
        }

    # ---- columns: every stage from the first to the last one used (a skipped stage keeps its column)
    if nodes:
        lo = min(n["rank"] for n in nodes.values())
        hi = max(n["rank"] for n in nodes.values())
        ranks = list(range(lo, hi + 1))
    else:
        ranks = []
    stage_of = {i: s for i, s in enumerate(STAGES)}
    extra = sorted({n["stage"] for n in nodes.values() if n["stage"] not in stage_rank})
    columns = []
    for i in ranks:
        st = stage_of.get(i, ", ".join(extra))
        columns.append({"stage": st, "title": STAGE_TITLES.get(st, st.title())})

    # levels inside a stage: a refiner fed by another refiner sits to its right
    level = dict.fromkeys(ids, 0)
    intra = [r for r in rows if nodes[r["from"]]["rank"] == nodes[r["to"]]["rank"]]
    for _ in range(min(len(ids), 3)):
        changed = False
        for r in intra:
            want = min(level[r["from"]] + 1, 2)
            if level[r["to"]] < want:
                level[r["to"]] = want
                changed = True
        if not changed:
            break

    x_left, x_right = LABEL_LEFT, width - LABEL_RIGHT - NODE_W
    n_cols = len(columns)
    step = (x_right - x_left) / (n_cols - 1) if n_cols > 1 else 0.0
    sub_dx = min(110.0, 0.33 * step) if n_cols > 1 else 60.0
    for ci, col in enumerate(columns):
        col["x"] = x_left + ci * step if n_cols > 1 else (x_left + x_right) / 2
        col["x_mid"] = col["x"] + NODE_W / 2
    col_of_rank = {r: ci for ci, r in enumerate(ranks)}
    for n in nodes.values():
        n["column"] = col_of_rank[n["rank"]]
        n["level"] = level[n["id"]]
        n["x"] = columns[n["column"]]["x"] + n["level"] * sub_dx
        n["w"] = NODE_W

    # ---- order in a column: by country (China first), then by throughput inside a country; the start
    # order of the other countries (tonnage in the whole picture) is refined by the sweeps below
    by_country: dict[str, float] = {}
    for n in nodes.values():
        by_country[n["country"]] = by_country.get(n["country"], 0.0) + n["value_t"]
    countries = sorted(by_country, key=lambda c: (c != CHINA, -by_country[c], c))
    crank = {c: i for i, c in enumerate(countries)}
    col_nodes: list[list[dict]] = [[] for _ in columns]
    for n in nodes.values():
        col_nodes[n["column"]].append(n)
    for lst in col_nodes:
        lst.sort(key=lambda n: (crank[n["country"]], -n["value_t"], n["id"]))

    # ---- scale: the largest px-per-tonne at which the fullest column fits
    n_max = max((len(c) for c in col_nodes), default=0)
    avail = float(max(diagram_height, 1.15 * (n_max * MIN_SLOT + max(n_max - 1, 0) * GAP)))

    def col_height(lst: list[dict], k: float) -> float:
        return sum(max(n["value_t"] * k, MIN_SLOT) for n in lst) + GAP * max(len(lst) - 1, 0)

    def fullest(k: float) -> float:
        return max((col_height(c, k) for c in col_nodes), default=0.0)

    top_v = max((sum(n["value_t"] for n in c) for c in col_nodes), default=0.0)
    k_hi = avail / top_v if top_v > 0 else 1.0
    k_lo = 0.0
    for _ in range(80):
        mid = (k_lo + k_hi) / 2
        if fullest(mid) <= avail:
            k_lo = mid
        else:
            k_hi = mid
    k = k_lo

    def place() -> None:
        for lst in col_nodes:
            y = TOP + (avail - col_height(lst, k)) / 2
            for n in lst:
                n["h"] = n["value_t"] * k
                slot = max(n["h"], MIN_SLOT)
                n["y"] = y + (slot - n["h"]) / 2
                n["slot_y"], n["slot_h"] = y, slot
                y += slot + GAP

    # Country groups other than China (always on top) follow the tonnage-weighted height of their
    # partners in the other columns, a few sweeps, so that bands cross less; inside a group, throughput.
    place()
    partners: dict[str, list[tuple[str, float]]] = {s: [] for s in nodes}
    for r in rows:
        if nodes[r["from"]]["column"] != nodes[r["to"]]["column"]:
            partners[r["from"]].append((r["to"], r["tonnes"]))
            partners[r["to"]].append((r["from"], r["tonnes"]))
    for _ in range(6):
        centre_now = {s: n["y"] + n["h"] / 2 for s, n in nodes.items()}
        for lst in col_nodes:
            groups: dict[str, list[float]] = {}
            for n in lst:
                g = groups.setdefault(n["country"], [0.0, 0.0])
                for other, t in partners[n["id"]]:
                    g[0] += t * centre_now[other]
                    g[1] += t
            bary = {c: (v[0] / v[1] if v[1] > 0 else math.inf) for c, v in groups.items()}
            lst.sort(key=lambda n: (n["country"] != CHINA, round(bary[n["country"]], 6), crank[n["country"]],
                                    -n["value_t"], n["id"]))
        place()

    # ---- links: stacked on each side in the order of the node at the other end
    fallback: dict[str, str] = {}
    for c in countries:
        country_color(c, fallback)
    for n in nodes.values():
        n["color"] = country_color(n["country"], fallback)
    centre = {s: n["y"] + n["h"] / 2 for s, n in nodes.items()}
    links = []
    for r in rows:
        f, t = nodes[r["from"]], nodes[r["to"]]
        links.append({
            **{key: r[key] for key in ("from", "to", "product", "tonnes", "exposed_t", "licensed_t", "cost_usd",
                                      "lead_time_days")},
            "from_name": f["name"], "to_name": t["name"], "from_country": f["country"], "to_country": t["country"],
            "width": r["tonnes"] * k, "color": f["color"], "exposed": r["exposed_t"] > 0,
            "x0": f["x"] + NODE_W, "x1": t["x"],
        })
    outs: dict[str, list[dict]] = {}
    ins: dict[str, list[dict]] = {}
    for ln in links:
        outs.setdefault(ln["from"], []).append(ln)
        ins.setdefault(ln["to"], []).append(ln)
    for s, lst in outs.items():
        lst.sort(key=lambda ln: (centre[ln["to"]], ln["to"], ln["product"]))
        y = nodes[s]["y"] + (nodes[s]["h"] - sum(ln["width"] for ln in lst)) / 2
        for ln in lst:
            ln["y0"] = y + ln["width"] / 2
            y += ln["width"]
    for s, lst in ins.items():
        lst.sort(key=lambda ln: (centre[ln["from"]], ln["from"], ln["product"]))
        y = nodes[s]["y"] + (nodes[s]["h"] - sum(ln["width"] for ln in lst)) / 2
        for ln in lst:
            ln["y1"] = y + ln["width"] / 2
            y += ln["width"]
    for ln in links:
        ln["tooltip"] = link_tooltip(ln)

    # ---- labels
    short: dict[str, float] = {}
    plants = getattr(plan, "plants", None)
    if plants is not None and len(plants) and "shortage_t" in plants:
        for r in plants.to_dict("records"):
            short[str(r["site_id"])] = short.get(str(r["site_id"]), 0.0) + _num(r.get("shortage_t"))
    ordered = [n for lst in col_nodes for n in lst]
    for n in ordered:
        n["label"] = _short(n["name"])
        detail = f"{n['country_name']} · {_t(n['value_t'])}"
        if short.get(n["id"], 0.0) > 1e-6:
            detail += f" · short {_t(short[n['id']])}"
        n["detail"] = detail
        n["label_side"] = "left" if n["column"] == 0 and n_cols > 1 and n["level"] == 0 else "right"
        tip = f"{n['name']} ({n['id']}), {n['company'] + ', ' if n['company'] else ''}{n['country_name']}"
        parts = []
        if n["in_t"] > 0:
            parts.append(f"receives {_t1(n['in_t'])}")
        if n["out_t"] > 0:
            parts.append(f"ships {_t1(n['out_t'])}")
        if short.get(n["id"], 0.0) > 1e-6:
            parts.append(f"short {_t1(short[n['id']])}")
        n["tooltip"] = tip + ": " + ", ".join(parts)

    height = int(math.ceil(TOP + avail + LEGEND_H))

    # ---- legend: countries in the order used, then the exposure mark; wrapped to the width
    legend = []
    lx, ly = 40.0, TOP + avail + 44
    items = [("country", c, _name(c), country_color(c, fallback)) for c in countries]
    items.append(("exposed", "", "License-exposed flow", EXPOSED_INK))
    for kind, code, text, color in items:
        w = 26 + 7.0 * len(text) + 22
        if lx + w > width - 40:
            lx, ly = 40.0 + 70, ly + 24
            height += 24
        legend.append({"kind": kind, "country": code, "text": text, "color": color, "x": lx, "y": ly})
        lx += w

    s = getattr(plan, "summary", {}) or {}
    headline = {
        "status": str(s.get("status", getattr(plan, "status", ""))),
        "total_cost_usd": _num(s.get("total_cost_usd")),
        "delivered_t": _num(s.get("delivered_t")),
        "demand_t": _num(s.get("demand_t")),
        "exposed_t": _num(s.get("exposed_t")),
        "exposed_share": _num(s.get("exposed_share")),
        "shortage_t": _num(s.get("shortage_t")),
    }
    # what the plants receive from Chinese sites (by the sender's country)
    into_plants = [ln for ln in links if nodes[ln["to"]]["stage"] == "plant"]
    china_t = sum(ln["tonnes"] for ln in into_plants if ln["from_country"] == CHINA)
    plant_t = sum(ln["tonnes"] for ln in into_plants)
    headline["china_t"] = china_t
    headline["china_share"] = china_t / plant_t if plant_t > 0 else 0.0
    cards = [
        ("Total cost", _money(headline["total_cost_usd"])),
        ("Delivered", f"{_t(headline['delivered_t'])} of {_t(headline['demand_t'])}"),
        # the workbook's "Made in China: magnet" (the plants' direct suppliers), named the same way
        ("Made in China: magnet", f"{_pct(headline['china_share'])} ({_t(china_t)})"),
        *_metal_card(plan),
        ("License-exposed", f"{_pct(headline['exposed_share'])} ({_t(headline['exposed_t'])})"),
        ("Shortage", _t(headline["shortage_t"]) if headline["shortage_t"] > 0 else "none"),
    ]
    headline["cards"] = [{"label": a, "value": b} for a, b in cards]
    headline["subtitle"] = (f"Band width = tonnes shipped on each lane and product · {len(links)} lanes · "
                            f"plan {headline['status']}")

    return {
        "width": int(width), "height": height, "scale": k, "top": TOP, "diagram_height": avail,
        "node_width": NODE_W, "columns": columns,
        "nodes": [{key: v for key, v in n.items() if key != "rank"} for n in ordered],
        "links": links, "countries": countries, "legend": legend, "headline": headline,
    }


def _band(ln: dict, min_w: float = 1.0) -> tuple[float, float, float, float, float, float, float]:
    """(x0, top0, bottom0, x1, top1, bottom1, dx): the band's ends and its bezier handles' reach."""
    w = max(ln["width"], min_w) / 2
    x0, x1 = ln["x0"], ln["x1"]
    dx = (x1 - x0) / 2 if x1 - x0 > 60 else max(abs(x1 - x0) / 2, 60.0)
    return x0, ln["y0"] - w, ln["y0"] + w, x1, ln["y1"] - w, ln["y1"] + w, dx


# ------------------------------------------------------------------------------------------------ HTML


def _e(v: object) -> str:
    return html.escape(str(v), quote=True)


def _f(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _svg(layout: dict, title: str) -> str:  # noqa: C901, PLR0915
    W, H = layout["width"], layout["height"]
    out = [
        f'<svg class="sankey" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
        f'aria-label="{_e(title)}" font-family="{_e(FONT_FAMILY)}">',
        '<defs><pattern id="hatch" patternUnits="userSpaceOnUse" width="7" height="7" '
        'patternTransform="rotate(45)"><rect width="2.6" height="7" fill="#1a1a1a" fill-opacity="0.5"/>'
        '</pattern></defs>',
        f'<rect width="{W}" height="{H}" fill="#ffffff"/>',
        f'<text x="40" y="52" font-size="28" font-weight="700" fill="{TEXT}">{_e(title)}</text>',
    ]
    hl = layout["headline"]
    sub = hl["subtitle"]
    out.append(f'<text x="40" y="82" font-size="14" fill="{MUTED}">{_e(sub)}</text>')
    for card in _cards(layout):
        out.append(f'<g class="kpi"><rect x="{_f(card["x"])}" y="24" width="{_f(card["w"])}" height="62" rx="6" '
                   f'fill="#f3f5f8" stroke="#dde2e8"/>'
                   f'<text x="{_f(card["x"] + 14)}" y="47" font-size="12.5" fill="{MUTED}">{_e(card["label"])}</text>'
                   f'<text x="{_f(card["x"] + 14)}" y="74" font-size="19" font-weight="700" '
                   f'fill="{card["color"]}">{_e(card["value"])}</text></g>')
    for col in layout["columns"]:
        out.append(f'<text x="{_f(col["x_mid"])}" y="{layout["top"] - 26}" font-size="16" font-weight="700" '
                   f'text-anchor="middle" fill="{TEXT}" letter-spacing="0.5">{_e(col["title"].upper())}</text>')
    out.append('<g class="links">')
    for ln in layout["links"]:
        x0, t0, b0, x1, t1, b1, dx = _band(ln)
        d = (f"M{_f(x0)},{_f(t0)} C{_f(x0 + dx)},{_f(t0)} {_f(x1 - dx)},{_f(t1)} {_f(x1)},{_f(t1)} "
             f"L{_f(x1)},{_f(b1)} C{_f(x1 - dx)},{_f(b1)} {_f(x0 + dx)},{_f(b0)} {_f(x0)},{_f(b0)} Z")
        cls = "link exposed" if ln["exposed"] else "link"
        attrs = (f'class="{cls}" data-from="{_e(ln["from"])}" data-to="{_e(ln["to"])}" '
                 f'data-product="{_e(ln["product"])}" data-tonnes="{ln["tonnes"]!r}" '
                 f'data-exposed-t="{ln["exposed_t"]!r}"')
        body = f'<path class="band" d="{d}" fill="{ln["color"]}" fill-opacity="{LINK_OPACITY}"/>'
        if ln["exposed"]:
            body += (f'<path class="mark" d="{d}" fill="url(#hatch)" stroke="{EXPOSED_INK}" stroke-width="1.3" '
                     f'stroke-dasharray="6 4"/>')
        out.append(f'<g {attrs}><title>{_e(ln["tooltip"])}</title>{body}</g>')
    out.append("</g>")
    out.append('<g class="nodes">')
    for n in layout["nodes"]:
        h = max(n["h"], 2.0)
        y = n["y"] + n["h"] / 2 - h / 2
        cy = n["y"] + n["h"] / 2
        if n["label_side"] == "left":
            tx, anchor = n["x"] - 8, "end"
        else:
            tx, anchor = n["x"] + NODE_W + 8, "start"
        # a white copy under each label (not paint-order, which some SVG renderers ignore)
        halo = 'fill="#ffffff" stroke="#ffffff" stroke-width="3.5" stroke-linejoin="round" aria-hidden="true"'
        t1 = (f'x="{_f(tx)}" y="{_f(cy - 2)}" font-size="{LABEL_PX}" font-weight="600" '
              f'text-anchor="{anchor}"')
        t2 = f'x="{_f(tx)}" y="{_f(cy + 12)}" font-size="{SUB_PX}" text-anchor="{anchor}"'
        label, detail = _e(n["label"]), _e(n["detail"])
        out.append(
            f'<g class="node" data-site="{_e(n["id"])}" data-country="{_e(n["country"])}">'
            f'<title>{_e(n["tooltip"])}</title>'
            f'<rect x="{_f(n["x"])}" y="{_f(y)}" width="{NODE_W}" height="{_f(h)}" rx="2" fill="{n["color"]}"/>'
            f'<text {t1} {halo}>{label}</text><text {t2} {halo}>{detail}</text>'
            f'<text {t1} fill="{TEXT}">{label}</text><text {t2} fill="{MUTED}">{detail}</text></g>')
    out.append("</g>")
    if not layout["links"]:
        out.append(f'<text x="{W / 2}" y="{layout["top"] + layout["diagram_height"] / 2}" font-size="18" '
                   f'text-anchor="middle" fill="{MUTED}">No shipments in this plan</text>')
    out.append('<g class="legend">')
    for it in layout["legend"]:
        x, y = it["x"], it["y"]
        if it["kind"] == "country":
            out.append(f'<rect x="{_f(x)}" y="{_f(y - 11)}" width="18" height="14" rx="2" fill="{it["color"]}"/>')
        else:
            out.append(f'<rect x="{_f(x)}" y="{_f(y - 11)}" width="18" height="14" fill="#bbbbbb" '
                       f'fill-opacity="{LINK_OPACITY}"/><rect x="{_f(x)}" y="{_f(y - 11)}" width="18" height="14" '
                       f'fill="url(#hatch)" stroke="{EXPOSED_INK}" stroke-width="1.3" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{_f(x + 26)}" y="{_f(y)}" font-size="13" fill="{TEXT}">{_e(it["text"])}</text>')
    out.append("</g></svg>")
    return "\n".join(out)


def _cards(layout: dict) -> list[dict]:
    """The headline figures as cards along the top right (same geometry in SVG and PNG)."""
    cards = layout["headline"]["cards"]
    widths = [max(150.0, 24 + 11 * max(len(c["value"]), len(c["label"]))) for c in cards]
    x = layout["width"] - 40 - sum(widths) - 12 * (len(cards) - 1)
    out = []
    for c, w in zip(cards, widths, strict=True):
        color = TEXT
        if c["label"] == "Shortage" and c["value"] != "none":
            color = CHINA_COLOR
        if c["label"] == "License-exposed" and layout["headline"]["exposed_t"] > 0:
            color = "#b5540a"
        if c["label"] == "Made in China: magnet" and layout["headline"]["china_t"] > 0:
            color = CHINA_COLOR
        out.append({**c, "x": x, "w": w, "color": color})
        x += w + 12
    return out


_CSS = """
body{margin:0;background:#eef0f3;color:#1f2328;font-family:'Helvetica Neue',Helvetica,Arial,sans-serif}
.wrap{max-width:%(w)dpx;margin:16px auto;background:#fff;box-shadow:0 1px 4px rgba(0,0,0,.18)}
svg.sankey{display:block;width:100%%;height:auto}
.link .band{transition:fill-opacity .12s}
.link:hover .band{fill-opacity:.85}
svg.focus .link{opacity:.12}
svg.focus .link.on{opacity:1}
.node{cursor:default}
#tip{position:fixed;display:none;pointer-events:none;z-index:9;max-width:460px;padding:7px 10px;border-radius:4px;
background:rgba(25,28,33,.94);color:#fff;font-size:13px;line-height:1.35;box-shadow:0 2px 6px rgba(0,0,0,.3)}
"""

_JS = """
(function () {
  var svg = document.querySelector('svg.sankey'), tip = document.getElementById('tip');
  if (!svg || !tip) return;
  svg.querySelectorAll('.link, .node').forEach(function (el) {
    var t = el.querySelector('title');
    if (t) { el.setAttribute('data-tip', t.textContent); el.setAttribute('aria-label', t.textContent); t.remove(); }
  });
  svg.addEventListener('mousemove', function (e) {
    var el = e.target.closest('[data-tip]');
    if (!el) { tip.style.display = 'none'; return; }
    tip.textContent = el.getAttribute('data-tip');
    tip.style.display = 'block';
    var x = e.clientX + 14, y = e.clientY + 16;
    if (x + tip.offsetWidth > window.innerWidth - 8) x = e.clientX - tip.offsetWidth - 14;
    if (y + tip.offsetHeight > window.innerHeight - 8) y = e.clientY - tip.offsetHeight - 12;
    tip.style.left = x + 'px'; tip.style.top = y + 'px';
  });
  svg.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
  svg.querySelectorAll('.node').forEach(function (n) {
    var s = n.getAttribute('data-site');
    n.addEventListener('mouseenter', function () {
      svg.classList.add('focus');
      svg.querySelectorAll('.link').forEach(function (l) {
        if (l.getAttribute('data-from') === s || l.getAttribute('data-to') === s) l.classList.add('on');
      });
    });
    n.addEventListener('mouseleave', function () {
      svg.classList.remove('focus');
      svg.querySelectorAll('.link.on').forEach(function (l) { l.classList.remove('on'); });
    });
  });
})();
"""


def sankey_html(plan, title: str = DEFAULT_TITLE, layout: dict | None = None) -> str:  # noqa: ANN001
    """One self-contained HTML page: the Sankey as inline SVG, hover tooltips, no external resources."""
    layout = layout or sankey_layout(plan)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{_e(title)}</title>\n<style>{_CSS % {'w': layout['width']}}</style>\n</head>\n<body>\n"
        f"<div class=\"wrap\">\n{_svg(layout, title)}\n</div>\n<div id=\"tip\" role=\"tooltip\"></div>\n"
        f"<script>{_JS}</script>\n</body>\n</html>\n"
    )


# ------------------------------------------------------------------------------------------------ PNG


def _rgb(hex_color: str) -> tuple[int, int, int]:
    h = hex_color.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


@lru_cache(maxsize=32)
def _font(px: float):  # noqa: ANN202
    from PIL import ImageFont  # noqa: PLC0415

    # Pillow's own scalable font (Aileron), so the picture does not depend on the fonts installed
    return ImageFont.load_default(size=max(1, round(px)))


def _bezier(xa: float, ya: float, xb: float, yb: float, dx: float, n: int = 40) -> list[tuple[float, float]]:
    """Points on the cubic (xa,ya) (xa+dx,ya) (xb-dx,yb) (xb,yb)."""
    pts = []
    for i in range(n + 1):
        t = i / n
        u = 1 - t
        x = u ** 3 * xa + 3 * u * u * t * (xa + dx) + 3 * u * t * t * (xb - dx) + t ** 3 * xb
        y = u ** 3 * ya + 3 * u * u * t * ya + 3 * u * t * t * yb + t ** 3 * yb
        pts.append((x, y))
    return pts


def _dashed(draw, pts: list[tuple[float, float]], dash: float, gap: float, fill, width: int) -> None:  # noqa: ANN001
    """A dashed polyline."""
    on, left = True, dash
    for (xa, ya), (xb, yb) in zip(pts, pts[1:], strict=False):
        seg = math.hypot(xb - xa, yb - ya)
        pos = 0.0
        while seg - pos > 1e-9:
            step = min(left, seg - pos)
            if on:
                f0, f1 = pos / seg, (pos + step) / seg
                draw.line([(xa + (xb - xa) * f0, ya + (yb - ya) * f0), (xa + (xb - xa) * f1, ya + (yb - ya) * f1)],
                          fill=fill, width=width)
            pos += step
            left -= step
            if left <= 1e-9:
                on = not on
                left = dash if on else gap


def render_png(layout: dict, path: str | os.PathLike, title: str = DEFAULT_TITLE, supersample: int = 2) -> None:  # noqa: C901, PLR0915
    """Draw ``layout`` with Pillow (no display, no system fonts) and save it as PNG at ``path``.

    Drawn ``supersample`` times larger and scaled down, for smooth curves and text.
    """
    try:
        from PIL import Image, ImageChops, ImageDraw  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise OutputError("the PNG picture needs Pillow: pip install 'planner[pictures]'") from exc
    S = supersample
    W, H = layout["width"], layout["height"]
    img = Image.new("RGB", (W * S, H * S), (255, 255, 255))
    d = ImageDraw.Draw(img, "RGBA")

    def text(x: float, y: float, s: str, px: float, fill: str, anchor: str = "ls", bold: bool = False,
             halo: bool = False) -> None:
        kw = {}
        if halo:
            kw = {"stroke_width": round(2 * S), "stroke_fill": (255, 255, 255, 235)}
        elif bold:
            kw = {"stroke_width": max(1, round(0.45 * S)), "stroke_fill": _rgb(fill)}
        if halo and bold:
            # halo first, then the text thickened by a hairline stroke of its own colour
            d.text((x * S, y * S), s, font=_font(px * S), fill=_rgb(fill), anchor=anchor, **kw)
            kw = {"stroke_width": max(1, round(0.45 * S)), "stroke_fill": _rgb(fill)}
        d.text((x * S, y * S), s, font=_font(px * S), fill=_rgb(fill), anchor=anchor, **kw)

    # ---- header
    text(40, 52, title, 28, TEXT, bold=True)
    hl = layout["headline"]
    sub = hl["subtitle"]
    text(40, 82, sub, 14, MUTED)
    for c in _cards(layout):
        d.rounded_rectangle([c["x"] * S, 24 * S, (c["x"] + c["w"]) * S, 86 * S], radius=6 * S,
                            fill=(243, 245, 248), outline=(221, 226, 232), width=S)
        text(c["x"] + 14, 47, c["label"], 12.5, MUTED)
        text(c["x"] + 14, 74, c["value"], 19, c["color"], bold=True)
    for col in layout["columns"]:
        text(col["x_mid"], layout["top"] - 26, col["title"].upper(), 16, TEXT, anchor="ms", bold=True)

    # ---- bands, then the exposure marks on top of them
    alpha = round(255 * LINK_OPACITY)
    marks = []
    for ln in layout["links"]:
        x0, t0, b0, x1, t1, b1, dx = _band(ln)
        top = _bezier(x0, t0, x1, t1, dx)
        bottom = _bezier(x0, b0, x1, b1, dx)
        poly = [(x * S, y * S) for x, y in top + bottom[::-1]]
        d.polygon(poly, fill=(*_rgb(ln["color"]), alpha))
        if ln["exposed"]:
            marks.append((poly, top, bottom))
    for poly, top, bottom in marks:
        xs = [p[0] for p in poly]
        ys = [p[1] for p in poly]
        bx, by = int(min(xs)) - 2, int(min(ys)) - 2
        bw, bh = int(max(xs)) - bx + 3, int(max(ys)) - by + 3
        mask = Image.new("L", (bw, bh), 0)
        ImageDraw.Draw(mask).polygon([(x - bx, y - by) for x, y in poly], fill=255)
        hatch = Image.new("L", (bw, bh), 0)
        hd = ImageDraw.Draw(hatch)
        spacing = 7 * S * math.sqrt(2)
        c = -float(bh)
        while c < bw + bh:
            hd.line([(c, bh), (c + bh, 0)], fill=128, width=max(1, round(2.6 * S)))
            c += spacing
        img.paste(_rgb(EXPOSED_INK), (bx, by, bx + bw, by + bh), ImageChops.multiply(mask, hatch))
        for edge in (top, bottom):
            _dashed(d, [(x * S, y * S) for x, y in edge], 6 * S, 4 * S, _rgb(EXPOSED_INK), max(1, round(1.3 * S)))

    # ---- nodes and their labels
    for n in layout["nodes"]:
        h = max(n["h"], 2.0)
        cy = n["y"] + n["h"] / 2
        d.rounded_rectangle([n["x"] * S, (cy - h / 2) * S, (n["x"] + NODE_W) * S, (cy + h / 2) * S],
                            radius=min(2 * S, h * S / 2), fill=_rgb(n["color"]))
    for n in layout["nodes"]:
        cy = n["y"] + n["h"] / 2
        if n["label_side"] == "left":
            tx, anchor = n["x"] - 8, "rs"
        else:
            tx, anchor = n["x"] + NODE_W + 8, "ls"
        text(tx, cy - 2, n["label"], LABEL_PX, TEXT, anchor=anchor, bold=True, halo=True)
        text(tx, cy + 12, n["detail"], SUB_PX, MUTED, anchor=anchor, halo=True)
    if not layout["links"]:
        text(W / 2, layout["top"] + layout["diagram_height"] / 2, "No shipments in this plan", 18, MUTED,
             anchor="ms")

    # ---- legend: the layout's rows, spaced by the measured text widths
    lx, row_y = None, None
    for it in layout["legend"]:
        if it["y"] != row_y:
            lx, row_y = it["x"], it["y"]
        x, y = lx, it["y"]
        lx += 26 + _font(13 * S).getlength(it["text"]) / S + 22
        box = [x * S, (y - 11) * S, (x + 18) * S, (y + 3) * S]
        if it["kind"] == "country":
            d.rounded_rectangle(box, radius=2 * S, fill=_rgb(it["color"]))
        else:
            d.rectangle(box, fill=(187, 187, 187, alpha))
            for i in range(-14, 18, 7):
                d.line([((x + max(i, 0)) * S, (y + 3 - max(-i, 0)) * S),
                        ((x + min(i + 14, 18)) * S, (y + 3 - min(14, 18 - i)) * S)],
                       fill=(*_rgb(EXPOSED_INK), 128), width=max(1, round(2.6 * S)))
            edge = [(box[0], box[1]), (box[2], box[1]), (box[2], box[3]), (box[0], box[3]), (box[0], box[1])]
            _dashed(d, edge, 4 * S, 3 * S, _rgb(EXPOSED_INK), max(1, round(1.3 * S)))
        text(x + 26, y, it["text"], 13, TEXT)

    if S != 1:
        img = img.resize((W, H), Image.Resampling.LANCZOS)
    img.save(path, format="PNG", optimize=False)


# ------------------------------------------------------------------------------------------------ files


def write_picture(plan, html_path: str | os.PathLike, png_path: str | os.PathLike | None = None,  # noqa: ANN001
                  title: str = DEFAULT_TITLE, outputs: OutputSet | None = None) -> dict[str, object]:
    """Write the Sankey as a self-contained HTML file and, with ``png_path``, as a PNG of the same layout.

    The files are written to temporary files beside their targets and replace them
    only when both are complete, so a failed run leaves every earlier file untouched.
    ``outputs``: the run's :class:`~planner.output.write.OutputSet`; the files are
    then only staged, and replace their targets when the set is committed.
    Returns ``{"html": Path, "png": Path | None, "png_s": seconds spent drawing the PNG}``.
    Raises :class:`planner.errors.OutputError` when a file cannot be written or Pillow is missing.
    """
    if outputs is None:
        with OutputSet() as own:
            out = write_picture(plan, html_path, png_path, title, own)
            own.commit()
        return out
    html_target = Path(html_path)
    png_target = None if png_path is None else Path(png_path)
    html_tmp = outputs.temp(html_target)
    png_tmp = None if png_target is None else outputs.temp(png_target)
    layout = sankey_layout(plan)
    page = sankey_html(plan, title, layout=layout)
    try:
        html_tmp.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise os_error(html_target, exc) from exc
    png_s = 0.0
    if png_tmp is not None:
        t0 = time.perf_counter()
        try:
            render_png(layout, png_tmp, title)
        except OSError as exc:
            raise os_error(png_target, exc) from exc
        png_s = time.perf_counter() - t0
    return {"html": html_target, "png": png_target, "png_s": png_s}


def _metal_card(plan) -> list[tuple[str, str]]:  # noqa: ANN001
    """The metal/alloy tier's China share, as on the Findings sheet (when the plan carries its Sourcing trace)."""
    from planner.results import tiers  # noqa: PLC0415

    sourcing = getattr(plan, "sourcing", None)
    if sourcing is None or not len(sourcing):
        return []
    share = tiers.country_share(tiers.by_country(sourcing))["metal"]
    return [] if share is None else [("Made in China: metal/alloy", _pct(share))]


def period_plan(plan, period: str | None = None) -> tuple[object, str]:  # noqa: ANN001 - planner.results.report.Plan
    """The plan a Sankey draws, and its period ("" for a one-year plan).

    A plan over periods is drawn one period at a time: the horizon's flows summed over the years would be a
    chain that never exists. Without ``period``, the first period: the chain to buy now, the one the
    decisions of this year commit to (later periods rest on capacity that may not arrive).

    Raises
    ------
    UsageError
        ``period`` is not one of the plan's periods, or the plan is for one year.
    """
    from planner.errors import UsageError  # noqa: PLC0415

    if plan.periods is None:
        if period is not None:
            raise UsageError(f"--period {period}: this plan is for one year; leave out --period")
        return plan, ""
    by = dict(plan.periods)
    if period is None:
        period = plan.periods[0][0]
    if period not in by:
        raise UsageError(f"--period {period}: not a period of this plan (its periods: {', '.join(by)})")
    return by[period], period
