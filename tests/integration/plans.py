"""Every plan the real-software checks read: the three environments, the team workspace, and one plan per
engine variant. No integration dependency here: the unit-tier Helm values contract reads the same plans.

A variant is the platform program planned with a stack file from `variants/` (the dev stack plus one override),
or a test program under tests/programs (the monitoring program renders every alert rule and receiver).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlops_infra.plan import Inventory, plan_program
from tests.conftest import ROOT, planned

HERE = Path(__file__).resolve().parent
VARIANTS = HERE / "variants"
PROGRAMS = ROOT / "tests" / "programs"


@dataclass(frozen=True)
class PlanSpec:
    label: str
    directory: Path
    stack: str
    why: str


ENVIRONMENTS = ("dev", "staging", "prod")
SPECS: tuple[PlanSpec, ...] = (
    # Also the regression test of "the platform with featureStore.engine sagemaker plans" (it raised
    # AttributeError: FeatureStore.dynamodb was set only for Feast, and the platform's alarms read it).
    PlanSpec("variant-sagemaker", VARIANTS, "sagemaker", "SageMaker feature store and model registry"),
    PlanSpec("variant-redis-sql", VARIANTS, "redis-sql", "Redis online store, SQL registry, Athena offline store"),
    PlanSpec("variant-karpenter", VARIANTS, "karpenter", "Karpenter, GPU operator, KubeRay"),
    PlanSpec("variant-podidentity", VARIANTS, "podidentity", "EKS Pod Identity"),
    PlanSpec("variant-mlflow-oidc", VARIANTS, "mlflow-oidc", "MLflow ingress, auth oidc"),
    PlanSpec("variant-mlflow-basic", VARIANTS, "mlflow-basic", "MLflow ingress, auth basic"),
    PlanSpec("variant-pipelines", VARIANTS, "pipelines", "every orchestration engine (Airflow, Kubeflow Pipelines, ...)"),
    PlanSpec("variant-serving-no-features", VARIANTS, "serving-no-features",
             "serving without a feature store (serving's own ModelFeatureDrift)"),
    # The monitoring test program renders every rule the library defines, with Slack, PagerDuty and heartbeat receivers.
    PlanSpec("monitoring-full", PROGRAMS / "monitoring", "full", "every alert rule, every receiver"),
)
LABELS: tuple[str, ...] = (*ENVIRONMENTS, "team-workspace", *(s.label for s in SPECS))

_CACHE: dict[str, Inventory] = {}


def plan(label: str) -> Inventory:
    """The plan named `label` (one of LABELS), planned once per session."""
    if label in ENVIRONMENTS:
        return planned(label)
    if label not in _CACHE:
        if label == "team-workspace":
            # Planned against the dev platform's outputs, as tests/platform/test_platform.py does.
            _CACHE[label] = plan_program(ROOT / "stacks" / "team-workspace", "dev",
                                         stack_refs={"organization/mlops-platform/dev": planned("dev").outputs})
        else:
            spec = next(s for s in SPECS if s.label == label)
            _CACHE[label] = plan_program(spec.directory, spec.stack)
    return _CACHE[label]
