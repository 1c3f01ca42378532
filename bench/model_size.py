"""Model size (columns, rows, nonzeros) on the bundled case and synthetic cases, to compare builds.

Usage: python bench/model_size.py [--path OTHER_CHECKOUT] [--scales 13 23]

With ``--path`` the planner package is imported from another checkout (e.g. a worktree of an older
commit), so that two builds of the model can be compared on the same inputs. Synthetic cases are
bench/generate.py's (whose content-rule rows share one set of parameters), plain and with the two
rules that count surplus (minimum volumes on a fifth of the refiners and metal makers, a 60 %
country share cap), since those grow the model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", default=None, help="import planner from this checkout")
    ap.add_argument("--scales", type=int, nargs="*", default=[13, 23])
    args = ap.parse_args()
    sys.path.insert(0, args.path or str(ROOT))
    sys.path.insert(1, str(ROOT))
    import numpy as np  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415

    from bench.generate import generate  # noqa: PLC0415
    from planner.input.validate import load, tables_to_inputs  # noqa: PLC0415
    from planner.optimise.model import build_model  # noqa: PLC0415

    def counted(tables: dict) -> dict:
        rng = np.random.default_rng(7)
        sites = tables["Sites"].copy()
        pick = sites["stage"].isin(["refiner", "metal"]) & (rng.random(len(sites)) < 0.2)
        sites.loc[pick, "min_volume_t"] = 50.0
        settings = pd.concat([tables["Settings"], pd.DataFrame([("max_country_share", 0.6)], columns=["key", "value"])],
                             ignore_index=True)
        return {**tables, "Sites": sites, "Settings": settings}

    def content_rule_on(inputs):  # noqa: ANN001, ANN202 - the what-if "Content rule back in force"
        from dataclasses import replace  # noqa: PLC0415

        return replace(inputs, controls=inputs.controls.assign(content_rule=True))

    ref = ROOT / "inputs" / "rare_earth_magnets.xlsx"
    cases = [("reference", lambda: load(ref)),
             ("reference, content rule on every Controls row", lambda: content_rule_on(load(ref)))]
    for s in args.scales:
        cases.append((f"scale {s}", lambda s=s: tables_to_inputs(generate(s))))
        cases.append((f"scale {s} + min volumes, country share", lambda s=s: tables_to_inputs(counted(generate(s)))))
    print("| case | columns | rows | nonzeros |")
    print("|---|---:|---:|---:|")
    for name, make in cases:
        m = build_model(make())
        print(f"| {name} | {m.n_cols:,} | {m.n_rows:,} | {len(m.a_val):,} |", flush=True)


if __name__ == "__main__":
    main()
