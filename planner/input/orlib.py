"""Convert OR-Library capacitated warehouse location instances to planner input.

The instances are J.E. Beasley's OR-Library "capinfo" set (Beasley 1988,
European Journal of Operational Research 33, 314-325). Each one maps onto the
v1 input contract as a single-product sourcing problem:

* every warehouse is a candidate supplier (stage ``magnet``, status
  ``candidate``) whose fixed cost is its ``qualification_cost_usd`` and whose
  capacity is its ``Supply.capacity_t``;
* every customer is a demand site (stage ``plant``);
* every warehouse-customer pair is a lane whose freight reproduces the
  instance's assignment cost.

The optimum of the planner on the converted tables therefore equals the
published optimum of the instance, which makes the set an end-to-end check of
the planner's integer (qualification) path.

Run ``python -m planner.input.orlib FILE OUTDIR`` to write a folder of CSV files the
planner reads as input.
"""

from __future__ import annotations

import argparse
import csv
import math
import numbers
import sys
from pathlib import Path

import pandas as pd

__all__ = ["PRODUCT", "PUBLISHED_OPTIMA", "read_cap", "write_csv_folder", "main"]

#: The single product every converted instance moves.
PRODUCT = "GOOD"

#: Published optimal costs (USD) of the instances kept in ``tests/data/orlib``,
#: keyed by file stem. ``capa`` is the variant whose file states capacity 10000.
#: Source: OR-Library "capopt"; the last digit may differ by rounding.
PUBLISHED_OPTIMA: dict[str, float] = {
    "cap61": 932615.750,
    "cap62": 977799.400,
    "cap63": 1014062.050,
    "cap64": 1045650.250,
    "cap71": 932615.750,
    "cap82": 910889.563,
    "cap124": 946051.325,
    "cap131": 793439.562,
    "cap133": 893076.712,
    "capa": 18438046.543,
}

# The contract's unit costs are per kg while quantities are in tonnes.
_KG_PER_T = 1000.0


def _site_ids(prefix: str, count: int, min_width: int) -> list[str]:
    """Return zero-padded ids ``prefix + 1 .. prefix + count``.

    Parameters
    ----------
    prefix : str
        Leading letter of every id.
    count : int
        Number of ids.
    min_width : int
        Minimum number of digits; widened when ``count`` needs more so the ids
        stay unique and sort in file order.

    Returns
    -------
    list of str
        The ids in file order.
    """
    width = max(min_width, len(str(count)))
    return [f"{prefix}{k:0{width}d}" for k in range(1, count + 1)]


def _parse_count(token: str, what: str, path: Path) -> int:
    """Parse a positive integer count from the file header.

    Parameters
    ----------
    token : str
        The header token.
    what : str
        What the count is, for the error message.
    path : Path
        The file, for the error message.

    Returns
    -------
    int
        The count.

    Raises
    ------
    ValueError
        If the token is not a positive integer.
    """
    try:
        value = int(token)
    except ValueError:
        raise ValueError(f"{path}: number of {what} {token!r} is not an integer") from None
    if value <= 0:
        raise ValueError(f"{path}: number of {what} must be positive, got {value}")
    return value


def read_cap(path: str | Path, *, country: str = "ZZ") -> dict[str, pd.DataFrame]:
    """Parse an OR-Library capacitated warehouse location file.

    Parameters
    ----------
    path : str or Path
        The instance file. Format (whitespace separated, numbers may wrap over
        lines): ``m n``; ``m`` lines ``capacity_i fixed_cost_i``; then for each
        customer ``j`` its demand ``d_j`` followed by ``c_1j .. c_mj``, the cost
        of serving all of ``d_j`` from warehouse ``i``.
    country : str, default "ZZ"
        Country code given to every site. All sites share it so no shipment
        crosses a border and no export-license rule can apply.

    Returns
    -------
    dict of str to pandas.DataFrame
        Contract v1 input tables keyed by sheet name: ``Sites``, ``Supply``,
        ``Lanes``, ``Demand`` and ``Settings``. Warehouses are ``W001``..,
        customers ``C0001``..; numbers keep full float precision.

    Raises
    ------
    ValueError
        If the file is not a well-formed instance (wrong number of values, a
        value that is not a number, or a negative or non-finite one).
    OSError
        If the file cannot be read.

    Notes
    -----
    Freight is ``c_ij / d_j / 1000`` USD per kg, so that shipping all ``d_j``
    tonnes from ``i`` to ``j`` costs exactly ``c_ij`` dollars and a split
    delivery costs its pro-rata share, as in the original problem. A customer
    with zero demand gets freight 0: nothing is shipped to it, and dividing by
    its demand would be undefined.
    """
    path = Path(path)
    # Beasley's files wrap long cost rows at arbitrary points, so line
    # structure carries no meaning: only the token sequence does.
    tokens = path.read_text(encoding="ascii", errors="strict").split()
    if len(tokens) < 2:
        raise ValueError(f"{path}: expected a header 'm n', found {len(tokens)} value(s)")
    m = _parse_count(tokens[0], "warehouses", path)
    n = _parse_count(tokens[1], "customers", path)
    expected = 2 + 2 * m + n * (1 + m)
    if len(tokens) != expected:
        raise ValueError(
            f"{path}: {m} warehouses and {n} customers need {expected} values, "
            f"found {len(tokens)}"
        )
    try:
        values = [float(t) for t in tokens[2:]]
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    bad = next((v for v in values if not math.isfinite(v) or v < 0), None)
    if bad is not None:
        raise ValueError(f"{path}: values must be finite and >= 0, found {bad!r}")

    capacity = values[0 : 2 * m : 2]
    fixed_cost = values[1 : 2 * m : 2]
    body = values[2 * m :]
    stride = 1 + m
    demand = [body[j * stride] for j in range(n)]
    # cost[j][i]: customers are the outer loop in the file.
    cost = [body[j * stride + 1 : (j + 1) * stride] for j in range(n)]

    warehouses = _site_ids("W", m, 3)
    customers = _site_ids("C", n, 4)

    sites = pd.DataFrame(
        {
            "site_id": warehouses + customers,
            "name": warehouses + customers,
            "company": warehouses + customers,
            "country": [country] * (m + n),
            "stage": ["magnet"] * m + ["plant"] * n,
            "status": ["candidate"] * m + ["qualified"] * n,
            "qualification_cost_usd": fixed_cost + [0.0] * n,
        }
    )
    supply = pd.DataFrame(
        {
            "site_id": warehouses,
            "product": [PRODUCT] * m,
            "capacity_t": capacity,
            # All of the instance's cost is fixed or per assignment, so the
            # product itself is free at the source.
            "unit_cost_usd_per_kg": [0.0] * m,
        }
    )
    lane_from: list[str] = []
    lane_to: list[str] = []
    freight: list[float] = []
    for i, w in enumerate(warehouses):
        for j, c in enumerate(customers):
            lane_from.append(w)
            lane_to.append(c)
            d = demand[j]
            freight.append(cost[j][i] / d / _KG_PER_T if d > 0 else 0.0)
    lanes = pd.DataFrame(
        {
            "from_site": lane_from,
            "to_site": lane_to,
            "product": [PRODUCT] * len(lane_from),
            "freight_usd_per_kg": freight,
        }
    )
    demand_table = pd.DataFrame(
        {"site_id": customers, "product": [PRODUCT] * n, "quantity_t": demand}
    )
    # Shortage must be off: with it allowed the planner could leave demand
    # unmet whenever that is cheaper, and the optimum would no longer be the
    # published one. The tight gap is what makes the optimum comparable to
    # 1e-6 relative.
    settings = pd.DataFrame(
        {
            "key": ["allow_shortage", "mip_gap", "time_limit_s", "solver"],
            "value": pd.Series(["no", 1e-9, 600, "highs"], dtype=object),
        }
    )
    return {
        "Sites": sites,
        "Supply": supply,
        "Lanes": lanes,
        "Demand": demand_table,
        "Settings": settings,
    }


def _format_cell(value: object) -> str:
    """Format one cell for CSV without losing precision.

    Parameters
    ----------
    value : object
        The cell value.

    Returns
    -------
    str
        ``repr`` of a float (shortest text that reads back to the same
        float), the integer for an integer, empty for a missing value and
        ``str`` otherwise.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        f = float(value)
        # NaN is a blank cell, which the contract reads as the default.
        # float() first: repr of a numpy scalar names its type.
        return "" if math.isnan(f) else repr(f)
    if value is pd.NA or value is pd.NaT:
        return ""
    return str(value)


def write_csv_folder(tables: dict[str, pd.DataFrame], folder: str | Path) -> None:
    """Write input tables as a folder of ``<Sheet>.csv`` files.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        Tables keyed by sheet name, e.g. as returned by :func:`read_cap`.
    folder : str or Path
        Target folder; created with its parents if missing. Existing files of
        the same names are overwritten; other files are left alone.

    Returns
    -------
    None

    Raises
    ------
    OSError
        If the folder or a file cannot be written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for sheet, table in tables.items():
        # Written by hand rather than with DataFrame.to_csv so that every
        # float round-trips exactly, whatever the column's dtype.
        with open(folder / f"{sheet}.csv", "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow([str(c) for c in table.columns])
            for row in table.itertuples(index=False, name=None):
                writer.writerow([_format_cell(v) for v in row])


def main(argv: list[str] | None = None) -> int:
    """Command line: convert one instance file to a folder of CSV files.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        Exit code: 0 on success, 3 if the instance cannot be read or parsed,
        6 if the output cannot be written (the planner's own codes for
        invalid input and unwritable output). Usage errors exit with 2.
    """
    parser = argparse.ArgumentParser(
        prog="python -m planner.input.orlib",
        description="Convert an OR-Library capacitated warehouse location "
        "instance to a folder of planner input CSV files.",
    )
    parser.add_argument("file", type=Path, help="instance file, e.g. cap61.txt")
    parser.add_argument("outdir", type=Path, help="folder to write <Sheet>.csv files into")
    args = parser.parse_args(argv)
    try:
        tables = read_cap(args.file)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    try:
        write_csv_folder(tables, args.outdir)
    except OSError as exc:
        print(f"error: cannot write {args.outdir}: {exc}", file=sys.stderr)
        return 6
    return 0


if __name__ == "__main__":
    sys.exit(main())
