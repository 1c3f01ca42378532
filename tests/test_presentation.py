"""Issue 15: the recommendation as a manager reads it: formats, sentences, China at every tier, comparisons.

The reference case's figures change as its data is rebuilt, so these tests assert structure and arithmetic
(figures recomputed from the plan's own flows), never today's numbers.
"""

from __future__ import annotations

import hashlib
import re
import time
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from planner.api import options_from, plan
from planner.input.validate import load
from planner.optimise.model import build_model
from planner.optimise.network import build_network
from planner.optimise.solve import solve
from planner.output.sheets import recommendation_tables
from planner.output.write import write_workbook
from planner.results import tiers
from planner.results.explain import explain
from planner.results.report import build_plan
from tests.conftest import build

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "inputs" / "rare_earth_magnets.xlsx"


@pytest.fixture(scope="module")
def ref(tmp_path_factory):  # noqa: ANN001, ANN201
    result = plan(load(REFERENCE))
    out = tmp_path_factory.mktemp("pres") / "plan.xlsx"
    write_workbook(out, recommendation_tables(result))
    return result, out


def rows_of(ws) -> dict[str, openpyxl.cell.Cell]:  # noqa: ANN001
    """Summary-style sheet: label in A -> the value cell in B."""
    return {r[0].value.strip(): r[1] for r in ws.iter_rows() if isinstance(r[0].value, str) and len(r) > 1}


# --------------------------------------------------------------------------- 1. Summary formats


def test_summary_formats_fit_each_unit(ref):
    result, out = ref
    cells = rows_of(openpyxl.load_workbook(out)["Summary"])
    share = cells["License-exposed share of deliveries"]
    assert "%" in share.number_format and share.value == pytest.approx(result.summary["exposed_share"])
    for label in ("Shortage", "Delivered", "Demand"):
        assert cells[label].number_format == "#,##0.0", label  # tonnes with one decimal, like Findings
    assert "Solve time" not in cells  # wall-clock seconds are in the JSON, not the workbook
    assert ",," in cells["Total cost"].number_format  # USD in M (each trailing comma divides by 1,000)
    labels = [r[0].value for r in openpyxl.load_workbook(out)["Summary"].iter_rows() if r[0].value]
    assert not any("Best bound" in str(v) for v in labels)  # a bound above the cost read as a negative gap
    units = {r[0].value.strip(): r[2].value for r in openpyxl.load_workbook(out)["Summary"].iter_rows()
             if isinstance(r[0].value, str)}
    qual = next(k for k in units if k.startswith("Qualification"))
    assert units[qual] != "USD/yr" and "one-off" in units[qual]


# --------------------------------------------------------------------------- 2. Findings do not depend on speed


def test_findings_do_not_depend_on_machine_speed(monkeypatch):
    inputs = load(REFERENCE)
    opts = options_from(inputs)
    model = build_model(inputs, build_network(inputs))
    result = solve(model, opts)
    fast = explain(model, result, build_plan(model, result), opts)
    clock = [time.perf_counter()]

    def slow() -> float:  # a machine on which every step seems to take 1,000 s
        clock[0] += 1000.0
        return clock[0]

    monkeypatch.setattr(time, "perf_counter", slow)
    loaded = explain(model, result, build_plan(model, result), opts)
    assert loaded.findings == fast.findings
    pd.testing.assert_frame_equal(loaded.limits, fast.limits)
    assert (fast.limits["limit"] == "no exposure").any() or not (result.x is not None)


def test_skipped_explanations_are_said_with_their_reason(monkeypatch):
    from planner.results import explain as ex  # noqa: PLC0415

    monkeypatch.setattr(ex, "RESOLVE_BELOW", 10)  # a "large" model: no re-solves at all
    r = plan(load(REFERENCE))
    notes = [f for f in r.explanation.findings if f.startswith("Not evaluated")]
    assert notes and all("variables" in n for n in notes), r.explanation.findings


# --------------------------------------------------------------------------- 4, 5. exposure on the cap's base


def exposure_case(cap: float = 0.5):  # noqa: ANN201
    """P needs 100 t; clean supply (C, US) 80 t, exposed (X, CN, licensed) the rest. Exposure capped on demand."""
    return build(
        [{"site_id": "C", "country": "US", "stage": "magnet"}, {"site_id": "X", "country": "CN", "stage": "magnet"},
         {"site_id": "P", "country": "DE", "stage": "plant"}],
        [{"site_id": "C", "product": "MAG", "capacity_t": 60, "unit_cost_usd_per_kg": 10},
         {"site_id": "X", "product": "MAG", "capacity_t": 100, "unit_cost_usd_per_kg": 5}],
        [{"from_site": "C", "to_site": "P"}, {"from_site": "X", "to_site": "P"}],
        [{"site_id": "P", "product": "MAG", "quantity_t": 100, "max_exposed_share": cap,
          "shortage_cost_usd_per_kg": 20}],
        controls=[{"country": "CN", "product": "MAG", "approval_probability": 0.9, "denial_cost_usd_per_kg": 1}],
    )


def test_exposure_is_shown_on_the_caps_base(tmp_path):
    r = plan(exposure_case(0.3))
    p = r.plants.iloc[0]
    assert p["exposed_t"] == pytest.approx(30.0) and p["delivered_t"] < 100  # capped on demand, partly short
    out = tmp_path / "p.xlsx"
    write_workbook(out, recommendation_tables(r))
    ws = openpyxl.load_workbook(out)["Plants"]
    head = [c.value for c in ws[1]]
    row = [c.value for c in ws[2]]
    of_demand = row[head.index("Exposed share of demand")]
    cap = row[head.index("Exposed cap (of demand)")]
    assert of_demand == pytest.approx(0.3) and of_demand <= cap + 1e-9
    assert row[head.index("Exposed share of deliveries")] == pytest.approx(30 / p["delivered_t"])


def test_exposure_finding_names_only_suppliers_of_exposed_tonnes():
    r = plan(exposure_case(0.5))
    line = next(f for f in r.explanation.findings if "license-exposed (from" in f)
    assert "(from X)" in line, line  # C ships clean magnets to P too: not to blame


# --------------------------------------------------------------------------- 8. a product nobody makes


def test_a_demanded_product_no_site_makes_is_named_not_blamed_on_the_shortage_cost():
    inp = build([{"site_id": "M", "country": "AU", "stage": "magnet"}, {"site_id": "P", "country": "US",
                                                                          "stage": "plant"}],
                [{"site_id": "M", "product": "NDFEB", "capacity_t": 60, "unit_cost_usd_per_kg": 10}],
                [{"from_site": "M", "to_site": "P"}],
                [{"site_id": "P", "product": "NDFEB", "quantity_t": 10},
                 {"site_id": "P", "product": "NDEFB", "quantity_t": 5}])
    r = plan(inp)
    text = " ".join(r.explanation.findings)
    assert "no site makes NDEFB" in text and 'did you mean "NDFEB"' in text
    assert not any("NDEFB" in f and "shortage cost" in f for f in r.explanation.findings)
    assert any("NDEFB" in w for w in r.warnings)


# --------------------------------------------------------------------------- 13. Run info


def test_run_info_has_the_file_name_its_hash_versions_and_assumptions(ref):
    result, out = ref
    ws = openpyxl.load_workbook(out)["Run info"]
    info = {r[0].value: r[1].value for r in ws.iter_rows(min_row=2)}
    assert info["input"] == REFERENCE.name  # not an absolute path of the machine that ran it
    assert not any(str(REPO) in str(v) for v in info.values() if v is not None)
    assert info["input_sha256"] == hashlib.sha256(REFERENCE.read_bytes()).hexdigest()
    assert re.search(r"highspy \d", info["versions"]), info["versions"]
    readme = (REPO / "README.md").read_text()
    block = readme.split("they are also in `Run info`):", 1)[1].split("\n\n", 2)[1]
    bullets = [b for b in block.split("\n- ") if b.strip()]
    assumptions = [k for k in info if str(k).startswith("assumption")]
    assert len(assumptions) == len(bullets) >= 5


# --------------------------------------------------------------------------- China at every tier


def test_china_by_tier_adds_up_and_matches_the_flows(ref):
    result, _ = ref
    table = tiers.by_country(result.sourcing)
    for (_plant, _product, _stage), g in table.groupby(["plant", "product", "stage"]):
        assert g["share"].sum() == pytest.approx(1.0)
    # the magnet tier is the plants' direct suppliers: recompute it from the flows into the plants
    f = result.flows
    p = result.plants
    into = f[f.set_index(["to_site", "product"]).index.isin(p.set_index(["site_id", "product"]).index)]
    direct = into.loc[into["from_stage"] == "magnet"]
    expected = direct.loc[direct["from_country"] == "CN", "tonnes"].sum() / direct["tonnes"].sum()
    assert tiers.country_share(table)["magnet"] == pytest.approx(expected)


def test_kpi_strip_opens_the_findings_sheet_with_china_by_tier(ref):
    result, out = ref
    ws = openpyxl.load_workbook(out)["Findings"]
    rows = list(ws.iter_rows(values_only=True))
    head = next(r for r in rows if r[0] == "Total cost (M USD/yr)")
    values = rows[rows.index(head) + 1]
    kpi = dict(zip(head, values, strict=False))
    shares = tiers.country_share(tiers.by_country(result.sourcing))
    assert kpi["Made in China: magnet"] == pytest.approx(shares["magnet"])
    assert kpi["Made in China: metal/alloy"] == pytest.approx(shares["metal"])
    assert kpi["Exposed share"] == pytest.approx(result.summary["exposed_share"])
    parts = result.cost_breakdown
    assert kpi["Cash cost (M USD/yr)"] == pytest.approx(
        sum(v for k, v in parts.items() if k not in ("shortage", "license_risk")))
    assert rows.index(head) < 6  # on the first screen
    text = " ".join(str(r[0]) for r in rows if r[0])
    assert "proportional tracing" in text and "mixes at each site" in text
    cells = rows_of(openpyxl.load_workbook(out)["Summary"])
    assert cells["Made in China: magnet"].value == pytest.approx(shares["magnet"])


def test_first_sentence_separates_cash_from_penalties(ref):
    result, _ = ref
    first = result.explanation.findings[0]
    assert first.startswith("The plan costs ")
    assert "cash" in first and "expected license loss" in first and "shortage penalty" in first


def test_charts_colour_every_country_and_label_a_zero_cap(tmp_path):
    r = plan(exposure_case(0.0))
    out = tmp_path / "p.xlsx"
    write_workbook(out, recommendation_tables(r))
    with zipfile.ZipFile(out) as z:
        xml = {n: z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")}
    exposure = next(x for x in xml.values() if "against the cap" in x)
    assert re.search(r"<(c:)?dLbls>", exposure) and re.search(r"showVal val=\"1\"", exposure)
    mix = next(x for x in xml.values() if "Supply mix per plant" in x)
    assert mix.count("srgbClr") >= 2  # China and the US each with their own fixed colour
    single = next(x for x in xml.values() if "Total cost by part" in x)
    assert not re.search(r"<(c:)?legend>", single)


def test_tables_have_readable_headers_names_and_print_titles(ref):
    result, out = ref
    wb = openpyxl.load_workbook(out)
    ws = wb["Plants"]
    head = [c.value for c in ws[1]]
    assert "Demand (t)" in head and not any("_" in str(h) for h in head)
    names = set(result.sites.set_index("site_id")["name"].dropna())
    assert {c.value for c in ws["A"][1:]} <= names  # plants by name; the id is in its own column
    assert ws.print_title_rows == "$1:$1"
    widths = {k: v.width for k, v in ws.column_dimensions.items()}
    longest = max(len(str(c.value)) for c in ws["A"] if c.value)
    assert widths["A"] >= min(longest, 60)


# --------------------------------------------------------------------------- 3. batches: only real change


@pytest.fixture(scope="module")
def ref_batch():  # noqa: ANN201
    from planner.whatif.batch import run_batch  # noqa: PLC0415
    from planner.whatif.scenarios import parse_whatif  # noqa: PLC0415

    from planner.input.validate import load_whatif  # noqa: PLC0415

    inputs = load(REFERENCE)
    whatif = load_whatif(REPO / "inputs" / "whatif_reference.xlsx")
    return run_batch(inputs, parse_whatif(whatif), options_from(inputs), jobs=1)


def test_a_scenario_that_costs_the_same_shows_no_flow_changes(ref_batch):
    from planner.whatif.batch import comparison, flow_changes  # noqa: PLC0415

    comp = comparison(ref_batch).set_index("scenario")
    changes = flow_changes(ref_batch)
    same = [s for s, r in comp.iloc[1:].iterrows()
            if r["status"] == "optimal" and abs(r["delta_cost_usd"]) <= 1e-7 * abs(r["total_cost_usd"])]
    assert same, "the bundled what-ifs have scenarios that change nothing"
    noisy = changes[changes["scenario"].isin(same)]
    assert noisy.empty, noisy.groupby("scenario")["change_t"].apply(lambda c: c.abs().sum())


def test_comparison_shows_changes_china_a_ranking_and_why_nothing_changed(ref_batch):
    from planner.whatif.batch import comparison  # noqa: PLC0415

    comp = comparison(ref_batch)
    base = comp.iloc[0]
    for col in ("delta_exposed_share", "delta_shortage_t", "china_magnet_share", "china_metal_share",
                "delta_china_magnet_share", "delta_cash_usd", "delta_shortage_penalty_usd", "rank", "reading"):
        assert col in comp.columns, col
    planned = comp[comp["total_cost_usd"].notna()]
    assert sorted(planned["rank"].astype(int)) == list(range(1, len(planned) + 1))
    assert planned.sort_values("rank")["total_cost_usd"].is_monotonic_increasing
    for _, r in planned.iloc[1:].iterrows():
        assert r["delta_shortage_t"] == pytest.approx(r["shortage_t"] - base["shortage_t"])
        assert r["delta_china_magnet_share"] == pytest.approx(r["china_magnet_share"] - base["china_magnet_share"])
        assert r["delta_cash_usd"] + r["delta_shortage_penalty_usd"] + r["delta_license_risk_usd"] == pytest.approx(
            r["delta_cost_usd"], abs=1.0)
        if abs(r["delta_cost_usd"]) <= 1e-7 * abs(r["total_cost_usd"]):
            assert "no effect" in r["reading"].lower() and "because" in r["reading"], r["reading"]
        else:
            assert "cash" in r["reading"] and "shortage" in r["reading"], r["reading"]


def test_batch_workbook_charts_cost_and_china_share(ref_batch, tmp_path):
    from planner.output.sheets import batch_tables  # noqa: PLC0415
    from planner.whatif.batch import comparison, flow_changes  # noqa: PLC0415

    out = tmp_path / "b.xlsx"
    write_workbook(out, batch_tables(ref_batch, comparison(ref_batch), flow_changes(ref_batch)))
    with zipfile.ZipFile(out) as z:
        xml = " ".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart"))
    assert "Total cost per scenario" in xml and "Made in China per scenario" in xml
    ws = openpyxl.load_workbook(out)["Comparison"]
    head = [c.value for c in next(r for r in ws.iter_rows() if r[0].value == "Scenario")]
    assert "Rank" in head and "Reading" in head


# --------------------------------------------------------------------------- sweep, command line, template


def test_sweep_sentence_splits_cash_and_shortage_and_charts_sit_under_the_table(tmp_path):
    from planner.output.sheets import sweep_tables  # noqa: PLC0415
    from planner.whatif.batch import run_batch  # noqa: PLC0415
    from planner.whatif.sweep import headline, points, sweep_frame  # noqa: PLC0415

    inputs = exposure_case(1.0)
    pts = points("max_exposed_share", 1, 0, 3)
    out = run_batch(inputs, pts, options_from(inputs), jobs=1)
    frame = sweep_frame(out, [float(p.changes[0].value) for p in pts])
    sentence = headline(frame, "max_exposed_share")
    assert "cash" in sentence and "shortage penalty" in sentence, sentence
    path = tmp_path / "s.xlsx"
    write_workbook(path, sweep_tables(frame, "max_exposed_share", sentence))
    with zipfile.ZipFile(path) as z:
        drawing = z.read("xl/drawings/drawing1.xml").decode()
    cols = [int(c) for c in re.findall(r"<(?:xdr:)?col>(\d+)</", drawing)]
    assert cols and max(cols) <= 1, cols  # anchored at column A, under the table: visible without scrolling


def test_template_refuses_to_overwrite_without_force(tmp_path):
    from click.testing import CliRunner  # noqa: PLC0415

    from planner.cli import main  # noqa: PLC0415

    target = tmp_path / "mine.xlsx"
    target.write_bytes(b"filled in by hand")
    res = CliRunner().invoke(main, ["template", str(target)])
    assert res.exit_code == 2 and "--force" in res.output
    assert target.read_bytes() == b"filled in by hand"
    res = CliRunner().invoke(main, ["template", str(target), "--force"])
    assert res.exit_code == 0 and target.read_bytes().startswith(b"PK")


def test_template_drop_downs_warn_and_defaults_read_yes_no(tmp_path):
    from planner.output.sheets import template_workbook  # noqa: PLC0415

    out = tmp_path / "t.xlsx"
    template_workbook(out)
    wb = openpyxl.load_workbook(out)
    dvs = [dv for ws in wb.worksheets for dv in ws.data_validations.dataValidation]
    assert dvs and all(dv.showErrorMessage for dv in dvs)
    text = "\n".join(str(r[0]) for r in wb["Instructions"].iter_rows(values_only=True) if r[0])
    assert "True" not in text and "False" not in text


def test_terminal_tables_do_not_cut_names_or_values(tmp_path):
    from click.testing import CliRunner  # noqa: PLC0415

    from planner.cli import main  # noqa: PLC0415
    from tests.test_validate import good, write_xlsx  # noqa: PLC0415

    src = write_xlsx(tmp_path / "in.xlsx", good())
    param = "Supply:MINE_AU/ORE:unit_cost_usd_per_kg"  # point names longer than 40 characters
    res = CliRunner().invoke(main, ["sweep", str(src), "--param", param, "--from", "6", "--to", "600",
                                    "--steps", "2", "-o", str(tmp_path / "s.xlsx"), "--jobs", "1"])
    assert res.exit_code == 0, res.output
    assert f"{param} = 6 " in res.output and f"{param} = 600 " in res.output, res.output


def test_a_sweep_in_which_every_point_fails_exits_non_zero_and_writes_nothing(tmp_path):
    from click.testing import CliRunner  # noqa: PLC0415

    from planner.cli import main  # noqa: PLC0415
    from tests.test_validate import good, write_xlsx  # noqa: PLC0415

    src = write_xlsx(tmp_path / "in.xlsx", good())
    out = tmp_path / "s.xlsx"
    res = CliRunner().invoke(main, ["sweep", str(src), "--param", "Supply:NOPE/X:capacity_t", "--from", "1",
                                    "--to", "2", "--steps", "2", "-o", str(out), "--jobs", "1"])
    assert res.exit_code != 0 and not out.exists(), res.output
