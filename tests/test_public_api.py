"""The public API of every `mlops_infra` package is pinned: renaming or dropping a public name is a decision.

Each package's `__init__.py` declares `__all__` (its components, their Args, refs, config models and the helpers users
call; a concern package imports them on first use, so its config stays free of Pulumi). `tests/data/public-api.txt`
lists every `<package>.<name>` they export, one a line; regenerate it after a deliberate change with

    python -m tests.test_public_api --write

and the diff shows the change. Modules named `_name.py` are private to their package: nothing outside the package
imports them (import statements at any depth, `importlib.import_module` with a constant name included), tests too.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mlops_infra"
PUBLIC_API = ROOT / "tests" / "data" / "public-api.txt"
# Where code that may import mlops_infra lives (the library, its policies, programs, tools and tests).
SOURCES = ["mlops_infra", "policies", "stacks", "examples", "tools", "tests", "benchmarks"]


def packages() -> list[str]:
    """Every subpackage of mlops_infra (a folder with an `__init__.py`), by dotted name."""
    return sorted(".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.glob("*/__init__.py"))


def exported(package: str) -> list[str]:
    module = importlib.import_module(package)
    names = getattr(module, "__all__", None)
    assert isinstance(names, list), f"{package}/__init__.py declares no `__all__` list"
    return [str(n) for n in names]


def listing() -> list[str]:
    return sorted(f"{p}.{n}" for p in packages() for n in exported(p))


def test_the_packages_are_found_and_each_declares_all() -> None:
    found = packages()
    assert len(found) >= 15, found
    assert {"mlops_infra.network", "mlops_infra.blocks", "mlops_infra.platform", "mlops_infra.cli"} <= set(found)
    empty = [p for p in found if not exported(p)]
    assert empty == [], f"packages exporting nothing: {empty}"


def test_the_exported_names_match_the_checked_in_list() -> None:
    pinned = PUBLIC_API.read_text().split()
    assert pinned, f"{PUBLIC_API} is empty"
    now = listing()
    assert sorted(set(now) - set(pinned)) == [] and sorted(set(pinned) - set(now)) == [], (
        f"public API changed: added {sorted(set(now) - set(pinned))}, removed {sorted(set(pinned) - set(now))}; "
        "if that is the decision, run `python -m tests.test_public_api --write` and commit the diff")
    assert len(now) == len(set(now)), "a name is listed twice in one `__all__`"


@pytest.mark.parametrize("package", packages())
def test_each_exported_name_resolves_and_has_a_docstring(package: str) -> None:
    module = importlib.import_module(package)
    names = exported(package)
    assert names
    for name in names:
        value = getattr(module, name)  # AttributeError: `__all__` names something the package does not provide
        assert not isinstance(value, ModuleType), f"{package}.{name} is a module, not a public name"
        if not (inspect.isclass(value) or callable(value)):  # a constant: its attribute docstring, where defined
            assert name in attribute_docstrings(package), f"{package}.{name} has no attribute docstring"
            continue
        assert (getattr(value, "__doc__", None) or "").strip(), f"{package}.{name} has no docstring"
        home = getattr(value, "__module__", "") or ""
        assert home == package or home.startswith(f"{package}."), f"{package}.{name} is defined in {home}"
    assert sorted(names) == sorted(set(dir(module)) & set(names))


def attribute_docstrings(package: str) -> set[str]:
    """Module-level names of the package's modules that a string literal right after their assignment documents."""
    found: set[str] = set()
    for path in ROOT.joinpath(*package.split(".")).glob("*.py"):
        body = ast.parse(path.read_text()).body
        for node, after in pairwise(body):
            if (isinstance(node, ast.Assign) and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                found.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return found


def imported_names(source: str, importer: str) -> Iterator[str]:
    """Every dotted module name `source` imports (from the module `importer`), at any depth: `import a.b`, `from a
    import b` (as `a` and `a.b`), relative imports resolved, and `importlib.import_module` with a constant name."""
    package = importer.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = parts[: len(parts) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield module
            yield from (f"{module}.{a.name}" for a in node.names)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and not node.args[0].value.startswith(".")):
            yield node.args[0].value


def private_owner(module: str) -> str | None:
    """The package a private module (`pkg/_name.py`) of mlops_infra belongs to, else None (a private name imported
    from a module, `from mlops_infra.plan.render_cache import _digest`, is that module's business, not this test's)."""
    parts = module.split(".")
    for i, part in enumerate(parts):
        if i and part.startswith("_") and not part.startswith("__") and parts[0] == "mlops_infra":
            path = ROOT.joinpath(*parts[: i + 1])
            return ".".join(parts[:i]) if path.with_suffix(".py").is_file() or path.is_dir() else None
    return None


def private_imports_from_outside(path: Path, source: str) -> list[str]:
    rel = path.relative_to(ROOT).with_suffix("")
    importer = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
    if rel.name == "__init__":
        importer += ".__init__"  # relative imports in a package's __init__ are relative to the package itself
    wrong = []
    for name in imported_names(source, importer):
        owner = private_owner(name)
        if owner is not None and not importer.startswith(f"{owner}."):
            wrong.append(name)
    return sorted(set(wrong))


def python_files() -> list[Path]:
    return sorted(p for d in SOURCES for p in (ROOT / d).rglob("*.py") if ".venv" not in p.parts)


def test_the_private_import_check_sees_lazy_and_relative_imports() -> None:
    """The check below can fail: a function-level import of a private module from another package is found, and a
    package's own relative import of it is not."""
    lazy = "def f():\n    from mlops_infra.compute._cluster_nodes import node_role\n"
    assert private_imports_from_outside(PACKAGE / "platform" / "x.py", lazy) == [
        "mlops_infra.compute._cluster_nodes", "mlops_infra.compute._cluster_nodes.node_role"]
    assert private_imports_from_outside(PACKAGE / "compute" / "x.py", "from ._cluster_nodes import node_role\n") == []
    dynamic = "import importlib\nimportlib.import_module('mlops_infra.compute._cluster_nodes')\n"
    assert private_imports_from_outside(ROOT / "tests" / "x.py", dynamic) == ["mlops_infra.compute._cluster_nodes"]


def test_no_private_module_is_imported_from_outside_its_package() -> None:
    files = python_files()
    assert len(files) > 100
    private = [p for p in PACKAGE.rglob("_*.py") if not p.name.startswith("__")]
    assert private, "no private module left to check"
    wrong = {str(p.relative_to(ROOT)): names for p in files
             if (names := private_imports_from_outside(p, p.read_text()))}
    assert wrong == {}


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.test_public_api --write   (rewrites tests/data/public-api.txt)")
    PUBLIC_API.write_text("".join(f"{line}\n" for line in listing()))
    print(f"wrote {PUBLIC_API.relative_to(ROOT)}: {len(listing())} names")
