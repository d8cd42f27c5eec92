"""What the cluster receives from the charts passes the stack's own policies: with the charts in the store, no
mandatory finding remains on an object a Helm release renders, and every waiver in policies/config/<stack>.json
waives a finding that fires (those for chart objects on a rendered object), so none is kept for nothing."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from mlops_infra.cli.main import main
from tests.conftest import ROOT
from tests.nonempty import each

RENDERED_FROM_RELEASE = "kubernetes:helm.sh/v3:Release$"
"""In a URN's type chain: the object was rendered from a Helm release (its chart's templates), not declared by us."""

UNUSED_ANYWHERE = {("mlops-k8s-run-as-non-root", "*-metaflow-service"),
                  ("mlops-k8s-run-as-non-root", "*-metaflow-service-migrate")}
"""Kept for a copy of a stack that enables Metaflow, which no shipped stack does (test_own_stacks.py says so)."""

ON_OUR_RESOURCES = {("mlops-k8s-run-as-non-root", "*-monitoring-dcgm"), ("mlops-k8s-no-privileged", "*-gpu-software-efa"),
                    ("mlops-k8s-no-privilege-escalation", "*-gpu-software-efa"),
                    ("mlops-k8s-run-as-non-root", "*-gpu-software-efa")}
"""Waivers on a resource the program declares (the dcgm-exporter and EFA plugin releases' values), not on a rendered
object."""

WAIVED_CHARTS = ("kube-prometheus-stack", "dcgm-exporter", "nvidia-device-plugin", "aws-efa-k8s-device-plugin",
                 "kubeflow-trainer", "cert-manager", "kserve-resources", "qdrant")


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
    rendered = [f for f in report["findings"] if RENDERED_FROM_RELEASE in f["resource"]["urn"]]
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
            assert all(RENDERED_FROM_RELEASE in urn for urn in hits), (glob, hits)
