"""The Kubernetes objects the compute components create directly validate against the cluster version's schema."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from mlops_infra.config.versions import DEFAULT_EKS_VERSION
from mlops_infra.plan import Inventory
from tests.conftest import PROGRAMS, planned
from tests.nonempty import each

COMPUTE = PROGRAMS / "compute"
SCHEMA_VERSION = f"{DEFAULT_EKS_VERSION}.0"
KINDS = {
    "kubernetes:core/v1:Namespace": ("v1", "Namespace"),
    "kubernetes:core/v1:ResourceQuota": ("v1", "ResourceQuota"),
    "kubernetes:core/v1:ServiceAccount": ("v1", "ServiceAccount"),
    "kubernetes:scheduling.k8s.io/v1:PriorityClass": ("scheduling.k8s.io/v1", "PriorityClass"),
    "kubernetes:storage.k8s.io/v1:StorageClass": ("storage.k8s.io/v1", "StorageClass"),
}
CUSTOM = {"kubernetes:karpenter.sh/v1:NodePool", "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"}


def manifest(record: Any) -> dict[str, Any]:
    """The object as the provider would send it: apiVersion/kind from the type token, inputs as the body."""
    api_version, kind = KINDS[record.type]
    body = {k: v for k, v in record.inputs.items() if k not in ("apiVersion", "kind")}
    return {"apiVersion": api_version, "kind": kind, **body}


@pytest.fixture(scope="module", params=["dev", "prod", "karpenter"])
def inv(request: pytest.FixtureRequest) -> Inventory:
    return planned(str(request.param), COMPUTE)


def test_every_direct_kubernetes_object_is_schema_valid(inv: Inventory) -> None:
    checked = 0
    for record in each(inv):
        if not record.type.startswith("kubernetes:") or record.type.startswith("kubernetes:helm"):
            continue
        if record.type in CUSTOM:
            continue  # CRD schemas come with the chart; checked structurally below
        assert record.type in KINDS, f"add {record.type} to the schema test"
        kubernetes_validate.validate(manifest(record), SCHEMA_VERSION, strict=True)
        checked += 1
    assert checked >= 4


def test_the_validator_rejects_a_misspelled_field() -> None:
    bad = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "x"}, "valu": 1}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, SCHEMA_VERSION, strict=True)


def test_karpenter_custom_resources_have_the_v1_shape() -> None:
    inv = planned("karpenter", COMPUTE)
    for record in each(inv):
        if record.type not in CUSTOM:
            continue
        assert set(record.inputs) == {"apiVersion", "kind", "metadata", "spec"}
        spec = record.inputs["spec"]
        if record.inputs["kind"] == "NodePool":
            assert set(spec) == {"template", "disruption", "limits"}
            assert spec["template"]["spec"]["nodeClassRef"]["name"] == record.inputs["metadata"]["name"]
        else:
            assert {"role", "amiSelectorTerms", "subnetSelectorTerms", "securityGroupSelectorTerms"} <= set(spec)
