"""Issue 25's acceptance, the direct half: a pod written into a `restricted` namespace that runs privileged fails
`check` with a message naming the object and the rule. The chart-release half reuses `admission_messages`."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from mlops_policies.runner import evaluate

from mlops_infra.cli.main import main
from tests.conftest import PROGRAMS, planned

POLICY = "mlops-k8s-pod-security-admission"
PROGRAM = PROGRAMS / "pod_security"


def admission_messages(inventory: dict[str, Any], environment: str = "dev") -> list[str]:
    """The admission policy's mandatory findings on a plan inventory (`Inventory.to_json()`), as messages."""
    report = evaluate(inventory, environment=environment, only=[POLICY])
    return [f.message for f in report.findings if f.enforcement == "mandatory"]


def test_a_privileged_pod_in_a_restricted_namespace_is_rejected() -> None:
    found = admission_messages(planned("privileged", PROGRAM).to_json())
    prefix = 'Pod jobs/trainer: namespace jobs enforces Pod Security "restricted:v1.35"; the API server rejects the pod: '
    assert found == [prefix + 'allowPrivilegeEscalation: container "train" must set '
                              "securityContext.allowPrivilegeEscalation=false",
                     prefix + 'privileged: container "train" must not set securityContext.privileged=true']


def test_the_same_pod_hardened_is_admitted() -> None:
    assert admission_messages(planned("ok", PROGRAM).to_json()) == []


def test_check_fails_on_it(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--program", str(PROGRAM), "--stack", "privileged", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    mandatory = [f for f in report["findings"] if f["enforcement"] == "mandatory" and f["policy"] == POLICY]
    assert code == 1
    assert {f["resource"]["name"] for f in mandatory} == {"trainer"}
    assert any("privileged: container \"train\"" in f["message"] for f in mandatory)


def test_a_platform_workload_made_privileged_is_caught(prod_plan: Any) -> None:
    """The policy judges the platform's own planned workloads: all admitted, until one is made privileged."""
    inv = copy.deepcopy(prod_plan.to_json())
    assert admission_messages(inv, "prod") == []
    [mlflow] = [r for r in inv["resources"] if r["type"] == "kubernetes:apps/v1:Deployment"
                and r["inputs"]["metadata"]["namespace"] == "mlflow"]
    container = mlflow["inputs"]["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"] = {**container.get("securityContext", {}), "privileged": True}
    assert admission_messages(inv, "prod") == [
        f'Deployment mlflow/{mlflow["inputs"]["metadata"]["name"]}: namespace mlflow enforces Pod Security '
        f'"restricted:v1.35"; the API server rejects every pod the Deployment creates: privileged: container '
        f'"{container["name"]}" must not set securityContext.privileged=true']


def test_the_same_pod_from_a_chart_release_is_rejected_naming_the_release() -> None:
    """The chart half: a chart (tests/data/chart-store/demo-exporter) rendered into a `restricted` namespace, its
    values making the container privileged: the rendered Deployment is judged like a pod the program writes."""
    from tests.test_render import rendered_plan

    hardened = rendered_plan("ok").to_json()
    assert admission_messages(hardened) == []
    found = admission_messages(rendered_plan("privileged").to_json())
    assert found == [
        'Deployment metrics/demo-exporter (release demo): namespace metrics enforces Pod Security "restricted:v1.35"; '
        'the API server rejects every pod the Deployment creates: privileged: container "exporter" must not set '
        "securityContext.privileged=true"]
