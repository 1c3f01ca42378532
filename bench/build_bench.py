"""Time and memory of the model build (network, then model) at growing sizes.

For each synthetic case (bench/generate.py at a scale giving about 10k, 100k,
500k and 1M columns) a fresh process loads the case, builds it once to measure
the peak memory (RSS of the whole process: Python, the loaded tables and one
model), then builds it again ``--repeat`` times and keeps the median time of
``build_network`` and of ``build_model`` separately. Run from the repository
root:

    python bench/build_bench.py [--scales 13 24 41 53] [--repeat 3]

``--path DIR --modules NETWORK MODEL`` times other implementations of the two
modules (e.g. a copy of the previous code) on the same cases. Prints a
Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# generator scale -> columns, measured: 13 -> 11k, 24 -> 111k, 41 -> 504k, 53 -> 0.97M
SCALES = [13, 24, 41, 53]

CHILD = r'''
import gc, importlib, json, resource, statistics, sys, time
sys.path[:0] = {paths!r}
from planner.input.validate import load
network = importlib.import_module({network!r})
model_mod = importlib.import_module({model!r})
inp = load({case!r})
gc.collect()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
net = network.build_network(inp)
m = model_mod.build_model(inp, net)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = {{"columns": m.n_cols, "rows": m.n_rows, "nonzeros": len(m.a_val), "peak_mb": peak, "loaded_mb": before}}
del m, net
t_net, t_model = [], []
for _ in range({repeat}):
    gc.collect()
    t0 = time.perf_counter()
    net = network.build_network(inp)
    t1 = time.perf_counter()
    m = model_mod.build_model(inp, net)
    t2 = time.perf_counter()
    t_net.append(t1 - t0)
    t_model.append(t2 - t1)
    del m, net
out["network_s"] = statistics.median(t_net)
out["model_s"] = statistics.median(t_model)
print(json.dumps(out))
'''


def measure(case: Path, repeat: int, paths: list[str], network: str, model: str) -> dict:
    code = CHILD.format(paths=paths, network=network, model=model, case=str(case), repeat=repeat)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=int, nargs="*", default=SCALES)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--path", action="append", default=[], help="prepend to sys.path (for --modules)")
    ap.add_argument("--modules", nargs=2, default=["planner.optimise.network", "planner.optimise.model"],
                    metavar=("NETWORK", "MODEL"), help="modules providing build_network and build_model")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.generate import generate, write  # noqa: PLC0415

    paths = [str(Path(p).resolve()) for p in args.path] + [str(ROOT)]
    print(f"build_network: {args.modules[0]}, build_model: {args.modules[1]}; median of {args.repeat}")
    print()
    print("| scale | columns | rows | nonzeros | network s | model s | µs per column | peak MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for scale in args.scales:
        with tempfile.TemporaryDirectory() as tmp:
            case = Path(tmp) / "case"
            write(generate(scale, seed=args.seed), case)
            r = measure(case, args.repeat, paths, *args.modules)
        us = 1e6 * (r["network_s"] + r["model_s"]) / max(r["columns"], 1)
        print(f"| {scale} | {r['columns']:,} | {r['rows']:,} | {r['nonzeros']:,} | {r['network_s']:.3f} | "
              f"{r['model_s']:.3f} | {us:.2f} | {r['peak_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
