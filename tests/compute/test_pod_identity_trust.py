"""Issue 27 item 11: a Pod Identity role trusts only its own association (cluster, namespace, ServiceAccount).

EKS Pod Identity assumes the role with session tags `eks-cluster-name`, `kubernetes-namespace` and
`kubernetes-service-account` (EKS user guide, "Create IAM role with trust policy required by EKS Pod Identity",
"List of session tags added by EKS Pod Identity"). The trust is evaluated here as IAM would, with the tags an
association from the planned one, and from another namespace, ServiceAccount or cluster, would send.
"""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.compute.cluster_addons import CLOUDWATCH_AGENT, EBS_CSI, VPC_CNI
from mlops_infra.plan import Inventory
from tests.conftest import PROGRAMS, planned
from tests.iam_eval import trusts

COMPUTE = PROGRAMS / "compute"
POD_IDENTITY = {"Service": "pods.eks.amazonaws.com"}
# The add-ons' ServiceAccounts live in these namespaces (an add-on association names no namespace).
ADDON_NAMESPACES = {a.service_account: a.namespace for a in (VPC_CNI, EBS_CSI, CLOUDWATCH_AGENT)}


def _session_tags(cluster: str, namespace: str, service_account: str) -> dict[str, str]:
    return {"aws:RequestTag/eks-cluster-name": cluster, "aws:RequestTag/kubernetes-namespace": namespace,
            "aws:RequestTag/kubernetes-service-account": service_account}


def associations(inv: Inventory) -> list[tuple[str, str, str, str]]:
    """(cluster, namespace, ServiceAccount, role ARN) of every Pod Identity association in the plan."""
    found = [(a.inputs["clusterName"], a.inputs["namespace"], a.inputs["serviceAccount"], a.inputs["roleArn"])
             for a in inv.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")]
    for addon in inv.of_type("aws:eks/addon:Addon"):
        for assoc in addon.inputs.get("podIdentityAssociations") or []:
            sa = assoc["serviceAccount"]
            found.append((addon.inputs["clusterName"], ADDON_NAMESPACES[sa], sa, assoc["roleArn"]))
    return found


def role_trust(inv: Inventory, arn: str) -> Any:
    (role,) = [r for r in inv.of_type("aws:iam/role:Role") if arn.endswith(f":role/{r.id}")]
    return role.inputs["assumeRolePolicy"]


@pytest.mark.parametrize("program", [COMPUTE, PROGRAMS / "security_baseline"], ids=["compute", "security"])
def test_pod_identity_roles_trust_only_their_association(program: Any) -> None:
    inv = planned("dev", program)  # both dev stacks run Pod Identity
    found = associations(inv)
    assert found  # compute: the add-ons', the autoscaler's and the LBC's; security: External Secrets'

    for cluster, ns, sa, arn in found:
        trust = role_trust(inv, arn)
        assert trusts(trust, POD_IDENTITY, "sts:AssumeRole", _session_tags(cluster, ns, sa)), (arn, ns, sa)
        assert trusts(trust, POD_IDENTITY, "sts:TagSession", _session_tags(cluster, ns, sa)), arn
        for other in (_session_tags(cluster, "research", sa), _session_tags(cluster, ns, "default"),
                      _session_tags("another-cluster", ns, sa)):
            assert not trusts(trust, POD_IDENTITY, "sts:AssumeRole", other), (arn, other)
        # An association with session tags disabled sends none: refused.
        assert not trusts(trust, POD_IDENTITY, "sts:AssumeRole", {}), arn


def test_no_association_disables_session_tags() -> None:
    inv = planned("dev", COMPUTE)
    records = inv.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert records
    assert all(not r.inputs.get("disableSessionTags") for r in records)
