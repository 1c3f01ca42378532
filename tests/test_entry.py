"""The ``planner`` command's entry (``planner.cli.run``): the command's exit code and output as ``main``'s, and
the objects frozen before the interpreter's last collection (each in a fresh interpreter: a frozen test
process would keep its garbage)."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import gc, sys
sys.argv = ["planner", *sys.argv[1:]]
from planner.cli import run
try:
    run()
except SystemExit as exc:
    print("exit", exc.code, "frozen", gc.get_freeze_count(), file=sys.stderr)
"""


def probe(*args: str) -> tuple[str, str]:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=REPO)
    return out.stdout, out.stderr.strip().splitlines()[-1]


def test_the_console_script_and_python_m_use_run() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    assert cfg["options.entry_points"]["console_scripts"].strip() == "planner = planner.cli:run"
    assert "run()" in (REPO / "planner" / "__main__.py").read_text()


def test_run_keeps_the_exit_code_and_freezes_before_exit(tmp_path: Path) -> None:
    stdout, last = probe("--version")
    assert "planner" in stdout.lower()
    exit_code, frozen = last.split()[1], int(last.split()[3])
    assert exit_code in ("0", "None") and frozen > 10_000, last
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a workbook")
    _, last = probe("validate", str(bad))
    assert last.split()[1] == "3" and int(last.split()[3]) > 10_000, last  # invalid input: exit 3, as main's
