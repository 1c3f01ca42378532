"""Reading a large input workbook: openpyxl (the reference reader) against python-calamine (the fast path).

Writes a contract-shaped workbook whose Lanes sheet has ``--rows`` data rows (the synthetic case of
bench/generate.py at the scale that gives that many lanes, cut to exactly that many), then times, median
of ``--repeat`` runs in this process:

* the raw read, ``planner.input.read.read_input(path, engine=...)``, with each engine;
* ``planner.input.validate.load(path)`` end to end (read + validation), with each engine (``DEFAULT_ENGINE``);

wall-clock and CPU seconds (on a shared machine the CPU time is the steadier figure).

Each workbook is written twice: by openpyxl (inline strings, what scripts write) and, when installed, by
xlsxwriter (shared strings, as Excel writes). The two raw reads are checked to give the same RawBook.
Prints a Markdown table.

Usage: python bench/read_bench.py [--rows 100000] [--repeat 3] [--writers openpyxl xlsxwriter] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import planner.input.read  # noqa: E402
from bench.generate import generate  # noqa: E402
from planner.input.validate import load  # noqa: E402


def tables_with_lanes(rows: int, seed: int = 1) -> dict[str, pd.DataFrame]:
    """The synthetic case at the smallest scale with at least ``rows`` lanes, Lanes cut to ``rows``."""
    scale = max(2, int(math.sqrt(rows / 3.3)))
    while True:
        tables = generate(scale, seed=seed)
        if len(tables["Lanes"]) >= rows:
            tables["Lanes"] = tables["Lanes"].iloc[:rows]
            return tables
        scale += 1


def _cell(v: object) -> object:
    if v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and v == ""):
        return None
    return v.item() if hasattr(v, "item") else v


def write_openpyxl(tables: dict[str, pd.DataFrame], path: Path) -> None:
    import openpyxl  # noqa: PLC0415

    wb = openpyxl.Workbook(write_only=True)
    for name, df in tables.items():
        ws = wb.create_sheet(name)
        ws.append(list(df.columns))
        for rec in df.itertuples(index=False, name=None):
            ws.append([_cell(v) for v in rec])
    wb.save(path)


def write_xlsxwriter(tables: dict[str, pd.DataFrame], path: Path) -> None:
    import xlsxwriter  # noqa: PLC0415

    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False})
    for name, df in tables.items():
        ws = wb.add_worksheet(name)
        ws.write_row(0, 0, list(df.columns))
        for r, rec in enumerate(df.itertuples(index=False, name=None), start=1):
            for c, v in enumerate(rec):
                v = _cell(v)
                if v is not None:
                    ws.write(r, c, v)
    wb.close()


WRITERS: dict[str, Callable[[dict[str, pd.DataFrame], Path], None]] = {
    "openpyxl": write_openpyxl, "xlsxwriter": write_xlsxwriter,
}


def median_time(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall-clock and CPU seconds (CPU time barely moves when other processes share the machine)."""
    walls, cpus = [], []
    for _ in range(repeat):
        gc.collect()
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def load_with(path: Path, engine: str) -> None:
    before = planner.input.read.DEFAULT_ENGINE
    planner.input.read.DEFAULT_ENGINE = engine
    try:
        load(path)
    finally:
        planner.input.read.DEFAULT_ENGINE = before


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000, help="data rows of the Lanes sheet")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--writers", nargs="+", default=list(WRITERS), choices=list(WRITERS))
    ap.add_argument("--keep", type=Path, help="write the workbooks here (default: a temporary folder)")
    args = ap.parse_args()

    import openpyxl  # noqa: F401, PLC0415 - imported before timing
    import python_calamine  # noqa: F401, PLC0415

    tables = tables_with_lanes(args.rows)
    sizes = ", ".join(f"{n} {len(t):,}" for n, t in tables.items())
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("openpyxl", "python-calamine"))
    print(f"Workbook: {sizes} rows; median of {args.repeat}; Python {sys.version.split()[0]}, {versions}",
          file=sys.stderr)
    lines = [
        "| written by | file MB | measure | openpyxl s | calamine s | speed-up | openpyxl CPU s | calamine CPU s "
        "| CPU speed-up | sheets read by calamine |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for writer in args.writers:
            try:
                path = folder / f"lanes_{args.rows}_{writer}.xlsx"
                WRITERS[writer](tables, path)
            except ImportError:
                print(f"{writer} is not installed: skipped", file=sys.stderr)
                continue
            mb = path.stat().st_size / 1e6
            ref = planner.input.read.read_input(path, engine="openpyxl")
            fast = planner.input.read.read_input(path, engine="calamine")
            assert fast == ref, f"{writer}: the two readers disagree"
            by_calamine = sum(s.engine == "calamine" for s in fast.sheets.values())
            share = f"{by_calamine} of {len(fast.sheets)}"
            del ref, fast  # millions of live objects would slow every later run (garbage collector passes)
            gc.collect()
            for measure, fn in (
                ("raw read (`read_input`)", lambda e, p=path: planner.input.read.read_input(p, engine=e)),
                ("`validate.load` end to end", lambda e, p=path: load_with(p, e)),
            ):
                (slow, slow_cpu) = median_time(lambda fn=fn: fn("openpyxl"), args.repeat)
                (quick, quick_cpu) = median_time(lambda fn=fn: fn("calamine"), args.repeat)
                lines.append(f"| {writer} | {mb:.1f} | {measure} | {slow:.2f} | {quick:.2f} | {slow / quick:.1f}x "
                             f"| {slow_cpu:.2f} | {quick_cpu:.2f} | {slow_cpu / quick_cpu:.1f}x | {share} |")
                print(lines[-1], file=sys.stderr)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
