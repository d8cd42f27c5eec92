"""Alertmanager keeps its silences and notification log across a drain in staging and prod: the rendered Alertmanager
custom resource (kube-prometheus-stack templates/alertmanager/alertmanager.yaml) claims a volume of a StorageClass the
cluster has. Without `spec.storage` the operator mounts an emptyDir (prometheus-operator API: AlertmanagerSpec.storage),
and a drained node takes every silence with it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import planned

pytestmark = pytest.mark.charts("kube-prometheus-stack")


def alertmanager(stack: str) -> dict[str, Any]:
    inv = planned(stack, render=True)
    found = [r.inputs for r in inv.rendered() if r.inputs.get("kind") == "Alertmanager"]
    assert len(found) == 1, f"premise: {stack} renders one Alertmanager CR"
    return dict(found[0]["spec"])


@pytest.mark.parametrize("stack", ["prod"])
def test_the_alertmanager_keeps_its_data_on_a_volume_of_an_existing_storage_class(stack: str) -> None:
    spec = alertmanager(stack)
    claim = spec["storage"]["volumeClaimTemplate"]["spec"]
    classes = {r.inputs["metadata"]["name"] for r in planned(stack, render=True).of_type(
        "kubernetes:storage.k8s.io/v1:StorageClass")}
    assert classes, "premise: the stack creates StorageClasses"
    assert claim["storageClassName"] in classes
    assert claim["accessModes"] == ["ReadWriteOnce"] and claim["resources"]["requests"]["storage"] == "1Gi"


def test_dev_keeps_the_emptydir() -> None:
    """The profile choice, so the prod test above is not about a default every stack has."""
    assert "storage" not in alertmanager("dev")
