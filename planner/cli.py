"""Command line. The only module that prints and chooses exit codes.

Exit codes: 0 success, 1 internal error, 2 usage error, 3 invalid input,
4 infeasible (shortage not allowed), 5 no solution within limits,
6 output could not be written.
"""

from __future__ import annotations

import errno
import importlib.resources
import importlib.util
import json
import os
import re
import signal
import sys
import threading
import traceback
from pathlib import Path

import click

from planner import __version__
from planner.errors import InfeasibleError, NoSolutionError, OutputError, PlannerError, UsageError

REPO = Path(__file__).resolve().parents[1]
# The bundled reference case and what-if file ship inside the package (copies of inputs/, written by
# scripts/build_reference.py), so that an installed wheel finds them from any folder.
DATA = Path(str(importlib.resources.files("planner") / "data"))
REFERENCE = DATA / "rare_earth_magnets.xlsx"
WHATIF_REFERENCE = DATA / "whatif_reference.xlsx"
MAX_SHOWN = 50
MAX_TIME_LIMIT_S = 1e7  # as planner.input.schema.MAX_TIME_LIMIT_S (not imported here: start-up stays light)


class FiniteFloat(click.FloatRange):
    """A number option that refuses inf and nan (exit 2): click's FloatRange lets nan through, since every
    comparison with nan is false, and a non-finite limit or sweep value only fails after the solve."""

    name = "finite number"

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201
        number = super().convert(value, param, ctx)
        if number != number or number in (float("inf"), float("-inf")):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def _err(msg: str) -> None:
    click.echo(msg, err=True)


def _report_error(exc: PlannerError, as_json: bool) -> None:
    if as_json:
        payload: dict[str, object] = {
            "status": "infeasible" if isinstance(exc, InfeasibleError) else "error",
            "message": exc.message,
            "exit_code": exc.exit_code,
        }
        if exc.issues:
            payload["problems"] = [str(i) for i in exc.issues]
        if isinstance(exc, InfeasibleError):
            payload["findings"] = exc.findings
        click.echo(json.dumps(payload, indent=2))
    _err(f"Error: {exc.message}")
    for issue in exc.issues[:MAX_SHOWN]:
        _err(f"  {issue}")
    if len(exc.issues) > MAX_SHOWN:
        _err(f"  ...and {len(exc.issues) - MAX_SHOWN} more")
    if isinstance(exc, InfeasibleError):
        for f in exc.findings:
            _err(f"  - {f}")
    if getattr(exc, "kept", None) is None:
        _err(_nothing_written())


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt: the solver is cancelled, a CBC child ended
    and the temporaries removed by the very same paths."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise Terminated


# What the current command has written (set by _commit), so that an interruption after the outputs were
# replaced does not claim that nothing was written.
_WRITTEN: list[Path] = []


def _commit(outputs) -> None:  # noqa: ANN001 - planner.output.write.OutputSet
    _WRITTEN.extend(outputs.commit())


def _nothing_written() -> str:
    return "Nothing was written." if not _WRITTEN else f"The outputs were written: {', '.join(map(str, _WRITTEN))}."


def _run(fn, as_json: bool = False, debug: bool = False) -> None:  # noqa: ANN001
    _WRITTEN.clear()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        _run_reporting(fn, as_json, debug)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run_reporting(fn, as_json: bool, debug: bool) -> None:  # noqa: ANN001
    try:
        fn()
    except PlannerError as exc:
        _report_error(exc, as_json)
        sys.exit(exc.exit_code)
    except Terminated:
        _err(f"Terminated (SIGTERM): the run was stopped. {_nothing_written()}")
        sys.exit(143)
    except KeyboardInterrupt:
        _err(f"Interrupted. {_nothing_written()}")
        sys.exit(130)
    except BrokenPipeError:  # before OSError, its base class
        # the reader of stdout went away (planner solve | head): the work is done; stop printing quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.ENAMETOOLONG, getattr(errno, "EDQUOT", None)):
            _internal_error(exc, as_json, debug)
        # a writer that did not map it itself: still the user's disk or name, not a bug
        from planner.output.write import os_error  # noqa: PLC0415

        _report_error(os_error(Path(exc.filename or "the output"), exc), as_json)
        sys.exit(6)
    except Exception as exc:  # a bug: say so, and show the traceback only on request
        _internal_error(exc, as_json, debug)


def _internal_error(exc: Exception, as_json: bool, debug: bool) -> None:
    if debug or os.environ.get("PLANNER_DEBUG"):
        traceback.print_exc()
    if as_json:
        click.echo(json.dumps({"status": "error", "message": f"internal error: {exc}", "exit_code": 1}))
    _err(f"Internal error (this is a bug in planner): {type(exc).__name__}: {exc}")
    _err(f"Run again with --debug for the traceback. {_nothing_written()}")
    sys.exit(1)


def _existing(path: Path) -> Path:
    """An input path that must exist (checked here, not by click, so the error reads like every other)."""
    if not path.exists():
        raise UsageError(f"{path} does not exist")
    return path


_PROGRESS_SHOWN: list[bool] = []


def _progress_line(elapsed: float) -> None:
    """'Solving... 12 s' on stderr, redrawn in place, once a solve has run for 2 seconds."""
    if elapsed >= 2.0:
        _PROGRESS_SHOWN.append(True)
        click.echo(f"\rSolving... {elapsed:,.0f} s (Ctrl-C stops)", err=True, nl=False)


def _resolve_output(input_path: Path, output: Path | None, kind: str = "plan") -> Path:
    """The output path: given, or outputs/<input>_<kind>.xlsx under the current folder (also for the
    bundled case, wherever the package is installed); never the input or the bundled inputs."""
    if output is None:
        output = Path("outputs") / f"{input_path.stem}_{kind}.xlsx"
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the folder {output.parent} for the output ({exc.strerror or exc}); "
                              "give -o OUT.xlsx") from exc
    if output.suffix.lower() != ".xlsx":
        raise UsageError(f"the output must be an .xlsx file, got {output}")
    _not_over_inputs(input_path, output)
    return output


def _not_over_inputs(input_path: Path, output: Path) -> None:
    out_abs = output.resolve()
    in_abs = input_path.resolve()
    if out_abs == in_abs or (in_abs.is_dir() and in_abs in out_abs.parents):
        raise UsageError(f"refusing to write the output over the input ({output})")
    for bundled, name in (((REPO / "inputs").resolve(), "inputs/"), (DATA.resolve(), "data/")):
        if bundled in out_abs.parents:
            raise UsageError(f"refusing to write into the bundled {name} folder ({output})")


def _resolve_mps(input_path: Path, mps_path: Path) -> Path:
    # HiGHS chooses the format by the extension and refuses others (.txt): say so before solving
    if mps_path.suffix.lower() != ".mps":
        raise UsageError(f"--write-mps writes an MPS file: give a name ending in .mps, got {mps_path}")
    _not_over_inputs(input_path, mps_path)
    return mps_path


def _failure(message: str, exit_code: int) -> PlannerError:
    """An error with the exit code a single solve would have had (a batch's baseline, a sweep's points)."""
    err = PlannerError(message)
    err.exit_code = exit_code or 1
    return err


def _require(module: str, option: str, install: str) -> None:
    """Refuse an option whose dependency is missing before anything is read, solved or written."""
    if importlib.util.find_spec(module) is None:
        raise UsageError(f"{option} needs the package {module!r}, which is not installed: pip install {install}")


_SCHEDULER = re.compile(r"(?:(?P<scheme>[a-z][a-z0-9+.-]*)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)"
                        r"(?::(?P<port>[0-9]{1,5}))?/?")
_SCHEMES = {"tcp", "tls", "ws", "wss", "ucx", "inproc"}


def _check_executor(executor: str, scheduler: str | None) -> None:
    """--executor dask and --scheduler, checked before the input is read."""
    if executor != "dask":
        if scheduler is not None:
            raise UsageError("--scheduler is for --executor dask")
        return
    _require("distributed", "--executor dask", "'planner[dask]'")
    if not scheduler:
        raise UsageError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
    m = _SCHEDULER.fullmatch(scheduler)
    if m is None or (m["scheme"] and m["scheme"] not in _SCHEMES) or (m["port"] and not 0 < int(m["port"]) < 65536):
        raise UsageError(f"--scheduler {scheduler!r} is not a Dask scheduler address: give host:port or "
                         "tcp://host:port, e.g. tcp://10.0.0.5:8786")


def input_options(fn):  # noqa: ANN001, ANN201
    """--max-rows and --strict-numerics, for every command that reads an input."""
    fn = click.option("--strict-numerics", is_flag=True,
                      help="Refuse numbers spanning too many orders of magnitude instead of warning.")(fn)
    return click.option("--max-rows", type=click.IntRange(min=1), default=1_000_000, show_default=True,
                        help="Refuse a sheet with more data rows than this.")(fn)


def size_option(fn):  # noqa: ANN001, ANN201
    """--max-columns, for every command that builds a model."""
    return click.option("--max-columns", type=click.IntRange(min=1), default=None,
                        help="Refuse a model of more variables than this (estimated before it is built; "
                             "overrides Settings.max_columns, default 2,000,000).")(fn)


def _sized(inputs, max_columns: int | None):  # noqa: ANN001, ANN202
    """``inputs`` with --max-columns as its Settings max_columns (the option wins), so that every scenario of
    a batch, in whatever process, is held to it."""
    return inputs if max_columns is None else inputs.with_settings(max_columns=max_columns)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="planner")
def main() -> None:
    """Rare-earth alternative-sourcing planner: supplier workbooks in, a license-aware
    least-cost sourcing mix out.

    \b
    Examples:
        planner solve                      # the bundled reference case
        planner solve my_inputs.xlsx -o outputs/plan.xlsx
        planner validate my_inputs.xlsx
        planner template my_template.xlsx
    """


@main.command()
@click.argument("input_path", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Recommendation workbook to write (default: outputs/<input>_plan.xlsx).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object on stdout.")
@click.option("--solver", type=click.Choice(["auto", "highs", "cbc"]), default=None,
              help="Override Settings.solver.")
@click.option("--time-limit", type=FiniteFloat(min=0, min_open=True, max=MAX_TIME_LIMIT_S), default=None,
              help="Override Settings.time_limit_s (seconds).")
@click.option("--mip-gap", type=FiniteFloat(0, 1), default=None, help="Override Settings.mip_gap.")
@click.option("--require-optimal", is_flag=True, help="Exit 5 unless the plan is proven optimal.")
@click.option("--write-mps", "mps_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the model as an MPS file (to time a solver on it alone).")
@click.option("--picture", is_flag=True,
              help="Also write the chain as a Sankey diagram next to the workbook: <output>_chain.html and .png.")
@click.option("--period", "picture_period", default=None,
              help="With --picture, on an input with a Periods sheet: the period whose chain is drawn "
                   "(default: the first, the chain to buy now).")
@click.option("--regimes", "regimes_path", type=click.Path(path_type=Path), default=None,
              help="Workbook (or CSV folder) whose Regimes and RegimeChanges sheets list licence regimes to plan "
                   "against (default: the input's own, if it has them).")
@click.option("--risk-aversion", type=FiniteFloat(min=0, max=1e6), default=None,
              help="With regimes: override Settings.risk_aversion (objective: expected cost + this x CVaR).")
@click.option("--regime-method", type=click.Choice(["extensive", "decomposed"]), default=None,
              help="With regimes: override Settings.regime_method (decomposed: one model per regime, in parallel, "
                   "with a lower bound).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("-v", "--verbose", is_flag=True, help="Show model size and the solver log.")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@input_options
@size_option
def solve(input_path: Path | None, output: Path | None, as_json: bool, solver: str | None, time_limit: float | None,
          mip_gap: float | None, require_optimal: bool, mps_path: Path | None, picture: bool,
          picture_period: str | None, regimes_path: Path | None, risk_aversion: float | None,
          regime_method: str | None, quiet: bool,
          verbose: bool, debug: bool, max_rows: int, strict_numerics: bool, max_columns: int | None) -> None:
    """Plan the sourcing mix and write the recommendation workbook.

    INPUT_PATH is an .xlsx workbook or a folder of CSV files (one per sheet);
    without it the bundled reference case is planned.

    \b
    Examples:
        planner solve inputs/rare_earth_magnets.xlsx -o outputs/plan.xlsx --json
        planner solve --picture          # also outputs/rare_earth_magnets_plan_chain.html and .png
        planner solve years.xlsx --picture --period 2028   # the chain of 2028, on an input over years
        planner solve years.xlsx --regimes regimes.xlsx     # one plan that holds up in every regime
    """

    def go() -> None:
        from planner.output.write import OutputSet  # noqa: PLC0415

        if picture_period is not None and not picture:
            raise UsageError("--period chooses the period drawn by --picture; give --picture too")
        if picture:
            _require("PIL", "--picture", "pillow")
        src = _existing(input_path) if input_path else REFERENCE
        if not src.exists():
            raise UsageError(f"the bundled reference case {src} is missing; give an input file")
        out = _resolve_output(src, output)
        mps_target = _resolve_mps(src, mps_path) if mps_path is not None else None
        pictures = (out.with_name(f"{out.stem}_chain.html"), out.with_name(f"{out.stem}_chain.png")) \
            if picture else ()
        with OutputSet() as outputs:
            outputs.reserve(out)  # first: the file most likely held open, so a lock is met before any replace
            for p in pictures:
                outputs.reserve(p)
            if mps_target is not None:
                outputs.reserve(mps_target, tmp_suffix=".tmp.mps")
            result = _solve_and_write(src, out, pictures, mps_target, outputs)
            _commit(outputs)
        if as_json:
            payload = result.to_json()
            payload["output"] = str(out)
            if pictures:
                payload["pictures"] = [str(p) for p in pictures]
                if result.periods is not None:
                    payload["picture_period"] = result.run_info.get("picture_period")
            click.echo(json.dumps(payload, indent=2, default=str))
        elif not quiet:
            _print_summary(result, out)
            if pictures and result.periods is not None:
                period = result.run_info.get("picture_period")
                click.echo(f"Chain drawn for {period}" + (" (the first period; --period chooses another)"
                                                          if picture_period is None else "") + f": {pictures[0]}")
        for w in result.warnings:
            if not quiet:
                _err(f"Warning: {w}")

    def _solve_and_write(src: Path, out: Path, pictures: tuple[Path, ...], mps_target: Path | None,
                         outputs):  # noqa: ANN001, ANN202
        from planner.api import options_from, plan  # noqa: PLC0415
        from planner.input.validate import load  # noqa: PLC0415
        from planner.output.sheets import recommendation_tables  # noqa: PLC0415
        from planner.output.write import write_workbook  # noqa: PLC0415

        inputs = _sized(load(src, max_rows, strict_numerics), max_columns)
        if regimes_path is not None:
            from dataclasses import replace  # noqa: PLC0415

            from planner.input.validate import load_regimes  # noqa: PLC0415

            regimes, changes = load_regimes(_existing(regimes_path))
            inputs = replace(inputs, regimes=regimes, regime_changes=changes)
        if risk_aversion is not None:
            inputs = inputs.with_settings(risk_aversion=risk_aversion)
        if regime_method is not None:
            inputs = inputs.with_settings(regime_method=regime_method)
        if picture_period is not None:  # known from the input alone: refused before minutes of solving
            _check_period(inputs, picture_period)
        opts = options_from(inputs, solver=solver, time_limit_s=time_limit, mip_gap=mip_gap, verbose=verbose)
        if verbose:
            _err(f"planner {__version__}: read {src}")
        from planner.optimise import solve as solve_mod  # noqa: PLC0415

        if sys.stderr.isatty() and not quiet and not as_json and not verbose:
            solve_mod.PROGRESS["tick"] = _progress_line
        try:
            result = plan(inputs, opts, mps_path=None if mps_target is None else outputs.temp(mps_target),
                          on_size=(lambda size: _err(f"model size (estimated before building): {size.text()}"))
                          if verbose else None)
        finally:
            if solve_mod.PROGRESS.pop("tick", None) is not None and _PROGRESS_SHOWN:
                click.echo("\r" + " " * 40 + "\r", err=True, nl=False)
        if require_optimal and result.status != "optimal":
            raise NoSolutionError(f"the plan is {result.status}, not proven optimal (--require-optimal)")
        if verbose:
            ri = result.run_info
            _err(f"model: {ri['variables']:,} variables of a possible {ri['variables_possible']:,}, "
                 f"{ri['constraints']:,} constraints, {ri['integer_variables']} integer")
            for phase in ri["solve_phases"].split(" | ") if ri.get("solve_phases") else []:
                _err(f"  {phase}")
        result.warnings += write_workbook(out, recommendation_tables(result), outputs=outputs)
        if pictures:
            from planner.output.sankey import period_plan, write_picture  # noqa: PLC0415

            drawn, period = period_plan(result, picture_period)
            title = f"Sourcing plan: {src.stem}" + (f", {period}" if period else "")
            write_picture(drawn, pictures[0], pictures[1], title=title, outputs=outputs)
            result.run_info["picture_period"] = period
        return result

    _run(go, as_json, debug)


def _check_sizes(inputs, check_size) -> None:  # noqa: ANN001
    """The size guard before a batch or sweep starts: each period's model of an input over periods (the
    horizon's total is guarded again when the baseline is planned)."""
    for t in inputs.period_ids:
        check_size(inputs.for_period(t))


def _check_period(inputs, period: str) -> None:  # noqa: ANN001 - planner.input.data.Inputs
    """--period on an input it cannot name a period of: a usage error (exit 2), before solving."""
    if inputs.periods is None:
        raise UsageError(f"--period {period}: this input plans one year (it has no Periods sheet); leave out --period")
    if period not in inputs.period_ids:
        raise UsageError(f"--period {period}: not a period of this input (its periods: {', '.join(inputs.period_ids)})")


def _all_points_failed(points: list) -> None:  # noqa: ANN001 - planner.whatif.batch.Outcome
    """A sweep in which no point can be planned is a failure, not a workbook of error rows."""
    if not points or any(o.plan is not None for o in points):
        return
    first = points[0]
    message = f"no point of the sweep could be planned ({len(points)} points); the first, {first.scenario}: " \
              f"{first.message}"
    if all(o.status == "infeasible" for o in points):
        raise InfeasibleError(message, first.findings)
    if all(o.exit_code == 3 for o in points):
        # every point's change was refused: the points come from --param/--from/--to, so the usage is wrong
        raise UsageError(message)
    raise _failure(message, next((o.exit_code for o in points if o.exit_code != 3), 1))


def _print_summary(result, out: Path) -> None:  # noqa: ANN001
    from planner.output.sheets import status_text  # noqa: PLC0415

    s = result.summary
    click.echo(f"Status: {status_text(result)}")
    if result.regimes is not None:  # against licence regimes: their answers first
        for line in result.regime_findings or []:
            click.echo(f"  - {line}")
        click.echo(f"In the first regime, {result.regimes.names[0]}:")
    if result.periods is not None:  # a plan over periods: totals over the horizon, then what to do when
        _print_horizon(result, out)
        return
    click.echo(f"Total cost: {s['total_cost_usd']:,.0f} USD/yr")
    for k, v in result.cost_breakdown.items():
        if v:
            click.echo(f"  {k:<14} {v:>18,.0f}")
    click.echo(f"Delivered {s['delivered_t']:,.1f} t of {s['demand_t']:,.1f} t; shortage {s['shortage_t']:,.1f} t")
    click.echo(f"License-exposed: {s['exposed_t']:,.1f} t ({100 * s['exposed_share']:.1f} % of deliveries); "
               f"expected license loss {s['expected_license_loss_usd']:,.0f} USD/yr")
    short = result.plants[result.plants["shortage_t"] > 0] if len(result.plants) else result.plants
    for r in short.itertuples(index=False) if result.explanation is None else []:  # else the findings say it
        click.echo(f"  short: {r.site_id} {r.product} {r.shortage_t:,.1f} t of {r.demand_t:,.1f} t")
    click.echo(f"Solved in {s['solve_time_s']:.2f} s with {s['solver']}. Workbook: {out}")
    for line in result.explanation.findings[2:5] if result.explanation is not None else []:
        click.echo(f"  - {line}")


def _print_horizon(result, out: Path) -> None:  # noqa: ANN001
    from planner.output.horizon import horizon_findings  # noqa: PLC0415

    s = result.summary
    ids = [t for t, _ in result.periods]
    click.echo(f"Total cost over {ids[0]}-{ids[-1]}: {s['total_cost_usd']:,.0f} USD"
               + (f" (discounted at {s['discount_rate']:g} a period)" if s.get("discount_rate") else ""))
    for k, v in result.cost_breakdown.items():
        if v:
            click.echo(f"  {k:<14} {v:>18,.0f}")
    click.echo(f"Delivered {s['delivered_t']:,.1f} t of {s['demand_t']:,.1f} t over the periods; shortage "
               f"{s['shortage_t']:,.1f} t; license-exposed {s['exposed_t']:,.1f} t")
    click.echo(f"Solved in {s['solve_time_s']:.2f} s with {s['solver']}. Workbook: {out}")
    for line in horizon_findings(result)[1:]:
        click.echo(f"  - {line}")


@main.command()
@click.argument("input_path", required=False, type=click.Path(path_type=Path))
@click.option("--whatif", "whatif_path", type=click.Path(path_type=Path),
              help="Workbook (or CSV folder) whose WhatIf sheet holds the scenarios (default: the input's own).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Comparison workbook to write (default: outputs/<input>_batch.xlsx).")
@click.option("--json", "as_json", is_flag=True, help='Print {"scenarios": [...]} on stdout, baseline first.')
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: the machine's cores).")
@click.option("--detail", is_flag=True, help="Add one sheet per scenario with its lanes used.")
@click.option("--executor", type=click.Choice(["process", "dask"]), default="process", show_default=True,
              help="Where scenarios run: local worker processes, or an existing Dask cluster (planner[dask]).")
@click.option("--scheduler", default=None, help="Dask scheduler address, with --executor dask.")
@click.option("--cold", is_flag=True, help="Solve every scenario from scratch (no reuse of the previous basis).")
@click.option("--solver", type=click.Choice(["auto", "highs", "cbc"]), default=None, help="Override Settings.solver.")
@click.option("--time-limit", type=FiniteFloat(min=0, min_open=True, max=MAX_TIME_LIMIT_S), default=None,
              help="Override Settings.time_limit_s (seconds, per scenario).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@input_options
@size_option
def batch(input_path: Path | None, whatif_path: Path | None, output: Path | None, as_json: bool, jobs: int | None,
          detail: bool, executor: str, scheduler: str | None, cold: bool, solver: str | None,
          time_limit: float | None, quiet: bool, debug: bool, max_rows: int, strict_numerics: bool,
          max_columns: int | None) -> None:
    """Plan the baseline and every what-if scenario, and write one comparison workbook.

    Scenarios come from the input's WhatIf sheet, or from --whatif FILE. Each
    row changes one sheet (set, add, multiply or delete; * matches any value in
    a key part). A scenario that cannot be applied is reported and skipped.
    The input is read once; scenarios that only change numbers re-solve from
    the previous plan's basis. --executor dask --scheduler ADDRESS sends them to
    a Dask cluster.

    \b
    Example:
        planner batch inputs/rare_earth_magnets.xlsx --whatif inputs/whatif_reference.xlsx -o outputs/batch.xlsx
    """

    def go() -> None:
        from planner.output.sheets import batch_tables  # noqa: PLC0415
        from planner.output.write import OutputSet, write_workbook  # noqa: PLC0415
        from planner.whatif.batch import comparison, flow_changes, horizon_words, period_comparison  # noqa: PLC0415

        _check_executor(executor, scheduler)
        src = _existing(input_path) if input_path else _existing(REFERENCE)
        # the bundled case comes with its bundled what-ifs
        whatif_src = whatif_path if whatif_path is not None or input_path else WHATIF_REFERENCE
        out = _resolve_output(src, output, "batch")
        if whatif_src is not None and out.resolve() == whatif_src.resolve():
            raise UsageError(f"refusing to write the output over the what-if file ({out})")
        with OutputSet() as outputs:
            outputs.reserve(out)
            outcomes = _plan_batch(src, whatif_src)
            base = outcomes[0]
            if base.plan is None:
                if base.status == "infeasible":
                    raise InfeasibleError(f"the baseline could not be planned: {base.message}", base.findings)
                raise _failure(f"the baseline could not be planned: {base.message}", base.exit_code)
            write_workbook(out, batch_tables(outcomes, comparison(outcomes), flow_changes(outcomes), detail=detail,
                                             periods=period_comparison(outcomes)), outputs=outputs)
            _commit(outputs)
        if as_json:
            entries = []
            for o in outcomes:
                entry: dict[str, object] = {"scenario": o.scenario}
                if o.plan is not None:
                    entry.update(o.plan.to_json())
                else:
                    entry.update({"status": o.status, "message": o.message, "findings": o.findings})
                entries.append(entry)
            click.echo(json.dumps({"scenarios": entries, "output": str(out)}, indent=2, default=str))
        elif not quiet:
            base = outcomes[0].plan.summary["total_cost_usd"]
            width = max(len(o.scenario) for o in outcomes)  # names whole: two may differ only at the end
            unit = "USD/yr" if outcomes[0].plan.periods is None else "USD"  # over periods: the horizon's total
            if outcomes[0].plan.periods is not None:
                click.echo(f"Costs {horizon_words(outcomes[0].plan).rstrip(',')}; each period on the Periods sheet")
            for o in outcomes:
                if o.plan is not None:
                    c = o.plan.summary["total_cost_usd"]
                    click.echo(f"{o.scenario:<{width}} {o.status:<10} {c:>18,.0f} {unit}  "
                               f"{c - base:>+16,.0f}  exposed {100 * o.plan.summary['exposed_share']:5.1f} %")
                else:
                    click.echo(f"{o.scenario:<{width}} {o.status:<10} {o.message}")
            click.echo(f"Workbook: {out}")
        failed = [o for o in outcomes if o.plan is None]
        if failed and not quiet:
            _err(f"Warning: {len(failed)} scenario(s) could not be planned; see the Comparison sheet")

    def _plan_batch(src: Path, whatif_src: Path | None):  # noqa: ANN202
        from planner.api import check_size, options_from  # noqa: PLC0415
        from planner.input.validate import load, load_whatif  # noqa: PLC0415
        from planner.whatif.batch import default_jobs, run_batch  # noqa: PLC0415
        from planner.whatif.scenarios import parse_whatif  # noqa: PLC0415

        inputs = _sized(load(src, max_rows, strict_numerics), max_columns)
        _check_sizes(inputs, check_size)  # the baseline, before any worker starts; each scenario is checked again
        whatif = load_whatif(_existing(whatif_src)) if whatif_src is not None else inputs.whatif
        scenarios = parse_whatif(whatif)
        if not scenarios and not quiet:
            _err("Warning: no WhatIf scenarios found; only the baseline is planned")
        opts = options_from(inputs, solver=solver, time_limit_s=time_limit)
        n = len(scenarios) + 1
        show = sys.stderr.isatty() and not quiet and not as_json
        bar = click.progressbar(length=n, label="Planning scenarios", file=sys.stderr) if show else None
        done = (lambda _o: bar.update(1)) if bar else None
        if bar:
            bar.__enter__()
        try:
            n_jobs = jobs or (0 if executor == "dask" else default_jobs())
            return run_batch(inputs, scenarios, opts, jobs=n_jobs, progress=done, warm=not cold,
                             executor=executor, scheduler=scheduler)
        finally:
            if bar:
                bar.__exit__(None, None, None)

    _run(go, as_json, debug)


@main.command()
@click.argument("input_path", required=False, type=click.Path(path_type=Path))
@click.option("--param", required=True,
              help="A Settings key (max_exposed_share, risk_weight, ...) or Sheet:key:column.")
@click.option("--from", "start", type=FiniteFloat(), required=True, help="First value.")
@click.option("--to", "stop", type=FiniteFloat(), required=True, help="Last value.")
@click.option("--steps", type=click.IntRange(min=2), default=11, show_default=True, help="Number of points.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Sweep workbook to write (default: outputs/<input>_sweep.xlsx).")
@click.option("--json", "as_json", is_flag=True, help='Print {"points": [...]} on stdout.')
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Worker processes (default: the cores).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@input_options
@size_option
def sweep(input_path: Path | None, param: str, start: float, stop: float, steps: int, output: Path | None,
          as_json: bool, jobs: int | None, quiet: bool, debug: bool, max_rows: int, strict_numerics: bool,
          max_columns: int | None) -> None:
    """Step one parameter over a range and chart the trade-off (cost against exposure).

    \b
    Examples:
        planner sweep --param max_exposed_share --from 1 --to 0 --steps 11
        planner sweep my.xlsx --param Supply:SP_MY_LYNAS/DYTB_OXIDE:capacity_t --from 100 --to 1100 --steps 6
    """

    def go() -> None:
        from planner.api import check_size, options_from  # noqa: PLC0415
        from planner.input.validate import load  # noqa: PLC0415
        from planner.output.sheets import sweep_tables  # noqa: PLC0415
        from planner.output.write import OutputSet, write_workbook  # noqa: PLC0415
        from planner.whatif.batch import default_jobs, run_batch  # noqa: PLC0415
        from planner.whatif.sweep import headline, points, sweep_frame  # noqa: PLC0415

        src = _existing(input_path) if input_path else _existing(REFERENCE)
        out = _resolve_output(src, output, "sweep")
        pts = points(param, start, stop, steps)
        with OutputSet() as outputs:
            outputs.reserve(out)
            inputs = _sized(load(src, max_rows, strict_numerics), max_columns)
            _check_sizes(inputs, check_size)
            outcomes = run_batch(inputs, pts, options_from(inputs), jobs=jobs or default_jobs())
            _all_points_failed(outcomes[1:])
            values = [float(c.changes[0].value) for c in pts]
            frame = sweep_frame(outcomes, values)
            sentence = headline(frame, param)
            write_workbook(out, sweep_tables(frame, param, sentence), outputs=outputs)
            _commit(outputs)
        if as_json:
            recs = frame.astype(object).where(frame.notna(), None).to_dict("records")
            for rec, o in zip(recs, outcomes, strict=True):  # over periods: each point's horizon keys too
                if o.plan is not None and o.plan.periods is not None:
                    full = o.plan.to_json()
                    rec.update({k: full[k] for k in ("discount_rate", "qualifications", "periods")})
            click.echo(json.dumps({"param": param, "headline": sentence, "points": recs, "output": str(out)},
                                  indent=2, default=str))
        elif not quiet:
            width = max(len(str(p)) for p in frame["point"])  # point names whole: they end in the value
            for r in frame.itertuples(index=False):
                cost = "" if r.total_cost_usd is None or r.total_cost_usd != r.total_cost_usd else \
                    f"{r.total_cost_usd:>18,.0f} USD/yr  exposed {100 * r.exposed_share:5.1f} %"
                if cost and "expected_cost_usd" in frame.columns and r.expected_cost_usd == r.expected_cost_usd:
                    cost = f"expected {r.expected_cost_usd:>16,.0f} USD  CVaR {r.cvar_usd:>16,.0f} USD"
                click.echo(f"{r.point:<{width}} {r.status:<10} {cost} {r.message or ''}")
            click.echo(sentence)
            click.echo(f"Workbook: {out}")

    _run(go, as_json, debug)


@main.command()
@click.argument("input_path", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Stress-test workbook to write (default: outputs/<input>_stress.xlsx).")
@click.option("--json", "as_json", is_flag=True, help='Print {"stress": [...], "survival": [...]} on stdout.')
@click.option("--by", type=click.Choice(["supplier", "country", "both"]), default="supplier", show_default=True,
              help="Lose each supplier, each country's exports (every shipment abroad banned), or both.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Worker processes (default: the cores).")
@click.option("--solver", type=click.Choice(["auto", "highs", "cbc"]), default=None, help="Override Settings.solver.")
@click.option("--time-limit", type=FiniteFloat(min=0, min_open=True, max=MAX_TIME_LIMIT_S), default=None,
              help="Override Settings.time_limit_s (seconds, per re-plan).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@input_options
@size_option
def stress(input_path: Path | None, output: Path | None, as_json: bool, by: str, jobs: int | None,
           solver: str | None, time_limit: float | None, quiet: bool, debug: bool, max_rows: int,
           strict_numerics: bool, max_columns: int | None) -> None:
    """Lose each supplier (or each country's exports) in turn, re-plan, and rank the losses.

    Ranked by the shortage a loss causes, then by the cost it adds; for the plant
    worst hit, the days its stock lasts (time-to-survive). A supplier is every
    site with Supply capacity (mines, refiners, metal and magnet makers); losing
    it sets its capacity to 0. --by country bans each country's exports instead
    (Controls rows with approval 0; flows within the country stay).

    \b
    Examples:
        planner stress                     # the bundled reference case, each supplier
        planner stress inputs/rare_earth_magnets_2026_2030.xlsx --by both -o outputs/stress.xlsx
    """

    def go() -> None:
        from planner.api import check_size, options_from  # noqa: PLC0415
        from planner.input.validate import load  # noqa: PLC0415
        from planner.output.stress import stress_tables  # noqa: PLC0415
        from planner.output.write import OutputSet, write_workbook  # noqa: PLC0415
        from planner.whatif.batch import default_jobs, run_batch  # noqa: PLC0415
        from planner.whatif.stress import json_rows, stress_report, stress_scenarios  # noqa: PLC0415

        src = _existing(input_path) if input_path else _existing(REFERENCE)
        out = _resolve_output(src, output, "stress")
        with OutputSet() as outputs:
            outputs.reserve(out)
            inputs = _sized(load(src, max_rows, strict_numerics), max_columns)
            _check_sizes(inputs, check_size)
            losses, scenarios = stress_scenarios(inputs, by)
            if not scenarios and not quiet:
                _err("Warning: no supplier has any Supply capacity; only the baseline is planned")
            opts = options_from(inputs, solver=solver, time_limit_s=time_limit)
            show = sys.stderr.isatty() and not quiet and not as_json
            bar = click.progressbar(length=len(scenarios) + 1, label="Re-planning without each",
                                    file=sys.stderr) if show else None
            if bar:
                bar.__enter__()
            try:
                outcomes = run_batch(inputs, scenarios, opts, jobs=jobs or default_jobs(),
                                     progress=(lambda _o: bar.update(1)) if bar else None)
            finally:
                if bar:
                    bar.__exit__(None, None, None)
            base = outcomes[0]
            if base.plan is None:
                if base.status == "infeasible":
                    raise InfeasibleError(f"the baseline could not be planned: {base.message}", base.findings)
                raise _failure(f"the baseline could not be planned: {base.message}", base.exit_code)
            report = stress_report(inputs, losses, outcomes)
            write_workbook(out, stress_tables(report.ranking, report.survival, report.findings, scenarios, src.name,
                                              report.per_t, report.per_usd, report.stock_note), outputs=outputs)
            _commit(outputs)
        if as_json:
            click.echo(json.dumps({"by": by, "baseline": base.plan.to_json(), "findings": report.findings,
                                   "stress": json_rows(report.ranking), "survival": json_rows(report.survival),
                                   "output": str(out)}, indent=2, default=str))
        elif not quiet:
            r = report.ranking
            width = min(max([len(str(x)) for x in r["lost"]] + [4]), 40)
            click.echo(f"Shortage in t {report.per_t}, cost change in M USD {report.per_usd.rstrip(',')}, "
                       "against the baseline; TTS: days the worst-hit plant's stock lasts")
            click.echo(f"{'rank':>4}  {'lost':<{width}} {'effect':<8} {'short t':>10} {'cost M USD':>11}  "
                       f"{'TTS':>10}  worst hit")
            for x in r.itertuples(index=False):
                name = str(x.lost)[:width]
                if x.status not in ("optimal", "feasible"):
                    click.echo(f"{'':>4}  {name:<{width}} {x.status:<8} {x.message}")
                    continue
                worst = f"{x.worst_plant} {x.worst_product}" if isinstance(x.worst_plant, str) else ""
                click.echo(f"{int(x.rank):>4}  {name:<{width}} {x.effect:<8} {x.shortage_t:>10,.1f} "
                           f"{x.delta_cost_usd / 1e6:>+11,.1f}  {x.time_to_survive:>10}  {worst}")
            for line in report.findings:
                click.echo(f"  - {line}")
            click.echo(f"Workbook: {out}")
        failed = [o for o in outcomes[1:] if o.plan is None]
        if failed and not quiet:
            _err(f"Warning: {len(failed)} loss(es) could not be planned; see the Stress sheet")

    _run(go, as_json, debug)


@main.command()
@click.argument("input_path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@input_options
def validate(input_path: Path, as_json: bool, max_rows: int, strict_numerics: bool) -> None:
    """Check an input workbook (or CSV folder) and list every problem with its sheet, row and column.

    Exits 0 only when the input is valid.

    \b
    Example:
        planner validate inputs/rare_earth_magnets.xlsx
    """

    def go() -> None:
        from planner.input.validate import load  # noqa: PLC0415
        from planner.optimise.network import build_network  # noqa: PLC0415

        inputs = load(_existing(input_path), max_rows, strict_numerics)
        warnings = [str(w) for w in inputs.warnings] + build_network(inputs).warnings
        if as_json:
            click.echo(json.dumps({"status": "valid", "warnings": warnings}, indent=2))
            return
        for w in warnings:
            _err(f"Warning: {w}")
        counts = ", ".join(f"{len(getattr(inputs, t))} {t}" for t in ("sites", "supply", "lanes", "demand"))
        click.echo(f"{input_path} is valid ({counts}).")

    _run(go, as_json)


@main.command()
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--blank", is_flag=True, help="Leave out the worked example rows.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def template(output: Path, blank: bool, force: bool) -> None:
    """Write a blank input workbook: every sheet and column, with units, allowed values and an example row.

    \b
    Example:
        planner template my_inputs.xlsx
    """

    def go() -> None:
        from planner.output.sheets import template_workbook  # noqa: PLC0415
        from planner.output.write import check_writable  # noqa: PLC0415

        if output.suffix.lower() != ".xlsx":
            raise UsageError(f"the template must be an .xlsx file, got {output}")
        if output.exists() and not force:
            # most likely a template already filled in: hours of work a typo in a command would erase
            raise UsageError(f"{output} already exists; give --force to overwrite it, or another name")
        check_writable(output)
        template_workbook(output, with_examples=not blank)
        click.echo(f"Wrote {output}. Fill it in, then: planner validate {output}")

    _run(go)


def run() -> None:
    """The ``planner`` command (the console script and ``python -m planner``): ``main``, then an exit without
    the collector's last pass over every object the imports made. At exit CPython collects every generation
    once more: 0.12-0.2 s for pandas', numpy's and openpyxl's objects on the project's machine, a tenth of a
    cold run of the reference case, spent after the workbook is written and the exit code chosen (bench/
    RESULTS.md, the cold run's second round). ``gc.freeze`` moves them out of the collector's sight; they are
    still freed as the interpreter shuts down, and finalizers registered with ``atexit`` or
    ``weakref.finalize`` (temporary folders, worker pools) still run."""
    import gc  # noqa: PLC0415

    try:
        main()
    finally:
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    run()
