"""Checks of the bundled reference datasets; all but the five-year case's need no planner code.

Two cases, each a folder of CSVs (the source of truth, with ``Sources.csv``
giving the provenance of every figure) compiled by ``scripts/build_reference.py``:

* ``2026`` (the bundled default): ``inputs/reference/`` -> ``inputs/rare_earth_magnets.xlsx``;
* ``v1_2025`` (the first case, frozen because tests assert its figures):
  ``inputs/v1_2025/reference/`` -> ``inputs/rare_earth_magnets_v1_2025.xlsx``;
* ``2026_2030`` (the 2026 case over five years, contract v2): ``inputs/reference/`` with the changes by
  year in ``inputs/horizon/`` -> ``inputs/rare_earth_magnets_2026_2030.xlsx``; read through the planner's
  own validation, and planned once.

The structural checks run on both; the domain checks are per case.
"""
from __future__ import annotations

import math
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "inputs" / "reference"
XLSX = ROOT / "inputs" / "rare_earth_magnets.xlsx"
BUILD = ROOT / "scripts" / "build_reference.py"
# case -> (CSV folder, workbook, what-if workbook)
CASES = {
    "2026": (REF, XLSX, ROOT / "inputs" / "whatif_reference.xlsx"),
    "v1_2025": (ROOT / "inputs" / "v1_2025" / "reference", ROOT / "inputs" / "rare_earth_magnets_v1_2025.xlsx",
                ROOT / "inputs" / "whatif_v1_2025.xlsx"),
}

# Contract v1 sheets and columns, in contract order.
CONTRACT = {
    "Sites": ["site_id", "name", "company", "country", "stage", "status",
              "qualification_cost_usd", "min_volume_t", "processing_days"],
    "Supply": ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg"],
    "Recipes": ["product", "input", "input_t_per_t", "site_id"],
    "CoProducts": ["product", "coproduct", "coproduct_t_per_t", "site_id"],
    "Lanes": ["from_site", "to_site", "product", "freight_usd_per_kg",
              "duty_usd_per_kg", "tariff_pct", "transit_days"],
    "Demand": ["site_id", "product", "quantity_t", "max_lead_time_days",
               "max_exposed_share", "shortage_cost_usd_per_kg"],
    "Controls": ["country", "product", "approval_probability", "approval_days",
                 "denial_cost_usd_per_kg", "content_rule", "note"],
    "Settings": ["key", "value"],
}
SOURCES_COLS = ["sheet", "row_key", "column", "value", "tag", "basis"]
ID_COLS = {
    "Sites": ["site_id"], "Supply": ["site_id", "product"],
    "Recipes": ["product", "input", "site_id"],
    "CoProducts": ["product", "coproduct", "site_id"],
    "Lanes": ["from_site", "to_site", "product"], "Demand": ["site_id", "product"],
    "Controls": ["country", "product"], "Settings": ["key"],
}
NUMERIC = {
    "Sites": ["qualification_cost_usd", "min_volume_t", "processing_days"],
    "Supply": ["capacity_t", "unit_cost_usd_per_kg"],
    "Recipes": ["input_t_per_t"],
    "CoProducts": ["coproduct_t_per_t"],
    "Lanes": ["freight_usd_per_kg", "duty_usd_per_kg", "tariff_pct", "transit_days"],
    "Demand": ["quantity_t", "max_lead_time_days", "max_exposed_share",
               "shortage_cost_usd_per_kg"],
    "Controls": ["approval_probability", "approval_days", "denial_cost_usd_per_kg"],
    "Settings": [],  # value is mixed text/number, checked separately
}
STAGES = {"mine", "refiner", "metal", "magnet", "plant"}
TAGS = {"[S]", "[D]", "[E]", "[U]"}
# Lanes kept from domain.md 6.1 that carry nothing in the baseline because no
# plant at the far end demands SmCo (documented in inputs/reference/README.md).
INACTIVE_LANES = {
    ("MAG_CN_SMCO", "DM_DE_VW_KASSEL"),
    ("MAG_CN_SMCO", "DM_DE_SGRE"),
    ("MAG_CN_SMCO", "DM_JP_AICHI"),
}


# --------------------------------------------------------------------------
# loading

def read_csv(name: str, ref: Path = REF) -> pd.DataFrame:
    # dtype=str and keep_default_na=False: "NA" is Namibia, not a missing value.
    return pd.read_csv(ref / f"{name}.csv", dtype=str, keep_default_na=False)


def num(s: str) -> float | None:
    s = s.strip()
    return None if s == "" else float(s)


def load_case(case: str) -> dict[str, pd.DataFrame]:
    ref = CASES[case][0]
    out = {name: read_csv(name, ref) for name in CONTRACT}
    out["Sources"] = read_csv("Sources", ref)
    return out


@pytest.fixture(scope="module", params=list(CASES))
def case(request) -> str:  # noqa: ANN001
    return request.param


@pytest.fixture(scope="module")
def data(case) -> dict[str, pd.DataFrame]:  # noqa: ANN001
    return load_case(case)


def row_key(sheet: str, row) -> str:
    return "/".join(row[c] for c in ID_COLS[sheet])


# --------------------------------------------------------------------------
# model helpers (pure data; mirror the contract's definitions)

class Model:
    def __init__(self, d: dict[str, pd.DataFrame]):
        self.sites = {r.site_id: r for r in d["Sites"].itertuples(index=False)}
        self.proc = {s: (num(r.processing_days) or 0.0) for s, r in self.sites.items()}
        self.makes = defaultdict(set)                 # site -> products
        for r in d["Supply"].itertuples(index=False):
            self.makes[r.site_id].add(r.product)
        self.generic = defaultdict(dict)              # product -> {input: f}
        self.specific = defaultdict(dict)             # (product, site) -> {input: f}
        for r in d["Recipes"].itertuples(index=False):
            if r.site_id:
                self.specific[(r.product, r.site_id)][r.input] = float(r.input_t_per_t)
            else:
                self.generic[r.product][r.input] = float(r.input_t_per_t)
        self.coprod = {}                              # (site, coproduct) -> main
        self.coprod_generic = {}                      # coproduct -> main
        for r in d["CoProducts"].itertuples(index=False):
            if r.site_id:
                self.coprod[(r.site_id, r.coproduct)] = r.product
            else:
                self.coprod_generic[r.coproduct] = r.product
        self.controls = {(r.country, r.product): r for r in d["Controls"].itertuples(index=False)}
        self.lanes = list(d["Lanes"].itertuples(index=False))
        self.demand = list(d["Demand"].itertuples(index=False))

    # recipe that applies to product p at site s ({} = raw material)
    def recipe(self, p: str, s: str) -> dict[str, float]:
        if (p, s) in self.specific:
            return self.specific[(p, s)]
        return self.generic.get(p, {})

    def main_of(self, s: str, p: str) -> str | None:
        m = self.coprod.get((s, p))
        if m is None and p in self.coprod_generic and self.coprod_generic[p] in self.makes[s]:
            m = self.coprod_generic[p]
        return m if m is not None and m in self.makes[s] else None

    def uses(self, s: str) -> set[str]:
        out = set()
        for p in self.makes[s]:
            if self.main_of(s, p) is None:
                out |= set(self.recipe(p, s))
        return out

    def demands(self, s: str) -> set[str]:
        return {r.product for r in self.demand if r.site_id == s}

    # lane group matching per the contract
    def matches(self, pattern: str, s: str) -> int | None:
        """Specificity of `pattern` for site s (4 site .. 0 '*'), None if no match."""
        site = self.sites[s]
        if pattern == "*":
            return 0
        if pattern.startswith("stage:"):
            return 1 if site.stage == pattern[6:] else None
        if pattern.startswith("country:"):
            return 2 if site.country == pattern[8:] else None
        if pattern.startswith("company:"):
            return 3 if site.company == pattern[8:] else None
        return 4 if pattern == s else None

    def lane(self, a: str, b: str, p: str):
        """The governing lane row for sending product p from a to b, or None."""
        best, best_rank = None, None
        for i, r in enumerate(self.lanes):
            if r.product and r.product != p:
                continue
            fa, tb = self.matches(r.from_site, a), self.matches(r.to_site, b)
            if fa is None or tb is None or a == b:
                continue
            rank = (1 if r.product else 0, fa, tb, i)
            if best_rank is None or rank > best_rank:
                best, best_rank = r, rank
        return best

    def arcs(self):
        """(from, to, product, lane row) for every product a lane can carry."""
        out = []
        for a in self.sites:
            for b in self.sites:
                if a == b:
                    continue
                wanted = self.uses(b) | self.demands(b)
                for p in sorted(self.makes[a] & wanted):
                    r = self.lane(a, b, p)
                    if r is not None:
                        out.append((a, b, p, r))
        return out

    def licence(self, a: str, b: str, p: str):
        ca, cb = self.sites[a].country, self.sites[b].country
        if ca == cb:
            return None
        return self.controls.get((ca, p)) or self.controls.get((ca, "*"))

    def best_lead_times(self, clean_only: bool = False):
        """Best-case lead time of each (site, product): min over sources of the
        max over recipe inputs (the contract's longest-chain rule). With
        clean_only, routes through a licence event are not allowed
        (content_rule is 'no' everywhere in the reference case)."""
        arcs = self.arcs()
        into = defaultdict(list)
        for a, b, p, r in arcs:
            into[(b, p)].append((a, r))
        inf = math.inf
        L = {(s, p): inf for s in self.sites for p in self.makes[s]}
        for _ in range(len(self.sites) + 2):
            changed = False
            for (s, p) in L:
                main = self.main_of(s, p)
                if main is not None:
                    v = L[(s, main)]
                else:
                    worst = 0.0
                    for inp in self.recipe(p, s):
                        best = inf
                        for a, r in into[(s, inp)]:
                            lic = self.licence(a, s, inp)
                            if lic is not None and clean_only:
                                continue
                            extra = (num(lic.approval_days) or 0.0) if lic is not None else 0.0
                            best = min(best, L[(a, inp)] + (num(r.transit_days) or 0.0) + extra)
                        worst = max(worst, best)
                    v = self.proc[s] + worst
                if v < L[(s, p)]:
                    L[(s, p)] = v
                    changed = True
            if not changed:
                break
        delivered = {}
        for d in self.demand:
            best = inf
            for a, r in into[(d.site_id, d.product)]:
                lic = self.licence(a, d.site_id, d.product)
                if lic is not None and clean_only:
                    continue
                extra = (num(lic.approval_days) or 0.0) if lic is not None else 0.0
                best = min(best, L[(a, d.product)] + (num(r.transit_days) or 0.0) + extra)
            delivered[(d.site_id, d.product)] = best
        return L, delivered


@pytest.fixture(scope="module")
def model(data) -> Model:
    return Model(data)


# --------------------------------------------------------------------------
# the workbook

@pytest.mark.parametrize("name", list(CASES))
def test_workbook_matches_fresh_build(tmp_path, name):
    _, xlsx, whatif = CASES[name]
    assert xlsx.exists(), "run: python scripts/build_reference.py"
    fresh = tmp_path / "fresh.xlsx"
    fresh_whatif = tmp_path / "fresh_whatif.xlsx"
    subprocess.run([sys.executable, str(BUILD), "--case", name, "--out", str(fresh), "--whatif-out", str(fresh_whatif)],
                   check=True, cwd=ROOT)
    assert whatif.read_bytes() == fresh_whatif.read_bytes(), \
        f"{whatif.relative_to(ROOT)} is stale: run python scripts/build_reference.py"
    a = openpyxl.load_workbook(xlsx, read_only=True, data_only=False)
    b = openpyxl.load_workbook(fresh, read_only=True, data_only=False)
    assert a.sheetnames == b.sheetnames
    assert a.sheetnames == list(CONTRACT) + ["Sources", "About"]
    for name in a.sheetnames:
        va = [tuple(r) for r in a[name].iter_rows(values_only=True)]
        vb = [tuple(r) for r in b[name].iter_rows(values_only=True)]
        assert va == vb, f"sheet {name} differs from a fresh build"


def test_build_is_byte_stable(tmp_path):
    one, two = tmp_path / "one.xlsx", tmp_path / "two.xlsx"
    for out in (one, two):
        subprocess.run([sys.executable, str(BUILD), "--out", str(out), "--whatif-out", str(out) + ".whatif.xlsx"],
                       check=True, cwd=ROOT)
    assert one.read_bytes() == two.read_bytes()


def test_workbook_text_is_text_and_numbers_are_numbers(case):
    wb = openpyxl.load_workbook(CASES[case][1])
    for sheet, cols in CONTRACT.items():
        ws = wb[sheet]
        header = [c.value for c in ws[1]]
        assert header == cols
        assert ws.freeze_panes == "A2"
        for row in ws.iter_rows(min_row=2):
            for col, cell in zip(cols, row):
                if cell.value is None:
                    continue
                assert cell.data_type != "f", (sheet, cell.coordinate)
                if col in NUMERIC[sheet]:
                    assert isinstance(cell.value, (int, float)), (sheet, cell.coordinate)
                elif sheet != "Settings":
                    assert isinstance(cell.value, str), (sheet, cell.coordinate)


# --------------------------------------------------------------------------
# shape of the CSVs

def test_csv_columns_are_the_contract_columns(data):
    for sheet, cols in CONTRACT.items():
        assert list(data[sheet].columns) == cols, sheet
    assert list(data["Sources"].columns) == SOURCES_COLS


def test_numeric_columns_parse_and_keys_are_unique(data):
    for sheet, cols in NUMERIC.items():
        df = data[sheet]
        for c in cols:
            for v in df[c]:
                if v.strip():
                    float(v)
        keys = [row_key(sheet, r) for _, r in df.iterrows()]
        assert len(keys) == len(set(keys)), f"duplicate keys in {sheet}"


def test_sites(data):
    sites = data["Sites"]
    assert 55 <= len(sites) <= 65, len(sites)          # domain.md 6.1 proposes 59
    assert set(sites.stage) <= STAGES
    assert set(sites.stage) == STAGES
    assert set(sites.status) <= {"qualified", "candidate"}
    for r in sites.itertuples(index=False):
        assert len(r.country) == 2 and r.country.isalpha() and r.country.isupper(), r
        if r.status == "candidate":
            assert 0 < float(r.qualification_cost_usd) <= 10e6, r.site_id
    n_cand = (sites.status == "candidate").sum()
    assert 3 <= n_cand <= 8, n_cand                     # keep the MIP small
    assert (sites.stage == "plant").sum() == 9


def test_references_exist(data):
    sites = data["Sites"]
    ids = set(sites.site_id)
    stage_of = dict(zip(sites.site_id, sites.stage))
    for r in data["Supply"].itertuples(index=False):
        assert r.site_id in ids and stage_of[r.site_id] != "plant", r
    for r in data["Demand"].itertuples(index=False):
        assert r.site_id in ids and stage_of[r.site_id] == "plant", r
    for sheet in ("Recipes", "CoProducts"):
        for r in data[sheet].itertuples(index=False):
            assert r.site_id == "" or r.site_id in ids, r
    countries, companies = set(sites.country), set(sites.company)

    def ok(name: str) -> bool:
        if name == "*":
            return True
        if name.startswith("stage:"):
            return name[6:] in STAGES
        if name.startswith("country:"):
            return name[8:] in countries
        if name.startswith("company:"):
            return name[8:] in companies
        return name in ids

    for r in data["Lanes"].itertuples(index=False):
        assert ok(r.from_site) and ok(r.to_site), r
        assert r.from_site != r.to_site, r


def test_products_are_consistent(data, model):
    made = set(data["Supply"]["product"])
    for r in data["Recipes"].itertuples(index=False):
        assert r.input in made, f"recipe input {r.input} is made nowhere"
        assert float(r.input_t_per_t) > 0
    for r in data["Demand"].itertuples(index=False):
        assert r.product in made, f"demanded {r.product} is made nowhere"
        assert float(r.quantity_t) >= 0
    for r in data["CoProducts"].itertuples(index=False):
        assert 0 <= float(r.coproduct_t_per_t) <= 1
        assert r.site_id, "coproducts are site-specific in the reference case"
        assert {r.product, r.coproduct} <= model.makes[r.site_id], r
    # every site-specific recipe is for a product that site makes
    for (p, s) in model.specific:
        assert p in model.makes[s], (p, s)
    # Dy/Tb oxide only ever as a coproduct of NdPr oxide
    for s, prods in model.makes.items():
        if "DYTB_OXIDE" in prods:
            assert model.main_of(s, "DYTB_OXIDE") == "NDPR_OXIDE", s
    # only the concentrate is a raw material
    raw = {p for s, ps in model.makes.items() for p in ps
           if not model.recipe(p, s) and model.main_of(s, p) is None}
    assert raw == {"REO_CONC"}
    assert {s for s, ps in model.makes.items() if "REO_CONC" in ps} == \
        set(data["Sites"].query("stage == 'mine'").site_id)


def test_no_recipe_cycles(data):
    edges = defaultdict(set)
    for r in data["Recipes"].itertuples(index=False):
        edges[r.product].add(r.input)
    state: dict[str, int] = {}

    def visit(p, path):
        if state.get(p) == 1:
            raise AssertionError("recipe cycle: " + " -> ".join(path + [p]))
        if state.get(p) == 2:
            return
        state[p] = 1
        for q in edges[p]:
            visit(q, path + [p])
        state[p] = 2

    for p in list(edges):
        visit(p, [])


def test_every_lane_carries_something(model):
    carried = {(a, b) for a, b, _, _ in model.arcs()}
    for r in model.lanes:
        pair = (r.from_site, r.to_site)
        if pair in INACTIVE_LANES:
            assert pair not in carried
            continue
        if r.from_site in model.sites and r.to_site in model.sites:
            assert pair in carried, f"lane {pair} can carry no product"
    # every recipe input of every site can arrive over some lane
    into = {(b, p) for _, b, p, _ in model.arcs()}
    for s in model.sites:
        for p in model.uses(s):
            assert (s, p) in into, f"{s} needs {p} but no lane brings it"


def test_units_and_ranges(data):
    for r in data["Controls"].itertuples(index=False):
        assert 0 <= float(r.approval_probability) <= 1
        assert float(r.approval_days) >= 0
        assert r.content_rule in ("yes", "no")
    for r in data["Demand"].itertuples(index=False):
        if r.max_exposed_share:
            assert 0 <= float(r.max_exposed_share) <= 1
    for r in data["Lanes"].itertuples(index=False):
        if r.tariff_pct:
            assert 0 <= float(r.tariff_pct) <= 100
        assert float(r.transit_days) == int(float(r.transit_days))
    for r in data["Supply"].itertuples(index=False):
        assert float(r.capacity_t) >= 0 and float(r.unit_cost_usd_per_kg) >= 0
    settings = dict(zip(data["Settings"].key, data["Settings"].value))
    assert "contract_version" not in settings
    assert settings["allow_shortage"] in ("yes", "no")
    for k in ("max_exposed_share", "max_supplier_share", "max_country_share"):
        if k in settings:
            assert 0 <= float(settings[k]) <= 1


def test_sources_cover_every_figure(data):
    src = data["Sources"]
    assert set(src.tag) <= TAGS, set(src.tag) - TAGS
    assert (src.basis.str.strip() != "").all()
    index = {(r.sheet, r.row_key, r.column): r for r in src.itertuples(index=False)}
    assert len(index) == len(src), "duplicate Sources rows"
    cells = {}
    for sheet in CONTRACT:
        cols = NUMERIC[sheet] or ["value"]
        for _, r in data[sheet].iterrows():
            for c in cols:
                v = r[c].strip()
                if v == "":
                    continue
                try:
                    float(v)
                except ValueError:
                    continue                            # Settings text values
                cells[(sheet, row_key(sheet, r), c)] = float(v)
    missing = sorted(set(cells) - set(index))
    assert not missing, f"figures without a Sources row: {missing[:10]}"
    orphans = sorted(set(index) - set(cells))
    assert not orphans, f"Sources rows for no figure: {orphans[:10]}"
    for k, v in cells.items():
        assert float(index[k].value) == pytest.approx(v), k


def test_estimates_stay_estimates():
    # v1's tags as domain.md gave them; the 2026 case re-tags from the review (test_2026_pinned_figures)
    src = load_case("v1_2025")["Sources"]
    tag = {(r.sheet, r.row_key, r.column): r.tag for r in src.itertuples(index=False)}
    # figures domain.md marks [E] must not be upgraded
    assert tag[("Supply", "SP_MY_LYNAS/DYTB_OXIDE", "capacity_t")] == "[E]"
    assert tag[("Supply", "SP_US_MP/NDPR_OXIDE", "capacity_t")] == "[E]"
    assert tag[("Supply", "MET_CN_CLUSTER/NDFEB_ALLOY", "capacity_t")] == "[E]"
    assert tag[("Controls", "CN/NDFEB_HT", "approval_probability")] == "[E]"
    for r in src.itertuples(index=False):
        if r.sheet == "Demand" and r.column in ("quantity_t", "max_lead_time_days"):
            assert r.tag == "[E]", r
        if r.sheet == "Sites" and r.column == "processing_days":
            assert r.tag == "[E]", r


# --------------------------------------------------------------------------
# domain rules of the reference case

def test_domain_rules(data, model):
    country = dict(zip(data["Sites"].site_id, data["Sites"].country))
    for r in data["Lanes"].itertuples(index=False):
        # no Chinese supply to military end use
        if r.to_site == "DM_US_DEF":
            assert country.get(r.from_site) != "CN", r
        # Malaysia bans raw rare-earth exports
        if country.get(r.from_site) == "MY":
            assert "REO_CONC" not in model.makes[r.from_site] and r.product != "REO_CONC"
    ctrl = data["Controls"]
    assert set(ctrl.country) == {"CN"}
    assert set(ctrl["product"]) == {"DYTB_OXIDE", "DYTB_METAL", "SM_OXIDE", "SM_METAL",
                                    "NDFEB_HT", "SMCO_MAGNET"}
    assert (ctrl.content_rule == "no").all()
    dem = data["Demand"].query("site_id == 'DM_US_DEF'")
    assert (dem.max_exposed_share.astype(float) == 0).all()


def test_ex_china_dy_tb_bottleneck():
    # v1's design point: Lynas' ~100 t is the only qualified ex-China Dy/Tb
    data = load_case("v1_2025")
    sites = data["Sites"].set_index("site_id")
    sup = data["Supply"]
    dy = sup[sup["product"] == "DYTB_OXIDE"]
    qual_ex_cn = sum(float(r.capacity_t) for r in dy.itertuples(index=False)
                     if sites.loc[r.site_id, "country"] != "CN"
                     and sites.loc[r.site_id, "status"] == "qualified")
    assert 50 <= qual_ex_cn <= 200, qual_ex_cn          # ~100 t/yr (Lynas)
    recipes = data["Recipes"]
    f_ht = float(recipes.query("product == 'NDFEB_HT' and input == 'DYTB_METAL' and site_id == ''")
                 .input_t_per_t.iloc[0])
    f_metal = float(recipes.query("product == 'DYTB_METAL' and site_id == ''").input_t_per_t.iloc[0])
    ht_supported = qual_ex_cn / f_metal / f_ht
    ht_demand = data["Demand"].query("product == 'NDFEB_HT'").quantity_t.astype(float).sum()
    assert ht_supported < ht_demand / 2, (ht_supported, ht_demand)


def test_every_demand_is_reachable_within_its_lead_time(model):
    _, any_route = model.best_lead_times(clean_only=False)
    _, clean = model.best_lead_times(clean_only=True)
    for d in model.demand:
        limit = num(d.max_lead_time_days)
        key = (d.site_id, d.product)
        best = any_route[key]
        if num(d.max_exposed_share) == 0:
            best = clean[key]
        assert best < math.inf, f"{key}: no route"
        if limit is not None:
            assert best <= limit, f"{key}: best lead {best} > limit {limit}"


# --------------------------------------------------------------------------
# the 2026 case: figures, their tags and the analyst's sanity checks
# (shared/research/domain-review-2026-12.md, "the review"; section numbers in comments)

# The corrected figures with the value and tag the review supports: a figure or a tag that drifts
# from these (or from its Sources row, test_sources_cover_every_figure) fails here.
PINNED_2026 = {
    ("CoProducts", "NDPR_OXIDE/DYTB_OXIDE/SP_AU_NOLANS", "coproduct_t_per_t"): (0.0074, "[D]"),  # 1.1, 7
    ("Supply", "SP_AU_NOLANS/DYTB_OXIDE", "capacity_t"): (0, "[E]"),        # pre-FID, nothing before ~2029
    ("Supply", "SP_AU_NOLANS/NDPR_OXIDE", "capacity_t"): (0, "[E]"),
    ("Supply", "MN_AU_NOLANS/REO_CONC", "capacity_t"): (0, "[E]"),
    ("Supply", "SP_US_MP/NDPR_OXIDE", "capacity_t"): (4000, "[S]"),         # exit run-rate, 7
    ("Supply", "SP_US_MP/DYTB_OXIDE", "capacity_t"): (30, "[E]"),           # heavy circuit 2026, 3
    ("Supply", "SP_MY_LYNAS/NDPR_OXIDE", "capacity_t"): (7500, "[D]"),      # run-rate, 2
    ("Supply", "SP_MY_LYNAS/DYTB_OXIDE", "capacity_t"): (24.5, "[D]"),      # 70 t x 35 % open, 3
    ("Supply", "SP_MY_LYNAS/DYTB_OXIDE", "unit_cost_usd_per_kg"): (500, "[E]"),  # ex-China base, 4
    ("Supply", "SP_CN_CREG/DYTB_OXIDE", "unit_cost_usd_per_kg"): (379, "[D]"),   # 'still fine', 1.5
    ("Supply", "SP_US_EFR/DYTB_OXIDE", "capacity_t"): (2.5, "[E]"),         # 0-5 t, 11.2
    ("Supply", "SP_FR_CAREMAG/DYTB_OXIDE", "capacity_t"): (5.1, "[E]"),     # 10 t x 51 % open, 2/3
    ("Supply", "SP_FR_SOLVAY/NDPR_OXIDE", "capacity_t"): (300, "[E]"),      # 'several hundred t', 7
    ("Supply", "SP_AU_ILUKA/NDPR_OXIDE", "capacity_t"): (0, "[S]"),         # commissioning 2027
    ("Supply", "SP_AU_ILUKA/DYTB_OXIDE", "capacity_t"): (0, "[S]"),
    ("Supply", "MAG_IN_SCHEME/NDFEB_STD", "capacity_t"): (0, "[S]"),        # no output before ~2028
    ("Supply", "MN_TZ_NGUALLA/REO_CONC", "capacity_t"): (0, "[E]"),         # 100 % to Shenghe
    ("Lanes", "MAG_CN_JLMAG/DM_US_GM/", "duty_usd_per_kg"): (21, "[E]"),    # 25 % Section 301 [S] x value [E]
    ("Recipes", "NDFEB_HT/DYTB_METAL/", "input_t_per_t"): (0.02, "[E]"),     # GBD EV grade, 7
    ("Controls", "CN/NDFEB_HT", "approval_probability"): (0.6, "[E]"),       # individual licence, 6
    ("Controls", "CN/NDFEB_HT", "approval_days"): (63, "[D]"),              # 45 working days
}
AVAIL = re.compile(r"^\[2026 availability: nameplate ([\d.]+) t; start (\d{4}); output ([\d.]+) t; "
                   r"committed ([\d.]+); open ([\d.]+) t\] ")
# Dy+Tb oxide outside China in 2026, t/yr (the review's section 3): each source's range, and the total.
DYTB_2026 = {"SP_MY_LYNAS": (70, 100), "SP_US_MP": (0, 30), "SP_US_EFR": (0, 5), "SP_FR_CAREMAG": (0, 20),
             "SP_AU_ILUKA": (0, 0), "SP_AU_NOLANS": (0, 0)}
# The feed price (USD/kg REO) each NdPr separator's conversion cost was built on (its Sources basis).
FEED_PRICE = {"SP_CN_CNRE": 4, "SP_CN_CREG": 8, "SP_CN_SHENGHE": 6, "SP_MY_LYNAS": 7, "SP_US_MP": 5.8,
              "SP_FR_SOLVAY": 7, "SP_EE_SILMET": 7, "SP_US_EFR": 6, "SP_IN_IREL": 5, "SP_VN_SHINETSU": 5,
              "SP_AU_ILUKA": 5, "SP_AU_NOLANS": 6, "SP_FR_CAREMAG": 20}


@pytest.fixture(scope="module")
def d26() -> dict[str, pd.DataFrame]:
    return load_case("2026")


def _cell(d, sheet: str, key: str, column: str) -> float:
    rows = [r for _, r in d[sheet].iterrows() if row_key(sheet, r) == key]
    assert len(rows) == 1, (sheet, key)
    return float(rows[0][column])


def _availability(d) -> dict[tuple[str, str], dict[str, float]]:
    out = {}
    for r in d["Sources"].itertuples(index=False):
        if r.sheet == "Supply" and r.column == "capacity_t":
            m = AVAIL.match(r.basis)
            if m:
                site, product = r.row_key.split("/")
                out[(site, product)] = dict(zip(("nameplate", "start", "output", "committed", "open"),
                                                map(float, m.groups())), value=float(r.value))
    return out


def test_2026_pinned_figures(d26):
    tag = {(r.sheet, r.row_key, r.column): r.tag for r in d26["Sources"].itertuples(index=False)}
    for (sheet, key, column), (value, want) in PINNED_2026.items():
        assert _cell(d26, sheet, key, column) == pytest.approx(value), (sheet, key, column)
        assert tag[(sheet, key, column)] == want, (sheet, key, column, tag[(sheet, key, column)])


def test_2026_sources_cite_the_review(d26):
    # every figure new or changed for 2026 and tagged as sourced or derived cites the review's section or
    # source list ([n]) or domain.md; an [E] says how it was estimated (a non-empty basis, checked above)
    v1 = {(r.sheet, r.row_key, r.column): r for r in load_case("v1_2025")["Sources"].itertuples(index=False)}
    changed = 0
    for r in d26["Sources"].itertuples(index=False):
        old = v1.get((r.sheet, r.row_key, r.column))
        if old is None or float(old.value) != float(r.value) or old.tag != r.tag:
            changed += 1
            if r.tag != "[E]":
                assert re.search(r"\[\d+\]|domain-review-2026-12\.md|domain\.md", r.basis), \
                    (r.sheet, r.row_key, r.column)
    assert changed >= 50


def test_2026_capacity_is_the_open_share_of_the_2026_output(d26):
    avail = _availability(d26)
    assert len(avail) >= 15
    for (site, product), a in avail.items():
        cap = _cell(d26, "Supply", f"{site}/{product}", "capacity_t")
        assert a["value"] == cap == pytest.approx(a["open"]), (site, product)
        assert a["output"] <= a["nameplate"], (site, product)
        assert 0 <= a["committed"] <= 1
        # committed shares are not counted as open supply
        assert a["open"] == pytest.approx(a["output"] * (1 - a["committed"]), abs=0.06), (site, product)
        if a["committed"] > 0 and a["output"] > 0:
            assert cap < a["output"], (site, product)


def test_2026_no_candidate_produces_before_its_start_year(d26):
    avail = _availability(d26)
    status = dict(zip(d26["Sites"].site_id, d26["Sites"].status))
    for r in d26["Supply"].itertuples(index=False):
        a = avail.get((r.site_id, r.product))
        if status[r.site_id] == "candidate":
            # a candidate states when it starts (the model cannot yet say "from year t": issue 12)
            assert a is not None, f"candidate {r.site_id} {r.product}: no start year in Sources"
        if a is not None and a["start"] > 2026:
            assert float(r.capacity_t) == 0 and a["output"] == 0, (r.site_id, r.product)
    # what the review says does not produce in 2026
    for site in ("SP_AU_NOLANS", "MN_AU_NOLANS", "SP_AU_ILUKA", "MAG_IN_SCHEME", "MN_TZ_NGUALLA", "MN_MW_SONGWE"):
        caps = d26["Supply"].query("site_id == @site").capacity_t.astype(float)
        assert len(caps) and (caps == 0).all(), site


def test_2026_dy_tb_outside_china_is_in_the_reviews_range(d26):
    avail = _availability(d26)
    country = dict(zip(d26["Sites"].site_id, d26["Sites"].country))
    dy = d26["Supply"].query("product == 'DYTB_OXIDE'")
    ex_cn = [r.site_id for r in dy.itertuples(index=False) if country[r.site_id] != "CN"]
    assert set(ex_cn) == set(DYTB_2026), ex_cn
    output = open_ = 0.0
    for site in ex_cn:
        a = avail[(site, "DYTB_OXIDE")]
        lo, hi = DYTB_2026[site]
        assert lo <= a["output"] <= hi, (site, a["output"])
        output += a["output"]
        open_ += a["open"]
    assert 100 <= output <= 155, output        # 70-100 Lynas + 30 MP + 0-5 Energy Fuels + 0-20 Caremag
    assert open_ < output                       # Japan's shares of Lynas and Caremag are not this buyer's
    # and that is scarce: the open ex-China Dy/Tb supports well under half of the high-temperature demand
    f_ht = _cell(d26, "Recipes", "NDFEB_HT/DYTB_METAL/", "input_t_per_t")
    f_metal = _cell(d26, "Recipes", "DYTB_METAL/DYTB_OXIDE/", "input_t_per_t")
    ht_demand = d26["Demand"].query("product == 'NDFEB_HT'").quantity_t.astype(float).sum()
    assert open_ / f_metal / f_ht < ht_demand / 2


def test_2026_prices(d26):
    sup = d26["Supply"]
    country = dict(zip(d26["Sites"].site_id, d26["Sites"].country))
    model = Model(d26)
    for site, feed in FEED_PRICE.items():
        price = _cell(d26, "Supply", f"{site}/NDPR_OXIDE", "unit_cost_usd_per_kg") + \
            model.recipe("NDPR_OXIDE", site)["REO_CONC"] * feed
        if country[site] == "CN":
            assert 100 <= price <= 110, (site, price)    # 105-108 USD/kg, Jan-Feb 2026 (section 4)
        else:
            assert 105 <= price <= 116, (site, price)    # ex-China premium 0-10 % (sections 1.5, 7)
    for r in sup.query("product == 'DYTB_OXIDE'").itertuples(index=False):
        cost = float(r.unit_cost_usd_per_kg)
        if country[r.site_id] == "CN":
            assert 371 <= cost <= 407, r               # Dy 200-230, Tb 975-1,040 at 78:22
        else:
            assert 300 <= cost <= 1000, r              # no volume-backed price: the range (sections 4, 7)
    for k in ("NDFEB_HT/DYTB_METAL/", "NDFEB_HT/DYTB_METAL/MAG_DE_VAC"):
        assert 0.015 <= _cell(d26, "Recipes", k, "input_t_per_t") <= 0.03


def test_2026_captive_and_listed_routes(d26):
    model = Model(d26)
    company = dict(zip(d26["Sites"].site_id, d26["Sites"].company))
    country = dict(zip(d26["Sites"].site_id, d26["Sites"].country))
    controlled = set(d26["Controls"]["product"])
    for a, b, p, _ in model.arcs():
        # MP's Dy/Tb is captive: it reaches nobody but MP's own metal and magnet plants
        if a == "SP_US_MP" and p == "DYTB_OXIDE":
            assert company[b] == "MP Materials", b
        # MP Materials and USA Rare Earth (LCM included) are on China's control list since 22 Jun 2026
        if country[a] == "CN" and company[b] in ("MP Materials", "USA Rare Earth"):
            assert p not in controlled, (a, b, p)
    # Chinese magnets into the US carry the Section 301 tariff
    for r in d26["Lanes"].itertuples(index=False):
        if r.from_site.startswith("MAG_CN_") and country.get(r.to_site) == "US":
            assert float(r.duty_usd_per_kg) > 0, r


WHATIF_2026 = ROOT / "inputs" / "whatif" / "WhatIf.csv"


def test_2026_whatifs_each_answer_one_question():
    w = pd.read_csv(WHATIF_2026, dtype=str, keep_default_na=False)
    assert list(w.columns) == ["scenario", "sheet", "key", "column", "operation", "value", "question", "basis"]
    changes: dict[str, list[tuple]] = {}
    for name, rows in w.groupby("scenario", sort=False):
        q = [x for x in rows.question if x.strip()]
        assert len(q) == 1 and rows.question.iloc[0] == q[0], f"{name}: one question, on its first row"
        assert q[0].endswith("?"), name
        assert all(any(t in b for t in TAGS) for b in rows.basis), f"{name}: every row's basis is tagged"
        changes[name] = sorted(map(tuple, rows[["sheet", "key", "column", "operation", "value"]].values))
        # v1's empty scenarios: a status change alone measures the qualification fee, nothing else
        assert not all(s == "Sites" and c == "status" for s, _, c, _, _ in changes[name]), name
        # a Dy/Tb price shock must not hit China's Dy/Tb too (v1's "x3" did)
        assert not any(s == "Supply" and k.startswith("*") and "DYTB" in k and c == "unit_cost_usd_per_kg"
                       for s, k, c, _, _ in changes[name]), name
    seen = {}
    for name, ch in changes.items():
        assert tuple(ch) not in seen, f"{name} duplicates {seen.get(tuple(ch))}"
        seen[tuple(ch)] = name
    text = " ".join(changes)
    for theme in ("Caremag delayed", "Caremag at full rate", "Energy Fuels Phase 2", "Iluka on stream",
                  "MP heavy circuit", "Lynas", "3 %", "Ex-China Dy/Tb at 300", "Ex-China Dy/Tb at 1,000",
                  "Japan", "Content rule", "General licences"):
        assert theme in text, theme


# --------------------------------------------------------------------------
# the five-year case, 2026-2030 (contract v2): inputs/reference/ with the changes by year in inputs/horizon/
# -> inputs/rare_earth_magnets_2026_2030.xlsx (scripts/build_reference.py --case 2026_2030). These tests read
# the built workbook through the planner's own validation, so they check what the planner will plan.

XLSX_5Y = ROOT / "inputs" / "rare_earth_magnets_2026_2030.xlsx"
WHATIF_5Y_CSV = ROOT / "inputs" / "whatif" / "WhatIf_2026_2030.csv"
WHATIF_5Y = ROOT / "inputs" / "whatif_2026_2030.xlsx"
YEARS = ["2026", "2027", "2028", "2029", "2030"]
AVAIL_5Y = re.compile(r"^\[(\d{4}) availability: nameplate ([\d.]+) t; start (\d{4}); output ([\d.]+) t; "
                      r"committed ([\d.]+); open ([\d.]+) t(?:; reservable ([\d.]+) t; for sale ([\d.]+) t)?\] ")
# Dy+Tb oxide made outside China per year, t (the review's section 3 path; its 2026 ranges, and for later
# years its point figures, marked "~" or "<=" there, +-10 %; Nolans "<=10" and "~20").
DYTB_PATH = {
    "SP_MY_LYNAS": {"2026": (70, 100), "2027": (135, 165), "2028": (225, 275), "2029": (360, 440),
                    "2030": (360, 440)},  # existing circuit + HRE expansion
    "SP_US_MP": {"2026": (0, 30), "2027": (108, 132), "2028": (180, 220), "2029": (180, 220), "2030": (180, 220)},
    "SP_US_EFR": {"2026": (0, 5), "2027": (45, 55), "2028": (90, 110), "2029": (225, 275), "2030": (360, 440)},
    "SP_FR_CAREMAG": {"2026": (0, 20), "2027": (135, 165), "2028": (360, 440), "2029": (540, 660),
                      "2030": (540, 660)},
    "SP_AU_ILUKA": {"2026": (0, 0), "2027": (45, 55), "2028": (180, 220), "2029": (360, 440), "2030": (360, 440)},
    "SP_AU_NOLANS": {"2026": (0, 0), "2027": (0, 0), "2028": (0, 0), "2029": (0, 10), "2030": (15, 25)},
}


# the five-year case's own sheets (contract v2): stock at the plants, volumes reserved for a fee
ID_COLS_5Y = {**ID_COLS, "Stock": ["site_id", "product"], "Reservations": ["site_id", "product", "first_period"]}
NUMERIC_5Y = {**NUMERIC, "Stock": ["stock_capacity_t", "holding_cost_usd_per_kg_yr", "initial_stock_t"],
              "Reservations": ["max_t", "fee_usd_per_kg_yr"]}


def test_five_year_workbook_matches_fresh_build(tmp_path):
    assert XLSX_5Y.exists(), "run: python scripts/build_reference.py"
    fresh, fresh_whatif = tmp_path / "fresh.xlsx", tmp_path / "fresh_whatif.xlsx"
    subprocess.run([sys.executable, str(BUILD), "--case", "2026_2030", "--out", str(fresh),
                    "--whatif-out", str(fresh_whatif)], check=True, cwd=ROOT)
    assert XLSX_5Y.read_bytes() == fresh.read_bytes(), \
        f"{XLSX_5Y.relative_to(ROOT)} is stale: run python scripts/build_reference.py"
    assert WHATIF_5Y.read_bytes() == fresh_whatif.read_bytes(), \
        f"{WHATIF_5Y.relative_to(ROOT)} is stale: run python scripts/build_reference.py"
    names = openpyxl.load_workbook(XLSX_5Y, read_only=True).sheetnames
    assert names == list(CONTRACT) + ["Periods", "Stock", "Reservations", "Sources", "About"]  # the contract's order


@pytest.fixture(scope="module")
def h5():  # noqa: ANN201
    from planner.input.validate import load  # noqa: PLC0415

    return load(XLSX_5Y)


@pytest.fixture(scope="module")
def h5_sources() -> pd.DataFrame:
    ws = openpyxl.load_workbook(XLSX_5Y, read_only=True)["Sources"]
    rows = list(ws.iter_rows(values_only=True))
    return pd.DataFrame(rows[1:], columns=rows[0]).fillna("")


def _by_period(h5) -> dict[str, object]:  # noqa: ANN001
    return {p: h5.for_period(p) for p in h5.period_ids}


def _availability_5y(src: pd.DataFrame) -> dict[tuple[str, str, str], dict[str, float]]:
    """(site, product, year) -> the availability figures of its Sources row (the 2026 rows of the base case
    included), with the row's value."""
    out = {}
    for r in src.itertuples(index=False):
        if r.sheet != "Supply" or r.column != "capacity_t":
            continue
        m = AVAIL.match(r.basis) if not r.period else None
        year = "2026"
        if m is None:
            m = AVAIL_5Y.match(r.basis)
            if m is None:
                continue
            year, groups = m.group(1), m.groups()[1:]
            assert year == str(r.period), (r.row_key, r.period, year)
        else:
            groups = m.groups()
        site, product = r.row_key.split("/")
        a = dict(zip(("nameplate", "start", "output", "committed", "open"), map(float, groups[:5])),
                 value=float(r.value))
        # part of the open share sold only under a term contract (Reservations): the row sells the rest
        a["reservable"], a["for_sale"] = ((float(groups[5]), float(groups[6])) if len(groups) > 5 and groups[5]
                                          else (0.0, a["open"]))
        out[(site, product, year)] = a
    return out


def test_five_year_case_validates(h5):
    assert h5.period_ids == YEARS
    assert float(h5.settings["contract_version"]) == 2
    assert 0 <= float(h5.settings["discount_rate"]) <= 0.15
    # the licence regime stays the 2026 case's in every year (regime scenarios come with issue 13)
    base = load_case("2026")["Controls"]
    for p, one in _by_period(h5).items():
        assert len(one.controls) == len(base), p
        assert (one.controls["approval_probability"] == 0.6).all(), p
    # no Contracts sheet: the review found no contract in force to write down
    assert "Contracts" not in openpyxl.load_workbook(XLSX_5Y, read_only=True).sheetnames


def test_five_year_reservations_are_the_open_share_sold_forward(h5, h5_sources):
    """The Reservations sheet (inputs/horizon/Reservations.csv): Caremag's and Lynas' Dy/Tb sold only under a term
    contract. Each year, what the Supply row sells plus what the rows in force can reserve is the open share (no
    capacity counted twice); Caremag's tranches are its open share one year late (what it can promise if its ramp
    slips, so the slip regimes and what-ifs set its Supply row to 0 in 2028-2029), Lynas' half its expansion's
    open share; the fees are the Japanese offtakers' investment spread over ten years."""
    res = h5.reservations
    assert set(zip(res["site_id"], res["product"], strict=True)) == {("SP_FR_CAREMAG", "DYTB_OXIDE"),
                                                                    ("SP_MY_LYNAS", "DYTB_OXIDE")}
    avail = _availability_5y(h5_sources)
    for p in YEARS:
        reservable = h5.reservable(p)
        for (site, product), a in ((k[:2], a) for k, a in avail.items() if k[2] == p):
            assert reservable.get((site, product), 0.0) == pytest.approx(a["reservable"]), (site, product, p)
        for key in reservable:
            assert (*key, p) in avail, f"{key} reservable in {p} without an availability row"
    # Caremag: the open share of its path one year late (5.1/76.5/204/306 t), reservable from 2028
    assert [sum(v for k, v in h5.reservable(p).items() if k[0] == "SP_FR_CAREMAG") for p in YEARS] == \
        pytest.approx([0, 0, 76.5, 204, 306])
    assert [h5.reservable(p).get(("SP_MY_LYNAS", "DYTB_OXIDE"), 0) for p in YEARS] == pytest.approx([0, 0, 0, 52.5, 52.5])
    # fees: USD 120 M for 295 t/yr (Caremag) and USD 134.7 M for 65 % of 400 t/yr (Lynas), over 10 years
    fee = dict(zip(res["site_id"], res["fee_usd_per_kg_yr"], strict=False))
    assert fee["SP_FR_CAREMAG"] == pytest.approx(120e6 / (295e3 * 10), abs=0.05)
    assert fee["SP_MY_LYNAS"] == pytest.approx(134.7e6 / (0.65 * 400e3 * 10), abs=0.05)


def test_five_year_stock_is_held_where_the_model_allows_it(h5):
    """The Stock sheet (inputs/horizon/Stock.csv): one row per plant and product it demands (the model holds
    stock only at plants, of products they take), a buffer of weeks at 1 Jan 2026 (the review: buyers held
    weeks, not months), at most the six months the largest reported inventories reach, and a holding cost of
    12 % a year of the product's value on top of the 8 % discount rate (a carrying rate of about 20 %)."""
    st = h5.stock.set_index(["site_id", "product"])
    d2026 = h5.for_period("2026").demand.set_index(["site_id", "product"])["quantity_t"]
    assert set(st.index) == set(d2026.index)
    assert (h5.demand["min_cover_days"].fillna(0) == 0).all(), "no stockpile policy: the plan chooses the stock"
    for k, r in st.iterrows():
        assert r.initial_stock_t == pytest.approx(d2026[k] * 28 / 365, abs=0.06), k   # 4 weeks
        assert r.stock_capacity_t == pytest.approx(d2026[k] * 0.5, abs=0.06), k       # 6 months
    value = {"NDFEB_HT": 92, "NDFEB_STD": 76}   # the Chinese chain's values the case's Section 301 duty uses
    defence = {"NDFEB_HT": 125, "SMCO_MAGNET": 180}  # the ex-China chains the defence plant may take
    for (site, product), r in st.iterrows():
        v = defence[product] if site == "DM_US_DEF" else value[product]
        assert r.holding_cost_usd_per_kg_yr == pytest.approx(0.12 * v, abs=0.051), (site, product)
    assert float(h5.settings["discount_rate"]) + 0.12 == pytest.approx(0.20)


def test_five_year_sources_cover_every_figure(h5_sources):
    # every number of every row, base or per period, has a Sources row: its own (period named) or, for a
    # figure a period row copies unchanged, the base row's
    src = h5_sources
    assert set(src.tag) <= TAGS and (src.basis.str.strip() != "").all()
    index = {(r.sheet, r.row_key, str(r.period), r.column): r for r in src.itertuples(index=False)}
    assert len(index) == len(src), "duplicate Sources rows"
    wb = openpyxl.load_workbook(XLSX_5Y, read_only=True)
    used = set()
    for sheet in [*CONTRACT, "Stock", "Reservations"]:
        rows = list(wb[sheet].iter_rows(values_only=True))
        head = list(rows[0])
        for row in rows[1:]:
            rec = {c: ("" if v is None else v) for c, v in zip(head, row)}
            key = "/".join(str(rec[c]) for c in ID_COLS_5Y[sheet])
            period = str(rec.get("period", ""))
            for c in NUMERIC_5Y.get(sheet, []) + (["qualification_periods"] if sheet == "Sites" else []) + \
                    (["value"] if sheet == "Settings" else []):
                v = rec.get(c, "")
                if not isinstance(v, (int, float)):
                    continue
                k = (sheet, key, period, c)
                if k not in index:
                    k = (sheet, key, "", c)
                assert k in index, f"no Sources row for {sheet} {key} {period or '(all)'} {c}"
                assert float(index[k].value) == pytest.approx(v), k
                used.add(k)
    orphans = sorted(set(index) - used)
    assert not orphans, f"Sources rows for no figure: {orphans[:10]}"
    # every figure that changes by year, and every qualification lead, that is not an estimate cites the review
    # or its source list ([n]); an estimate says how it was made (a non-empty basis, above)
    for r in src.itertuples(index=False):
        if (r.period or r.column == "qualification_periods") and r.tag != "[E]":
            assert re.search(r"\[\d+\]|domain-review-2026-12\.md|adamasintel", r.basis), (r.sheet, r.row_key, r.period)


def test_five_year_no_site_produces_before_its_start_year(h5, h5_sources):
    avail = _availability_5y(h5_sources)
    start = {(s, p): int(a["start"]) for (s, p, _), a in avail.items()}
    assert len(start) >= 20
    for (site, product, year), a in avail.items():
        assert a["output"] <= a["nameplate"] + 1e-9, (site, product, year)
        # committed shares (Japan's of Lynas and Caremag, Nolans' offtakes) are not this buyer's
        assert a["open"] == pytest.approx(a["output"] * (1 - a["committed"]), abs=0.06), (site, product, year)
        assert a["for_sale"] + a["reservable"] == pytest.approx(a["open"]), (site, product, year)
        assert a["value"] == pytest.approx(a["for_sale"]), (site, product, year)
        assert int(a["start"]) == start[(site, product)], f"{site} {product}: one start year"
    periods = _by_period(h5)
    for p, one in periods.items():
        cap = {(r.site_id, r.product): float(r.capacity_t) for r in one.supply.itertuples(index=False)}
        for (site, product), y0 in start.items():
            if int(p) < y0:
                assert cap[(site, product)] == 0, f"{site} {product} makes {cap[(site, product)]} t in {p}, " \
                                                  f"before its start in {y0}"
            if (site, product, p) in avail:  # the planner reads the year's row the Sources row describes (a
                # one-year view counts the reservable volume as capacity: for sale + reservable = open)
                assert cap[(site, product)] == pytest.approx(avail[(site, product, p)]["open"]), (site, product, p)
    # the review's start years: Iluka 2027, India scheme ~2028, Nolans not before ~2029; Ngualla never open
    first = {}
    for p in YEARS:
        sup = periods[p].supply
        for site in ("SP_AU_ILUKA", "MAG_IN_SCHEME", "SP_AU_NOLANS", "MN_TZ_NGUALLA"):
            if site not in first and (sup.loc[sup.site_id == site, "capacity_t"] > 0).any():
                first[site] = p
    assert first == {"SP_AU_ILUKA": "2027", "MAG_IN_SCHEME": "2028", "SP_AU_NOLANS": "2029"}, first
    # every candidate states its start year and takes one or two years to qualify (PPAP 12-24 months)
    sites = h5.sites.drop_duplicates("site_id").set_index("site_id")
    for s in sites.index[sites.status == "candidate"]:
        assert any(k[0] == s for k in start), f"candidate {s}: no start year in Sources"
        assert int(sites.at[s, "qualification_periods"]) in (1, 2), s


def test_five_year_dy_tb_outside_china_is_on_the_reviews_path(h5_sources):
    avail = _availability_5y(h5_sources)
    totals = {}
    for year in YEARS:
        made = open_ = 0.0
        for site, path in DYTB_PATH.items():
            # a year without a row of its own has the base (2026) row
            a = avail.get((site, "DYTB_OXIDE", year), avail[(site, "DYTB_OXIDE", "2026")])
            out = a["output"]
            lo, hi = path[year]
            assert lo <= out <= hi, (site, year, out)
            made += out
            open_ += a["open"]
        totals[year] = made
        assert open_ < made, year                 # Japan's and Nolans' offtakers' shares are not this buyer's
    # the review's totals: 100-155 t in 2026, then about 520, 1,150, 1,850 and 2,020 t
    for year, (lo, hi) in {"2026": (100, 155), "2027": (470, 570), "2028": (1035, 1265), "2029": (1665, 2035),
                           "2030": (1820, 2220)}.items():
        assert lo <= totals[year] <= hi, (year, totals[year])
    assert all(totals[a] <= totals[b] for a, b in zip(YEARS, YEARS[1:])), totals


def test_five_year_demand_grows_by_plant(h5):
    periods = _by_period(h5)
    q = {p: {(r.site_id, r.product): float(r.quantity_t) for r in one.demand.itertuples(index=False)}
         for p, one in periods.items()}
    assert q["2026"] == {(r.site_id, r.product): float(r.quantity_t)
                         for r in load_case("2026")["Demand"].itertuples(index=False)}
    for a, b in zip(YEARS, YEARS[1:]):
        for k in q[a]:
            growth = q[b][k] / q[a][k] - 1
            assert 0 <= growth <= 0.12, (k, a, b, growth)   # 0 (defence) to 10 %/yr (EV), rounded to t


def test_five_year_case_plans_and_its_roadmap_says_what_to_qualify_when(h5):
    import time  # noqa: PLC0415

    from planner.api import plan  # noqa: PLC0415
    from planner.optimise.solve import options_from  # noqa: PLC0415

    t0 = time.perf_counter()
    p = plan(h5, options_from(h5), detail=False)
    assert time.perf_counter() - t0 < 60
    assert p.summary["status"] == "optimal", p.summary["status"]
    q = p.qualifications
    assert len(q) >= 1 and set(q["start_period"]) <= set(YEARS)
    starts = p.roadmap[p.roadmap["action"] == "start qualification"]
    assert len(starts) >= 1
    for r in starts.itertuples(index=False):
        assert r.period in YEARS and f"in {r.period}" in r.note and "usable from" in r.note, r.note
    # a candidate is used no earlier than its qualification lead allows
    for r in q.itertuples(index=False):
        assert int(r.usable_from) == int(r.start_period) + int(r.qualification_periods), r


def test_five_year_whatifs_each_answer_one_question_and_time_it_by_period():
    w = pd.read_csv(WHATIF_5Y_CSV, dtype=str, keep_default_na=False)
    assert list(w.columns) == ["scenario", "sheet", "key", "column", "operation", "value", "period", "question",
                               "basis"]
    assert set(w.period) <= {"", *YEARS}
    names = list(dict.fromkeys(w.scenario))
    assert 8 <= len(names) <= 12, names
    by_period = 0
    for name, rows in w.groupby("scenario", sort=False):
        q = [x for x in rows.question if x.strip()]
        assert len(q) == 1 and rows.question.iloc[0] == q[0], f"{name}: one question, on its first row"
        assert q[0].endswith("?"), name
        assert all(any(t in b for t in TAGS) for b in rows.basis), f"{name}: every row's basis is tagged"
        by_period += (rows.period != "").any()
        # a period only where a sheet holds rows per period (Recipes, CoProducts, Settings and a site's
        # qualification lead hold for the whole horizon)
        timed = rows[rows.period != ""]
        assert set(timed.sheet) <= {"Supply", "Demand", "Controls", "Lanes"}, name
    assert by_period >= 7, "most scenarios ask a timing question: their rows name a period"


def test_five_year_whatifs_apply_to_the_five_year_case(h5):
    """Every scenario applies to the five-year case and leaves it valid."""
    from planner.input.validate import load_whatif  # noqa: PLC0415
    from planner.whatif.scenarios import apply_scenario, parse_whatif  # noqa: PLC0415

    scenarios = parse_whatif(load_whatif(WHATIF_5Y))
    assert [s.name for s in scenarios] == list(dict.fromkeys(pd.read_csv(WHATIF_5Y_CSV, dtype=str).scenario))
    for sc in scenarios:
        changed = apply_scenario(h5, sc)           # raises ScenarioError if a row matches nothing or breaks it
        assert changed.period_ids == YEARS, sc.name


@pytest.mark.slow  # four five-year plans and their reports, about 10 s; tests/test_horizon_outputs.py batches a horizon
def test_five_year_whatifs_batch_changes_the_periods_they_ask_about(h5):
    """A batch of the timing scenarios changes the periods its question is about and no other (all twelve take
    about 25 s, so four here)."""
    from planner.input.validate import load_whatif  # noqa: PLC0415
    from planner.optimise.solve import options_from  # noqa: PLC0415
    from planner.whatif.batch import comparison, run_batch  # noqa: PLC0415
    from planner.whatif.scenarios import parse_whatif  # noqa: PLC0415

    scenarios = parse_whatif(load_whatif(WHATIF_5Y))
    pick = {"Caremag qualification takes 2 years", "Approvals drop to 25 % from 2028",
            "Energy Fuels Phase 2 slips to 2030", "Caremag a year late (ramp shifted)"}
    out = {o.scenario: o for o in run_batch(h5, [s for s in scenarios if s.name in pick], options_from(h5), jobs=1)}
    assert set(out) == pick | {"baseline"} and all(o.status == "optimal" for o in out.values()), \
        {k: (o.status, o.message) for k, o in out.items()}

    def by_period(name: str) -> dict[str, float]:  # each period's cost, undiscounted
        return {t: float(p.summary["total_cost_usd"]) for t, p in out[name].plan.periods}

    def usable(name: str) -> dict[str, str]:
        q = out[name].plan.qualifications
        return dict(zip(q["site_id"], q["usable_from"].astype(str)))

    base = by_period("baseline")
    assert usable("baseline") == {"SP_FR_CAREMAG": "2027"}
    # a 24-month qualification: Caremag usable from 2028, and only 2027 costs more
    assert usable("Caremag qualification takes 2 years") == {"SP_FR_CAREMAG": "2028"}
    late = by_period("Caremag qualification takes 2 years")
    assert late["2027"] > base["2027"] + 100e6
    assert all(late[p] == pytest.approx(base[p], rel=1e-6) for p in ("2026", "2028", "2029", "2030"))
    # Caremag's ramp a year late: 2026 as before, 2027 dearer
    ramp = by_period("Caremag a year late (ramp shifted)")
    assert ramp["2026"] == pytest.approx(base["2026"], rel=1e-6) and ramp["2027"] > base["2027"] + 100e6
    # the baseline draws the plants' 4 weeks of stock in 2026 and holds none after (nothing to buy ahead of)
    held = out["baseline"].plan.stock
    assert held.loc[held["period"] == "2026", "opening_t"].sum() > 800 and held["closing_t"].sum() < 1e-6
    # a licence squeeze from 2028: 2026 untouched; the plan buys ahead in 2027 (Indian high-temperature magnets,
    # still licensed Chinese, held into 2028: 2027 dearer by about 123 M USD, 2028 about 5 M cheaper than the
    # baseline); 2029 and 2030 dearer by 216 and 235 M
    squeeze = by_period("Approvals drop to 25 % from 2028")
    assert squeeze["2026"] == pytest.approx(base["2026"], rel=1e-6)
    held = out["Approvals drop to 25 % from 2028"].plan.stock
    ahead = held[(held["period"] == "2027") & (held["closing_t"] > 1e-6)]
    assert set(ahead["site_id"]) == {"DM_IN_AUTO"} and squeeze["2027"] > base["2027"] + 50e6
    assert all(squeeze[p] > base[p] + 50e6 for p in ("2029", "2030"))
    # Energy Fuels' Phase 2 a year late changes nothing (its Dy/Tb is used only in 2026-2027), and says why
    table = comparison(list(out.values())).set_index("scenario")
    zero = table.loc["Energy Fuels Phase 2 slips to 2030"]
    assert abs(zero["delta_cost_usd"]) < 1e3 and str(zero["reading"]).startswith("No effect, because"), zero["reading"]
