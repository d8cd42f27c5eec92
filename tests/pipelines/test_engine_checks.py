"""What an engine checks against the cluster and VPC it is handed (review of issue 29: findings 2, 3, 5 and 6), run as
a user runs it: the engine's example (examples/<engine>) planned on the dev platform's outputs, with the one fact under
test changed, and the platform's and a consumer stack's config validation."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_infra.config import ConfigError
from mlops_infra.consumer_config import load_consumer_config
from mlops_infra.plan import Inventory, PlanError, plan_program
from mlops_infra.platform.loader import load_platform_config
from tests.conftest import EXAMPLES, planned
from tests.platform.test_standalone import PLATFORM_STACK, platform_outputs

UI = {"ingress": True, "host": "pipelines.example.com",
      "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc-123"}
EXAMPLE = {"airflow": "airflow", "kubeflowPipelines": "kubeflow_pipelines", "metaflow": "metaflow",
           "prefect": "prefect"}


def plan_engine(tmp_path: Path, engine: str, section: dict[str, Any] | None = None, **outputs: Any) -> Inventory:
    """examples/<engine> with `section` merged into its `orchestration.<engine>`, planned on the dev platform's
    outputs with `outputs` replacing some."""
    target = tmp_path / EXAMPLE[engine]
    shutil.copytree(EXAMPLES / EXAMPLE[engine], target)
    stack_file = target / "Pulumi.dev.yaml"
    stack = yaml.safe_load(stack_file.read_text(encoding="utf-8"))
    stack["config"]["mlops:platform"]["orchestration"][engine].update(section or {})
    stack_file.write_text(yaml.safe_dump(stack), encoding="utf-8")
    return plan_program(target, "dev", stack_refs={PLATFORM_STACK: platform_outputs(**outputs)})


def alb_ingresses(inv: Inventory) -> list[str]:
    """Where the plan asks for an `alb` Ingress: Ingress objects, and Helm releases whose values enable one."""
    found = [r.name for r in inv.of_type("kubernetes:networking.k8s.io/v1:Ingress")
             if r.inputs["spec"].get("ingressClassName") == "alb"]
    for release in inv.of_type("kubernetes:helm.sh/v3:Release"):
        for ingress in (release.inputs.get("values", {}).get("ingress") or {}).values():
            if isinstance(ingress, dict) and ingress.get("enabled") and ingress.get("ingressClassName") == "alb":
                found.append(release.name)
    return found


@pytest.mark.parametrize("engine", ["airflow", "kubeflowPipelines"])
def test_an_alb_ingress_exists_only_where_the_referenced_cluster_runs_the_load_balancer_controller(
        tmp_path: Path, engine: str) -> None:
    """Finding 2: the UI's `alb` Ingress is planned on a cluster whose `loadBalancerController` output is true, and
    refused (naming the config key and the fact) where it is false, as on dev."""
    assert planned("dev").outputs["loadBalancerController"] is False
    with_controller = plan_engine(tmp_path / "on", engine, {"ui": UI}, loadBalancerController=True)
    assert alb_ingresses(with_controller)
    with pytest.raises(PlanError) as refused:
        plan_engine(tmp_path / "off", engine, {"ui": UI})
    assert f"orchestration.{engine}.ui.ingress: the UI's Ingress has class `alb`" in str(refused.value)
    assert "`loadBalancerController` output" in str(refused.value)


@pytest.mark.parametrize("engine", ["airflow", "kubeflowPipelines"])
def test_the_platform_refuses_a_ui_ingress_on_a_cluster_without_the_load_balancer_controller(engine: str) -> None:
    raw = {"environment": "dev", "tags": {"owner": "o", "costCenter": "c"},
           "cluster": {"publicAccessCidrs": ["203.0.113.0/24"]},
           "securityBaseline": {"enabled": True, "externalSecrets": True},
           "orchestration": {engine: {"enabled": True, "ui": UI,
                                      **({"dags": {"source": "s3"}} if engine == "airflow" else {})}}}
    with pytest.raises(ConfigError, match=rf"orchestration.{engine}.ui.ingress: the Ingress has class `alb`.*"
                                          r"set cluster.loadBalancerController: true"):
        load_platform_config(raw)
    raw["cluster"] = {**raw["cluster"], "loadBalancerController": True}
    assert load_platform_config(raw).orchestration.namespaces  # the same config plans with the controller


def consumer(orchestration: dict[str, Any]) -> dict[str, Any]:
    return {"environment": "dev", "name": "search", "region": "us-east-1",
            "tags": {"owner": "o", "costCenter": "c"}, "orchestration": orchestration}


def test_a_consumer_stack_refuses_metaflows_argo_controller_outside_its_pinned_namespace() -> None:
    """Finding 3a: `metaflow_argo/kustomization.yaml` pins `namespace: metaflow`; a consumer stack's Metaflow in
    `flows` with the Argo scheduler would put the controller where nobody creates a namespace."""
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/metaflow-step:2.19.39"
    raw = consumer({"metaflow": {"enabled": True, "namespace": "flows", "taskImage": image}})
    with pytest.raises(ConfigError, match=r"orchestration.metaflow.namespace: Metaflow's Argo controller is pinned"):
        load_consumer_config(raw, aws_region=None)
    raw["orchestration"]["metaflow"]["scheduler"] = "none"
    assert load_consumer_config(raw, aws_region=None).orchestration.metaflow.namespace == "flows"


def test_a_consumer_stack_refuses_two_engines_in_one_namespace() -> None:
    """Finding 5 (config): each engine puts fixed-name objects in its namespace, which two would both create."""
    raw = consumer({"airflow": {"enabled": True, "namespace": "flows", "dags": {"source": "s3"}},
                    "prefect": {"enabled": True, "namespace": "flows"}})
    with pytest.raises(ConfigError, match=r"orchestration.prefect.namespace: namespace 'flows' is already "
                                          r"orchestration.airflow.namespace's"):
        load_consumer_config(raw, aws_region=None)


def test_metaflow_alone_refuses_the_argo_scheduler_without_an_argo_base(tmp_path: Path) -> None:
    """Finding 3b: with no Kubeflow Pipelines in the program (`argo_base`) nor on the cluster, the Argo controller's
    objects would name CRDs nobody installs."""
    with pytest.raises(PlanError, match=r"orchestration.metaflow.scheduler: argoWorkflows needs the Argo Workflows"):
        plan_engine(tmp_path, "metaflow", {"scheduler": "argoWorkflows"})


@pytest.mark.parametrize("engine", sorted(EXAMPLE))
def test_an_engine_alone_refuses_a_namespace_the_platform_owns(tmp_path: Path, engine: str) -> None:
    """Finding 5: prod's platform runs Airflow in `airflow` (and lists every namespace it creates); an engine alone
    in one of those would create it, or its fixed-name objects, again (AlreadyExists)."""
    # KFP is pinned to `kubeflow` (KfpConfig): the staging platform runs KFP there.
    stack, namespace = ("staging", "kubeflow") if engine == "kubeflowPipelines" else ("prod", "airflow")
    owned = planned(stack).outputs["platformNamespaces"]
    assert namespace in owned
    with pytest.raises(PlanError, match=rf"orchestration.{engine}.namespace: namespace '{namespace}' already belongs "
                                        "to the platform stack"):
        plan_engine(tmp_path, engine, {"namespace": namespace}, platformNamespaces=owned)


@pytest.mark.parametrize("engine", ["airflow", "kubeflowPipelines", "metaflow"])
def test_an_engine_bucket_plans_on_a_guarded_vpc_only_under_an_admitted_prefix(tmp_path: Path, engine: str) -> None:
    """Finding 6: a guarded platform's S3 gateway endpoint admits consumer buckets named `<prefix>-*` only
    (`consumerBucketPrefixes`): the engine's buckets plan when their names start with one, and are refused otherwise."""
    assert "consumerBucketPrefixes" not in planned("dev").outputs  # dev is not guarded: any name plans
    assert planned("prod").outputs["consumerBucketPrefixes"] == []  # prod is, and admits no consumer bucket
    admitted = plan_engine(tmp_path / "admitted", engine, consumerBucketPrefixes=["search-dev"])
    buckets = [b.name for b in admitted.of_type("aws:s3/bucket:Bucket")]
    assert buckets and all(b.startswith("search-dev-") for b in buckets)
    with pytest.raises(PlanError) as refused:
        plan_engine(tmp_path / "refused", engine, consumerBucketPrefixes=["search-prod"])
    assert f"orchestration.{engine}: bucket '{buckets[0]}'" in str(refused.value)
    assert "`search-prod-*`" in str(refused.value)


def test_two_engines_in_one_namespace_in_one_program_are_refused_by_the_plan(tmp_path: Path) -> None:
    """Finding 5 (a program that builds components without the consumer config): two Prefects given one namespace
    would each create it and their fixed-name objects; the offline engine refuses what the API server would."""
    target = tmp_path / "prefect"
    shutil.copytree(EXAMPLES / "prefect", target)
    main = target / "__main__.py"
    source = main.read_text(encoding="utf-8")
    assert "engine = Prefect(f\"{config.name}-{config.environment}-prefect\"" in source
    main.write_text(source + "\nsecond = Prefect(\"second-prefect\", PrefectArgs(config=config.orchestration.prefect, "
                    "refs=refs))\n", encoding="utf-8")
    with pytest.raises(PlanError, match=r"Kubernetes object core/Namespace prefect is registered twice on one "
                                        r"cluster"):
        plan_program(target, "dev", stack_refs={PLATFORM_STACK: platform_outputs()})
