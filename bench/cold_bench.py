"""Cold runs of the command line against the import floor (issue 16, item 5).

Each command is a fresh process; the commands run in turn (A B C ... A B C ...), after one warm-up round,
so that a shared machine's load falls on all of them alike. Per command: wall and CPU seconds (the child's
user + system time), median of the rounds, and its ratio to the bare imports of the planner's dependencies
(``import pandas, numpy, highspy, openpyxl, click``) taken round by round (min / median / max).

Bytecode: by default the children cache it (in a temporary ``PYTHONPYCACHEPREFIX``, filled by the warm-up
round), as an installed planner has it (pip compiles at install). ``--no-bytecode`` runs them as this
machine's sessions do (``PYTHONDONTWRITEBYTECODE=1``, no ``__pycache__`` in the work tree): every run then
compiles the planner's own modules again (about 0.1-0.2 s), which the dependencies, installed with their
bytecode, do not pay.

``--tree NAME=DIR`` adds the planner found in DIR (a directory holding ``planner/``, put first on
PYTHONPATH) as a second variant of every planner command, e.g. the commit before a change checked out with
``git archive HEAD planner | tar -x -C /tmp/before``: the variants then run interleaved too, and a second
table gives this tree's time over each variant's, command by command and round by round. Run from the
repository root:

    python bench/cold_bench.py [--repeat 5] [--case inputs/rare_earth_magnets.xlsx] [--tree before=/tmp/before]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOOR = "import pandas, numpy, highspy, openpyxl, click"


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one child process, run outside the work tree: ``python -m`` puts its working
    directory first on sys.path, ahead of PYTHONPATH, so that each variant's planner is the one imported."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=env["BENCH_CWD"], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def commands(case: str, out: str, trees: dict[str, str], pycache: str | None) -> list[tuple[str, list[str],
                                                                                          dict[str, str]]]:
    py = sys.executable
    base = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pycache is not None:
        base.pop("PYTHONDONTWRITEBYTECODE", None)
        base["PYTHONPYCACHEPREFIX"] = pycache
    else:
        base["PYTHONDONTWRITEBYTECODE"] = "1"
    cmds = [("bare imports", [py, "-c", FLOOR], base)]
    variants = [("", {**base, "PYTHONPATH": str(ROOT)})] + [(f" [{name}]", {**base, "PYTHONPATH": d})
                                                          for name, d in trees.items()]
    for tag, env in variants:
        cmds += [
            (f"solve{tag}", [py, "-m", "planner", "solve", case, "--output", out, "-q"], env),
            (f"validate{tag}", [py, "-m", "planner", "validate", case], env),
            (f"--help{tag}", [py, "-m", "planner", "--help"], env),
        ]
    return cmds


def _fmt(xs: list[float]) -> str:
    return f"{min(xs):.2f} / {statistics.median(xs):.2f} / {max(xs):.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--case", default="inputs/rare_earth_magnets.xlsx")
    ap.add_argument("--no-bytecode", action="store_true", help="compile every run (PYTHONDONTWRITEBYTECODE=1)")
    ap.add_argument("--tree", action="append", default=[], help="NAME=DIR: the planner in DIR as a variant")
    args = ap.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BENCH_CWD"] = tmp
        cmds = commands(str((ROOT / args.case).resolve()), str(Path(tmp) / "plan.xlsx"),
                        {k: str(Path(v).resolve()) for k, v in trees.items()},
                        None if args.no_bytecode else str(Path(tmp) / "pycache"))
        for _, cmd, env in cmds:  # warm-up: the page cache, .pyc files
            _run(cmd, env)
        wall: dict[str, list[float]] = {n: [] for n, _, _ in cmds}
        cpu: dict[str, list[float]] = {n: [] for n, _, _ in cmds}
        loads = []
        for _ in range(args.repeat):
            loads.append(os.getloadavg()[0])
            for name, cmd, env in cmds:
                w, c = _run(cmd, env)
                wall[name].append(w)
                cpu[name].append(c)
    floor_w, floor_c = wall["bare imports"], cpu["bare imports"]
    print(f"{args.repeat} rounds, 1-minute load {min(loads):.2f}-{max(loads):.2f}; case {args.case}; bytecode "
          + ("compiled every run" if args.no_bytecode else "cached"))
    print("| command | wall s (min / med / max) | CPU s (min / med / max) | / bare imports, wall (min / med / max) "
          "| / bare imports, CPU (min / med / max) |")
    print("|---|---:|---:|---:|---:|")
    for name, _, _ in cmds:
        rw = [a / b for a, b in zip(wall[name], floor_w, strict=True)]
        rc = [a / b for a, b in zip(cpu[name], floor_c, strict=True)]
        print(f"| {name} | {_fmt(wall[name])} | {_fmt(cpu[name])} | {_fmt(rw)} | {_fmt(rc)} |")
    if trees:  # this tree against each variant, command by command, round by round
        print("\n| command | this tree / variant, wall (min / med / max) | CPU (min / med / max) |")
        print("|---|---:|---:|")
        for name, _, _ in cmds:
            for tree in trees:
                other = f"{name} [{tree}]"
                if other in wall:
                    rw = [a / b for a, b in zip(wall[name], wall[other], strict=True)]
                    rc = [a / b for a, b in zip(cpu[name], cpu[other], strict=True)]
                    print(f"| {name} / [{tree}] | {_fmt(rw)} | {_fmt(rc)} |")


if __name__ == "__main__":
    main()
