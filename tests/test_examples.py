"""Every public component has a runnable example (examples/<name>/: `__main__.py`, `Pulumi.yaml`, one stack file or
more, a README with the one command), planned here with the offline engine against the dev platform's planned outputs
(one plan of the platform, shared by every example): the plan succeeds, every Kubernetes object names an explicit
provider (never a default one), nothing of `mlops:platform:*` is registered and no URN repeats."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pulumi
import pytest
import yaml

from mlops_infra.compute.gpu_config import GpuPlatformConfig
from mlops_infra.observability.config import MonitoringConfig
from mlops_infra.plan import Inventory, plan_program
from mlops_infra.security.config import SecurityBaselineConfig
from tests.add_on_claims import recorded
from tests.conftest import EXAMPLES, planned
from tests.platform.test_standalone import PLATFORM_STACK, standalone
from tests.platform.test_standalone import platform_outputs as dev_outputs

CONCERNS = ("network", "compute", "features", "registry", "observability", "security", "pipelines", "serving", "data")
NOT_EXAMPLES = {"pipelines", "recipes"}  # what users run on the engines (DAGs, flows), and recipes: no Pulumi program
# Until a concern package declares `__all__` (issue 29 item 4), the components a user builds alone from it; the
# rest of its ComponentResource classes are the parts these compose (servers, databases, contributions).
PUBLIC_UNTIL_ALL = {
    "network": {"Network"},
    "compute": {"TrainingCluster", "GpuNodePool"},
    "features": {"FeastFeatureStore", "SageMakerFeatureStore"},
    "registry": {"MlflowRegistry", "SageMakerRegistry"},
    "observability": {"MonitoringCore"},
    "security": {"AuditTrail", "ThreatDetection"},
    "pipelines": {"Airflow", "KubeflowPipelines", "Metaflow", "Prefect"},
    "serving": {"ModelServing", "SageMakerServing"},
    "data": {"LakeFs", "DvcRemotes", "Qdrant"},
}
# Stacks written for a platform unlike dev: the platform stack they reference, the outputs in which it differs from
# the dev platform's, and the cluster add-ons of dev it does not run (its `clusterAddOns` lacks them).
NOT_DEV: dict[tuple[str, str], tuple[str, dict[str, object], frozenset[str]]] = {
    ("mlflow_registry", "ingress"): (PLATFORM_STACK, {"loadBalancerController": True}, frozenset()),  # an ALB Ingress
    ("cluster_addons", "cpu"): ("organization/mlops-platform/cpu", {}, frozenset({"gpuSoftware", "clusterAutoscaler"})),
    ("monitoring_core", "bare"): ("organization/mlops-platform/bare", {}, frozenset({"monitoring"})),
    # installs the External Secrets operator: on a platform that does not run it (as the dev profile has it)
    ("security_baseline", "dev"): (PLATFORM_STACK, {}, frozenset({"externalSecrets"})),
}

# The namespace of each add-on a NOT_DEV variant lacks, in the dev platform (its defaults).
ADD_ON_NAMESPACES = {"gpuSoftware": GpuPlatformConfig().namespace, "clusterAutoscaler": "kube-system",
                     "monitoring": MonitoringConfig().namespace, "externalSecrets": SecurityBaselineConfig().external_secrets_namespace}


def platform_outputs(example: str, stack: str) -> tuple[str, dict[str, object]]:
    """The referenced platform stack and its outputs: the dev platform's with the External Secrets operator
    (`dev_outputs`), or NOT_DEV's variant of them."""
    outputs = dev_outputs()
    if (example, stack) not in NOT_DEV:
        return PLATFORM_STACK, outputs
    reference, overrides, lacks = NOT_DEV[(example, stack)]
    add_ons = outputs["clusterAddOns"]
    assert isinstance(add_ons, list) and lacks <= set(add_ons)  # what the variant lacks, dev runs
    if "externalSecrets" in lacks:  # no operator: no store either
        outputs.pop("externalSecretsStore")
    # ...nor creates the namespaces those add-ons live in (its `platformNamespaces` lacks them too)
    namespaces, freed = outputs["platformNamespaces"], {ADD_ON_NAMESPACES[a] for a in lacks}
    assert isinstance(namespaces, list) and namespaces
    owners = outputs["clusterAddOnOwners"]
    assert isinstance(owners, dict)
    return reference, {**outputs, **overrides, "clusterAddOns": [a for a in add_ons if a not in lacks],
                       "clusterAddOnOwners": {a: o for a, o in owners.items() if a not in lacks},
                       "platformNamespaces": [n for n in namespaces if n not in freed]}
_PLANS: dict[tuple[str, str], Inventory] = {}
_SECONDS: dict[tuple[str, str], float] = {}


def examples() -> list[Path]:
    return sorted(p for p in EXAMPLES.iterdir() if p.is_dir() and p.name not in NOT_EXAMPLES)


def stacks(example: Path) -> list[str]:
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in example.glob("Pulumi.*.yaml"))


def cases() -> Iterator[tuple[str, str]]:
    for example in examples():
        for stack in stacks(example):
            yield example.name, stack


def plan(example: str, stack: str) -> Inventory:
    """The example planned for `stack` on the dev platform's outputs (the platform is planned once per session)."""
    key = (example, stack)
    if key not in _PLANS:
        planned("dev")  # the shared platform plan, outside the example's time
        start = time.perf_counter()
        if key in NOT_DEV:
            reference, outputs = platform_outputs(example, stack)
            _PLANS[key] = recorded(key, lambda: plan_program(EXAMPLES / example, stack,
                                                             stack_refs={reference: outputs}))
        else:  # the plan tests/platform/test_standalone.py and the per-concern alone tests share
            _PLANS[key] = standalone(EXAMPLES / example, stack)
        _SECONDS[key] = time.perf_counter() - start
    return _PLANS[key]


def _components(module: ModuleType) -> set[str]:
    return {name for name, obj in vars(module).items() if inspect.isclass(obj)
            and issubclass(obj, pulumi.ComponentResource) and obj.__module__.startswith(module.__name__)}


def public_components() -> dict[str, set[str]]:
    """Per concern: the ComponentResource classes its package exports (`__all__`), or PUBLIC_UNTIL_ALL's."""
    found: dict[str, set[str]] = {}
    for concern in CONCERNS:
        package = importlib.import_module(f"mlops_infra.{concern}")
        exported = getattr(package, "__all__", None)
        if exported is None:
            found[concern] = PUBLIC_UNTIL_ALL[concern]
            continue
        classes = {name for name in exported if inspect.isclass(getattr(package, name))
                   and issubclass(getattr(package, name), pulumi.ComponentResource)}
        found[concern] = classes
    return found


def test_the_examples_and_the_public_components_are_not_empty() -> None:
    assert len(examples()) >= 10
    assert all(stacks(e) for e in examples()), [e.name for e in examples() if not stacks(e)]
    public = public_components()
    assert sum(len(v) for v in public.values()) >= 10


def test_each_public_component_class_exists_in_its_concern() -> None:
    """PUBLIC_UNTIL_ALL names real classes: each is a ComponentResource of its concern's modules."""
    defined: dict[str, set[str]] = {}
    for concern in CONCERNS:
        package = importlib.import_module(f"mlops_infra.{concern}")
        names: set[str] = set()
        for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            names |= _components(importlib.import_module(info.name))
        defined[concern] = names
    assert defined["compute"] and defined["pipelines"]
    missing = {c: sorted(v - defined[c]) for c, v in public_components().items() if v - defined[c]}
    assert missing == {}


def test_every_public_component_is_built_by_an_example() -> None:
    """Planned, not grepped: a component counts when an example's inventory holds its type (`mlops:<concern>:<Class>`).
    None is exempt (the last, Karpenter, composes alone since it takes `NodeRefs`)."""
    built = {r.type for case in cases() for r in plan(*case)}
    public = {f"mlops:{concern}:{name}" for concern, names in public_components().items() for name in names}
    assert "mlops:compute:Karpenter" in public  # the one exempt before: still public, so it is checked here
    assert sorted(public - built) == []


@pytest.mark.parametrize(("example", "stack"), list(cases()))
def test_an_example_plans_alone_on_the_dev_platforms_outputs(example: str, stack: str) -> None:
    inv = plan(example, stack)
    components = [r for r in inv if not r.custom and r.type.startswith("mlops:")]
    assert components, "the example builds no component of the library"
    assert [r.type for r in inv if r.type.startswith("mlops:platform:")] == []
    urns = [r.urn for r in inv]
    assert len(urns) == len(set(urns))
    kubernetes = [r for r in inv if r.custom and r.type.startswith("kubernetes:")]
    unbound = [r.urn for r in kubernetes if not r.options.get("provider")
               or "::default" in str(r.options["provider"])]
    assert unbound == []
    explicit = {r.urn for r in inv.of_type("pulumi:providers:kubernetes")}
    assert {r.options["provider"] for r in kubernetes} <= explicit


@pytest.mark.parametrize("example", [e.name for e in examples()])
def test_an_example_is_a_pulumi_project_with_a_readme_giving_its_command(example: str) -> None:
    directory = EXAMPLES / example
    project = yaml.safe_load((directory / "Pulumi.yaml").read_text(encoding="utf-8"))
    assert project["name"] == example  # its config keys (`<name>:platformStack`) use this namespace
    readme = (directory / "README.md").read_text(encoding="utf-8").splitlines()
    assert 1 < len(readme) <= 9  # title, what it builds, what it needs of the referenced platform, the command
    assert any(f"mlops-infra plan --program examples/{example} --stack " in line for line in readme)
    imported = _imports((directory / "__main__.py").read_text(encoding="utf-8"))
    assert "mlops_infra.stack" in imported or "mlops_infra.blocks.refs" in imported  # the check below can see imports
    assert sorted(m for m in imported if m.startswith("mlops_infra.platform")) == []  # no PlatformConfig, no context


def _imports(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return found


def test_the_examples_plan_quickly() -> None:
    """Each example's plan, the shared platform plan aside, stays small (measured: see the report of issue 29)."""
    cases_ = list(cases())
    assert cases_
    for case in cases_:
        plan(*case)
    slow = {f"{e}/{s}": round(t, 1) for (e, s), t in _SECONDS.items() if t > 20}
    assert slow == {}
