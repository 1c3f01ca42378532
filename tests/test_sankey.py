"""The supply-chain Sankey picture: one link per used lane, tonnes that add up, nothing fetched at view time."""

from __future__ import annotations

import re
import struct
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from planner.api import plan
from planner.errors import OutputError
from planner.input.validate import load
from planner.output import sankey
from planner.output.sankey import sankey_html, sankey_layout, write_picture
from tests.conftest import build

REFERENCE = Path(__file__).resolve().parents[1] / "inputs" / "rare_earth_magnets.xlsx"


class _Links(HTMLParser):
    """Every element carrying data-from (a link), with its class and the text of its <title>."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict] = []
        self.nodes: list[dict] = []
        self._open: list[dict | None] = []
        self._title: dict | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        item = None
        if "data-from" in a:
            item = {**a, "tag": tag, "title": ""}
            self.links.append(item)
        elif "data-site" in a:
            item = {**a, "tag": tag, "title": ""}
            self.nodes.append(item)
        self._open.append(item)
        if tag == "title":
            self._title = next((x for x in reversed(self._open[:-1]) if x is not None), None)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._title = None
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._title is not None:
            self._title["title"] += data


def _parse(page: str) -> _Links:
    p = _Links()
    p.feed(page)
    p.close()
    return p


@pytest.fixture(scope="module")
def ref_plan():  # noqa: ANN201
    return plan(load(REFERENCE))


@pytest.fixture(scope="module")
def ref_html(ref_plan) -> str:  # noqa: ANN001
    return sankey_html(ref_plan, "Reference plan")


def _used(p) -> pd.DataFrame:  # noqa: ANN001
    f = p.flows
    return f[(f["tonnes"] > 0) & (f["from_site"] != f["to_site"])]


def test_one_link_element_per_used_lane(ref_plan, ref_html):  # noqa: ANN001
    links = _parse(ref_html).links
    used = _used(ref_plan)
    assert len(used) > 10
    assert len(links) == len(used)
    assert sorted((a["data-from"], a["data-to"], a["data-product"]) for a in links) == sorted(
        zip(used["from_site"], used["to_site"], used["product"], strict=True))
    # full precision: the attribute reads back as the very float of the plan
    by_key = {(r.from_site, r.to_site, r.product): float(r.tonnes) for r in used.itertuples()}
    for a in links:
        assert float(a["data-tonnes"]) == by_key[(a["data-from"], a["data-to"], a["data-product"])]


def test_tonnes_into_each_plant_equal_its_deliveries(ref_plan, ref_html):  # noqa: ANN001
    into: dict[str, float] = {}
    for a in _parse(ref_html).links:
        into[a["data-to"]] = into.get(a["data-to"], 0.0) + float(a["data-tonnes"])
    delivered = ref_plan.plants.groupby("site_id")["delivered_t"].sum()
    assert len(delivered) >= 5
    for site, t in delivered.items():
        assert into.get(site, 0.0) == pytest.approx(float(t), abs=1e-6), site


def test_exposed_links_are_marked_with_their_share(ref_plan, ref_html):  # noqa: ANN001
    links = _parse(ref_html).links
    exposed = {(r.from_site, r.to_site, r.product): float(r.exposed_t)
               for r in _used(ref_plan).itertuples() if r.exposed_t > 0}
    assert exposed, "the reference case has license-exposed flows"
    for a in links:
        key = (a["data-from"], a["data-to"], a["data-product"])
        classes = a["class"].split()
        assert ("exposed" in classes) == (key in exposed), key
        if key in exposed:
            assert f"exposed {exposed[key]:,.1f} t" in a["title"]
    assert "License-exposed" in ref_html  # in the legend


def test_link_tooltips_read_from_to_product_tonnes_lead_time(ref_plan, ref_html):  # noqa: ANN001
    names = ref_plan.sites.set_index("site_id")["name"]
    used = _used(ref_plan).set_index(["from_site", "to_site", "product"])
    pattern = re.compile(r"^(.+) -> (.+): (\S+), ([\d,]+\.\d) t( \(exposed [\d,]+\.\d t, [\d.]+% of the lane\))?"
                         r", lead time (\d+) days$")
    for a in _parse(ref_html).links:
        m = pattern.match(a["title"])
        assert m, a["title"]
        row = used.loc[(a["data-from"], a["data-to"], a["data-product"])]
        assert m.group(1) == names[a["data-from"]] and m.group(2) == names[a["data-to"]]
        assert m.group(3) == a["data-product"]
        assert m.group(4) == f"{row['tonnes']:,.1f}"
        assert int(m.group(6)) == int(row["lead_time_days"])


def test_page_is_self_contained(ref_plan, ref_html):  # noqa: ANN001
    assert ref_html.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?:|ftp:|//[a-z]", ref_html, re.IGNORECASE)
    assert not re.search(r"\b(src|href)\s*=|@import|<link\b|<iframe|<img\b", ref_html, re.IGNORECASE)
    assert all(u.startswith("url(#") for u in re.findall(r"url\([^)]*\)", ref_html))
    # headline figures, column titles and a label per node, with its country
    for text in ("Total cost", "Shortage", "License-exposed", "MINES", "REFINERS", "METAL &amp; ALLOY", "MAGNETS",
                 "PLANTS"):
        assert text in ref_html
    nodes = _parse(ref_html).nodes
    used = _used(ref_plan)
    assert {n["data-site"] for n in nodes} == set(used["from_site"]) | set(used["to_site"])
    assert ">Japan · " in ref_html and ">China · " in ref_html


def test_layout_orders_by_country_and_is_deterministic(ref_plan):  # noqa: ANN001
    a, b = sankey_layout(ref_plan), sankey_layout(ref_plan)
    assert a == b
    assert sankey_html(ref_plan, "x") == sankey_html(ref_plan, "x")
    assert [c["title"] for c in a["columns"]] == ["Mines", "Refiners", "Metal & alloy", "Magnets", "Plants"]
    by_col: dict[int, list[dict]] = {}
    for n in a["nodes"]:
        by_col.setdefault(n["column"], []).append(n)
    for col in by_col.values():
        col.sort(key=lambda n: n["y"])
        order = [n["country"] for n in col]
        # one contiguous run per country, China's first, and throughput descending inside a run
        runs = [c for i, c in enumerate(order) if i == 0 or order[i - 1] != c]
        assert len(runs) == len(set(runs)), order
        if "CN" in order:
            assert order[0] == "CN"
        for prev, nxt in zip(col, col[1:], strict=False):
            assert nxt["y"] >= prev["y"] + prev["h"]  # no overlap
            if prev["country"] == nxt["country"]:
                assert prev["value_t"] >= nxt["value_t"]
    scale = a["scale"]
    for ln in a["links"]:
        assert ln["width"] == pytest.approx(ln["tonnes"] * scale)
    china = {n["color"] for n in a["nodes"] if n["country"] == "CN"}
    assert china == {sankey.CHINA_COLOR}
    assert sankey.CHINA_COLOR not in {n["color"] for n in a["nodes"] if n["country"] != "CN"}


def test_write_picture_html_and_png(ref_plan, tmp_path):  # noqa: ANN001
    html_path, png_path = tmp_path / "chain.html", tmp_path / "chain.png"
    html_path.write_text("old")
    out = write_picture(ref_plan, html_path, png_path, title="Board view")
    assert out["html"] == html_path and out["png"] == png_path
    page = html_path.read_text(encoding="utf-8")
    assert "<title>Board view</title>" in page and len(_parse(page).links) == len(_used(ref_plan))
    data = png_path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    width, height = struct.unpack(">II", data[16:24])
    assert width == sankey.WIDTH and 600 <= height <= 4000
    from PIL import Image  # noqa: PLC0415

    with Image.open(png_path) as im:
        im.load()
        assert im.size == (width, height)
        colours = {c for _, c in im.convert("RGB").getcolors(maxcolors=1 << 20)}
    assert (214, 39, 40) in colours  # China's red, on the nodes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chain.html", "chain.png"]  # no temporary files left


def test_failed_png_leaves_old_files_and_no_temporaries(ref_plan, tmp_path, monkeypatch):  # noqa: ANN001
    png_path = tmp_path / "chain.png"
    png_path.write_bytes(b"old picture")

    def boom(*_a, **_k) -> None:
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(sankey, "render_png", boom)
    with pytest.raises(RuntimeError):
        write_picture(ref_plan, tmp_path / "chain.html", png_path)
    assert png_path.read_bytes() == b"old picture"
    # both or neither: the HTML, complete before the PNG failed, is not written either
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chain.png"]
    with pytest.raises(OutputError, match="does not exist"):
        write_picture(ref_plan, tmp_path / "missing" / "chain.html")


def test_tiny_plan_with_two_lanes_has_two_links(tmp_path):  # noqa: ANN001
    inp = build(
        [{"site_id": "A", "country": "AU", "stage": "mine"}, {"site_id": "B", "country": "CN", "stage": "mine"},
         {"site_id": "P", "country": "DE", "stage": "plant"}],
        [{"site_id": "A", "product": "X", "capacity_t": 20, "unit_cost_usd_per_kg": 1},
         {"site_id": "B", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 3}],
        [{"from_site": "A", "to_site": "P"}, {"from_site": "B", "to_site": "P"}],
        [{"site_id": "P", "product": "X", "quantity_t": 50}],
    )
    p = plan(inp)
    out = write_picture(p, tmp_path / "tiny.html", tmp_path / "tiny.png")
    links = _parse(out["html"].read_text(encoding="utf-8")).links
    assert sorted((a["data-from"], a["data-to"], float(a["data-tonnes"])) for a in links) == [
        ("A", "P", pytest.approx(20.0)), ("B", "P", pytest.approx(30.0))]
    assert out["png"].stat().st_size > 1000
    layout = sankey_layout(p)
    # every stage between the first and the last one used keeps its column; China first among the mines
    assert [c["stage"] for c in layout["columns"]] == ["mine", "refiner", "metal", "magnet", "plant"]
    assert [n["id"] for n in layout["nodes"] if n["column"] == 0] == ["B", "A"]


def _fake_plan(rows: list[tuple]) -> SimpleNamespace:
    sites = pd.DataFrame(
        [("M1", "Mine one", "CN", "mine"), ("M2", "Mine two", "AU", "mine"), ("R1", "Refiner one", "CN", "refiner"),
         ("R2", "Refiner two", "FR", "refiner"), ("G1", "Integrated <magnet> & co", "US", "magnet"),
         ("P1", "Plant one", "US", "plant")],
        columns=["site_id", "name", "country", "stage"])
    sites["company"] = "Co"
    flows = pd.DataFrame(rows, columns=["from_site", "to_site", "product", "tonnes", "exposed_t"])
    flows["lead_time_days"] = 100
    return SimpleNamespace(
        flows=flows, sites=sites, plants=pd.DataFrame(columns=["site_id", "shortage_t"]), status="optimal",
        summary={"status": "optimal", "total_cost_usd": 1.0, "delivered_t": 0.0, "demand_t": 0.0, "exposed_t": 0.0,
                 "exposed_share": 0.0, "shortage_t": 0.0})


def test_self_loops_inner_stage_lanes_and_skipped_stages(tmp_path):  # noqa: ANN001
    p = _fake_plan([
        ("M1", "R1", "ORE", 100.0, 0.0), ("M2", "R2", "ORE", 50.0, 0.0), ("R1", "R2", "OX", 30.0, 30.0),
        ("R1", "R1", "OX", 5.0, 0.0), ("R1", "G1", "OX", 20.0, 0.0), ("R2", "G1", "OX", 60.0, 0.0),
        ("G1", "P1", "MAG", 40.0, 0.0), ("M1", "R1", "ORE2", 0.0, 0.0),
    ])
    layout = sankey_layout(p)
    assert len(layout["links"]) == 6  # the self-loop and the empty lane are not drawn
    nodes = {n["id"]: n for n in layout["nodes"]}
    assert nodes["R1"]["column"] == nodes["R2"]["column"] == 1
    assert nodes["R2"]["x"] > nodes["R1"]["x"]  # fed by R1: a little to the right in the same column
    assert nodes["G1"]["column"] == 3  # the metal column stays, empty
    page = sankey_html(p, "Synthetic <test>")
    assert len(_parse(page).links) == 6
    assert "Integrated &lt;magnet&gt; &amp; co" in page and "<magnet>" not in page
    out = write_picture(p, tmp_path / "s.html", tmp_path / "s.png")
    assert out["png"].stat().st_size > 1000


def test_a_plan_without_shipments_still_draws(tmp_path):  # noqa: ANN001
    p = _fake_plan([])
    out = write_picture(p, tmp_path / "e.html", tmp_path / "e.png")
    page = out["html"].read_text(encoding="utf-8")
    assert _parse(page).links == [] and "No shipments in this plan" in page
    assert out["png"].stat().st_size > 1000


def test_solve_picture_writes_the_diagram_next_to_the_workbook(tmp_path):
    import json  # noqa: PLC0415

    from click.testing import CliRunner  # noqa: PLC0415

    from planner.cli import main  # noqa: PLC0415

    out = tmp_path / "plan.xlsx"
    res = CliRunner().invoke(main, ["solve", "-o", str(out), "--picture", "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    html, png = tmp_path / "plan_chain.html", tmp_path / "plan_chain.png"
    assert payload["pictures"] == [str(html), str(png)]
    text = html.read_text()
    assert text.startswith("<!DOCTYPE html>") or text.lstrip().lower().startswith("<!doctype html>")
    assert "<svg" in text and text.count("data-tonnes=") >= len(payload["plants"]) - 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.xlsx", "plan_chain.html", "plan_chain.png"]
