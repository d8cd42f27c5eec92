"""What the cluster receives from the charts passes the stack's own policies: with the charts in the store, no
mandatory finding remains on an object a Helm release or a kustomize base (Kubeflow Pipelines) renders, and every
waiver in policies/config/<stack>.json waives a finding that fires (those for chart objects on a rendered object),
so none is kept for nothing."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from mlops_infra.cli.main import main
from tests.conftest import KFP_BASES, ROOT, planned
from tests.nonempty import each

RENDERED_FROM_RELEASE = "kubernetes:helm.sh/v3:Release$"
"""In a URN's type chain: the object was rendered from a Helm release (its chart's templates), not declared by us."""
RENDERED_FROM_KUSTOMIZE = "kubernetes:kustomize/v2:Directory$"
"""In a URN's type chain: the object was rendered from a kustomize Directory (Kubeflow Pipelines' upstream bases)."""


def rendered_object(urn: str) -> bool:
    return RENDERED_FROM_RELEASE in urn or RENDERED_FROM_KUSTOMIZE in urn

UNUSED_ANYWHERE = {("mlops-k8s-run-as-non-root", "*-metaflow-service"),
                  ("mlops-k8s-run-as-non-root", "*-metaflow-service-migrate")}
"""Kept for a copy of a stack that enables Metaflow, which no shipped stack does (test_own_stacks.py says so)."""

ON_OUR_RESOURCES = {("mlops-k8s-run-as-non-root", "*-monitoring-dcgm"), ("mlops-k8s-no-privileged", "*-gpu-software-efa"),
                    ("mlops-k8s-no-privilege-escalation", "*-gpu-software-efa"),
                    ("mlops-k8s-run-as-non-root", "*-gpu-software-efa")}
"""Waivers on a resource the program declares (the dcgm-exporter and EFA plugin releases' values), not on a rendered
object."""

WAIVER_CHART = {
    "nvidia-device-plugin": "nvidia-device-plugin", "nvidia-device-plugin-mps-control-daemon": "nvidia-device-plugin",
    "aws-efa-k8s-device-plugin": "aws-efa-k8s-device-plugin", "*-monitoring-dcgm-exporter": "dcgm-exporter",
    "kube-prometheus-stack-prometheus-node-exporter": "kube-prometheus-stack",
    "kube-prometheus-stack-admission": "kube-prometheus-stack", "kube-prometheus-stack-operator": "kube-prometheus-stack",
    "jobset-controller": "kubeflow-trainer", "kubeflow-trainer-controller-manager": "kubeflow-trainer",
    "cert-manager-cainjector": "cert-manager", "kserve-manager-role": "kserve-resources",
    "kserve-controller-manager": "kserve-resources", "*-qdrant": "qdrant",
    "argo-role": KFP_BASES, "pipeline-runner": KFP_BASES,
}
"""The chart whose rendered objects each waiver glob written for a chart's object names (its name as the lock's
`chart` ends): where that chart is not in the store, the waiver cannot match (test_own_stacks.py allows only that);
where it is, test_every_waiver_waives_a_finding_that_fires checks each hit was rendered by that chart."""

WAIVED_CHARTS = tuple(sorted(set(WAIVER_CHART.values())))


def _check(stack: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    main(["check", "--program", str(ROOT), "--stack", stack, "--format", "json"])
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


def _waivers(stack: str) -> list[tuple[str, str]]:
    config = json.loads((ROOT / "policies" / "config" / f"{stack}.json").read_text())
    return [(policy, w["resource"]) for policy, body in config.items() for w in body.get("waivers", [])]


@pytest.mark.charts(*WAIVED_CHARTS)
@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_no_mandatory_finding_on_a_rendered_chart_object(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    report = _check(stack, capsys)
    rendered = [f for f in report["findings"] if rendered_object(f["resource"]["urn"])]
    assert rendered, "no finding at all on a rendered object: the check did not judge the charts' objects"
    assert [(f["policy"], f["resource"]["name"], f["message"]) for f in rendered
            if f["enforcement"] == "mandatory"] == []
    # What stays mandatory on releases is only a chart missing from this machine's store.
    releases = [f for f in report["findings"] if f["enforcement"] == "mandatory"
                and f["resource"]["type"] == "kubernetes:helm.sh/v3:Release"]
    assert {f["policy"] for f in releases} <= {"mlops-helm-release-rendered"}


@pytest.mark.charts(*WAIVED_CHARTS)
@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_waiver_waives_a_finding_that_fires(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    report = _check(stack, capsys)
    waived = report["waived"]
    for policy, glob in each(_waivers(stack)):
        if (policy, glob) in UNUSED_ANYWHERE:
            continue
        hits = [w["resource"]["urn"] for w in waived
                if w["policy"] == policy and fnmatch.fnmatchcase(w["resource"]["name"], glob)]
        assert hits, f"{stack}: the {policy} waiver for {glob!r} waives nothing"
        if (policy, glob) not in ON_OUR_RESOURCES:  # written for a chart's object: it lands on rendered ones only
            assert all(rendered_object(urn) for urn in hits), (glob, hits)
            assert {rendered_by(stack, urn) for urn in hits} == {WAIVER_CHART[glob]}, glob


def rendered_by(stack: str, urn: str) -> str:
    """The chart (its name as the lock's `chart` ends) of the release that rendered the object `urn`, or KFP_BASES
    for an object of the Kubeflow Pipelines kustomize Directory."""
    if RENDERED_FROM_KUSTOMIZE in urn:
        return KFP_BASES
    inv = planned(stack, render=True)
    index = inv.by_urn()
    charts = {r["urn"]: str(r["chart"]).split()[0].rsplit("/", 1)[-1] for r in inv.rendering}
    node = index[urn]
    while node.urn not in charts:
        assert node.parent, f"{urn}: rendered by no release"
        node = index[node.parent]
    return charts[node.urn]
