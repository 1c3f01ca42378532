"""The package's layers import only downwards, and the public API resolves from ``planner``.

Every import is counted, also the ones inside functions (deferred for start-up time), so a
layer cannot reach up by hiding an import in a function body.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import planner

PKG = Path(planner.__file__).resolve().parent
# Lower layers first; a module may import its own layer and any layer before it. ``api`` is the
# orchestration (read -> plan) that the what-ifs run once per scenario, and ``cli`` is the only
# module that prints.
ORDER = ["errors", "input", "optimise", "results", "output", "api", "whatif", "cli"]


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "planner" or len(parts) == 1:
        return None  # ``planner`` itself: only __version__ and the lazy API table
    return parts[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            if node.module == "planner":  # from planner import x: x is a layer (or __version__)
                out += [(node.lineno, f"planner.{a.name}") for a in node.names if a.name != "__version__"]
    return out


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if p.name not in {"__init__.py", "__main__.py"} or p.parent != PKG)


def test_every_module_belongs_to_a_layer() -> None:
    for path in _modules():
        rel = path.relative_to(PKG)
        name = rel.parts[0].removesuffix(".py")
        assert name in ORDER, f"{rel} is in no layer; add it to a layer's folder"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_layers_import_only_downwards(path: Path) -> None:
    own = ORDER.index(path.relative_to(PKG).parts[0].removesuffix(".py"))
    for line, module in _imports(path):
        layer = _layer(module)
        if layer is None:
            continue
        assert layer in ORDER, f"{path.name}:{line} imports {module}, which is in no layer"
        assert ORDER.index(layer) <= own, (
            f"{path.relative_to(PKG)}:{line} imports {module}: layer {ORDER[own]!r} may not depend on "
            f"the higher layer {layer!r}")


def test_public_api_resolves_from_the_top_level() -> None:
    for name in planner.__all__:
        assert getattr(planner, name) is not None
    with pytest.raises(AttributeError):
        planner.no_such_function  # noqa: B018


def test_public_api_plans_the_reference_case() -> None:
    ref = PKG.parent / "inputs" / "rare_earth_magnets.xlsx"
    if not ref.exists():
        pytest.skip("not a source checkout")
    p = planner.plan(planner.load(ref), detail=False)
    assert p.status == "optimal"
    assert p.summary["total_cost_usd"] > 0
