"""Shared fixtures: the repository root and a plan cache so each stack is planned once per session."""

from __future__ import annotations

import ast
import gc
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from mlops_infra import charts
from mlops_infra.plan import Inventory, plan_program

# Property tests judge results, not speed: on a loaded 2-core CI machine hypothesis's per-example deadline and its
# "too slow" health check fail a correct helper by timing alone. The examples drawn are unchanged.
settings.register_profile("mlops", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mlops")

ROOT = Path(__file__).resolve().parent.parent

_ast_parse = ast.parse


def _parse_without_gc(*args: Any, **kwargs: Any) -> Any:
    """`ast.parse` with the garbage collector paused. CPython 3.11 checks that its AST constructor ends at the recursion
    depth it started from; a collection in the middle runs finalizers (asyncio's "Future exception was never retrieved"
    of a plan that failed on purpose), which moves that depth, and the parse then raises `SystemError: AST constructor
    recursion depth mismatch` in an unrelated test (`inspect.getsource`, the code-size walk)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _ast_parse(*args, **kwargs)
    finally:
        if enabled:
            gc.enable()


ast.parse = _parse_without_gc  # type: ignore[assignment]
PROGRAMS = Path(__file__).resolve().parent / "programs"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
"""One program per component, as a user writes it (README \"One component alone\"; tests/test_examples.py)."""
TEST_CHARTS = Path(__file__).resolve().parent / "data" / "chart-store"
"""Charts written for the tests (not upstream's), searched after the real store, so rendering is tested everywhere."""
os.environ[charts.STORE_ENV] = os.pathsep.join([*map(str, charts.store_roots()), str(TEST_CHARTS)])

# What every prod platform config needs beyond the profile: the role that runs `pulumi up` (the prod profile guards
# the data buckets, and only listed deployers may administer them). The alert subscriber sits beside it in tests.
PROD_GUARDS = {"deployerRoleArns": ["arn:aws:iam::123456789012:role/platform-deployer"]}
PROD_API_ACCESS = {"privateEndpointAccess": {"securityGroupIds": ["sg-0123456789abcdef0"]}}
"""What a prod `cluster` section needs beyond the profile: whom the private-only API endpoint admits (the runner's
security group)."""

_PLANS: dict[tuple[Path, str, bool], Inventory] = {}


def planned(stack: str, program: Path = ROOT, *, render: bool = False) -> Inventory:
    """`program` planned for `stack`, once per test session (plans are deterministic; tests only read them).

    A plan that fails is not cached, so `pytest.raises(PlanError)` around it re-plans and sees the error each time.
    `render`: with every Helm release and kustomize base rendered into the inventory (what `check` judges).
    """
    key = (Path(program).resolve(), stack, render)
    if key not in _PLANS:
        _PLANS[key] = plan_program(program, stack, render=render)
    return _PLANS[key]


_VARIANTS: dict[str, Path] = {}


def planned_variant(stack: str, **sections: dict[str, Any]) -> Inventory:
    """The platform planned for `stack` with `sections` merged into its `mlops:platform` (each section's keys replace
    the stack file's), once per session: a copy of the project in a temporary directory."""
    import json
    import shutil
    import tempfile

    import yaml

    key = json.dumps([stack, sections], sort_keys=True)
    if key not in _VARIANTS:
        root = Path(tempfile.mkdtemp(prefix="mlops-variant-"))
        shutil.copytree(ROOT / "stacks", root / "stacks")
        shutil.copy(ROOT / "Pulumi.yaml", root)
        stack_file = root / "stacks" / f"Pulumi.{stack}.yaml"
        doc = yaml.safe_load(stack_file.read_text(encoding="utf-8"))
        platform = doc["config"]["mlops:platform"]
        for name, values in sections.items():
            platform[name] = {**platform.get(name, {}), **values}
        stack_file.write_text(yaml.safe_dump(doc), encoding="utf-8")
        _VARIANTS[key] = root
    return planned(stack, _VARIANTS[key])


@pytest.fixture(scope="session")
def dev_plan() -> Inventory:
    return planned("dev")


@pytest.fixture(scope="session")
def staging_plan() -> Inventory:
    return planned("staging")


@pytest.fixture(scope="session")
def prod_plan() -> Inventory:
    return planned("prod")


KFP_BASES = "kustomize:kfp"
"""The KFP 2.17.0 kustomize bases the platform's manifests reach (charts.localize finds them in the store)."""


def stored_chart_missing(name: str) -> bool:
    """True when this machine's chart store lacks `name` at the version mlops_infra/charts/lock.json pins: a chart's
    name (the last part of an `oci://` reference), or KFP_BASES. A stale store (another version) counts as missing."""
    if name == KFP_BASES:
        import tempfile

        from mlops_infra.pipelines.kfp import MANIFESTS

        with tempfile.TemporaryDirectory() as tmp:
            return bool(charts.localize(MANIFESTS, Path(tmp) / "kfp"))
    locked = [key for key in charts.lock() if key[0].rsplit("/", 1)[-1] == name]
    assert locked, f"{name}: no such chart in mlops_infra/charts/lock.json"
    return any(charts.find(*key) is None for key in locked)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "charts(*names): needs these upstream charts in the chart store (skipped, "
                                       "naming them, where this machine's store lacks one: tools/vendor_charts_*.sh)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("charts")
    if marker is None:
        return
    assert marker.args, f"{item.nodeid}: @pytest.mark.charts needs the charts it reads"
    missing = [name for name in marker.args if stored_chart_missing(name)]
    if missing:
        pytest.skip(f"chart store on this machine lacks {', '.join(missing)} (tools/vendor_charts_*.sh)")
