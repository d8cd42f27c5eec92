"""The concern-package layout keeps its import rules: a concern's config is Pulumi-free and stands alone.

- A concern config (`mlops_infra.<concern>.config`) imports only the shared config modules, never another concern
  nor the platform config that composes them, so the package import graph has no cycle and a concern can be
  configured without the rest of the platform.
- Imported first in a fresh interpreter, each concern config loads (no import cycle through `mlops_infra.config`)
  and loads no Pulumi.
- `blocks` and the shared config modules import no concern.
- No concern package and not `blocks` imports the platform (`mlops_infra.platform`, the adapter that composes them)
  or the output contract (`mlops_infra.outputs`): not at module level, not in a function, not for types only.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_import_graph import import_graph

PACKAGE = Path(__file__).resolve().parent.parent / "mlops_infra"
CONCERNS = ["network", "compute", "features", "registry", "observability", "security"]
CONCERN_CONFIGS = [f"mlops_infra.{c}.config" for c in CONCERNS] + ["mlops_infra.compute.gpu_config"]
SHARED_CONFIG = {"base", "errors", "environments", "types", "versions", "instances", "database"}
ALL_CONCERNS = [*CONCERNS, "serving", "pipelines", "data"]


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the modules `path` imports (relative imports resolved against its package)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names)
    return found


def shared_config(name: str) -> bool:
    """`mlops_infra.config` itself or one of its shared modules (or a name imported from one)."""
    parts = name.split(".")
    return parts[:2] == ["mlops_infra", "config"] and (len(parts) == 2 or parts[2] in SHARED_CONFIG)


def module_path(name: str) -> Path:
    return PACKAGE.parent / (name.replace(".", "/") + ".py")


@pytest.mark.parametrize("module", CONCERN_CONFIGS)
def test_a_concern_config_imports_only_shared_config(module: str) -> None:
    imports = imported_modules(module_path(module))
    outside = sorted(m for m in imports if m.startswith("mlops_infra.") and not shared_config(m))
    assert outside == [], f"{module} imports {outside}"
    assert not any(m.split(".")[0] == "pulumi" or m.startswith("pulumi_") for m in imports)


@pytest.mark.parametrize("module", CONCERN_CONFIGS)
def test_a_concern_config_imported_first_loads_without_pulumi(module: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; "
         "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_aws', 'pulumi_kubernetes')))"],
        capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_blocks_and_shared_config_import_no_concern() -> None:
    concern_prefixes = tuple(f"mlops_infra.{c}" for c in [*ALL_CONCERNS, "platform"])
    files = [*(PACKAGE / "blocks").glob("*.py"), *(PACKAGE / "config").glob("*.py")]
    assert len(files) > 10
    wrong = {str(f.relative_to(PACKAGE)): sorted(m for m in imported_modules(f) if m.startswith(concern_prefixes))
             for f in files}
    assert {f: m for f, m in wrong.items() if m} == {}


@pytest.mark.parametrize("package", [*ALL_CONCERNS, "blocks"])
def test_no_concern_imports_the_platform_or_the_output_contract(package: str) -> None:
    graph = import_graph()  # every import: module level, in functions, under TYPE_CHECKING (tests/test_import_graph.py)
    modules = sorted(m for m in graph if m == f"mlops_infra.{package}" or m.startswith(f"mlops_infra.{package}."))
    assert len(modules) > 1
    upward = {m: sorted(t for t in graph[m] if t == "mlops_infra.outputs" or t == "mlops_infra.platform"
                        or t.startswith("mlops_infra.platform."))
              for m in modules}
    assert {m: t for m, t in upward.items() if t} == {}
