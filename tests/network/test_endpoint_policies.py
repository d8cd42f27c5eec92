"""Issue 27 item 13: each interface endpoint of a private cluster admits only this account's principals.

Evaluated with tests/iam_eval.py as the endpoint would judge a request: this account's role may call the service,
another account's credentials may not (the exfiltration path: writing to a foreign ECR or log group through the
endpoint), and IRSA's unsigned AssumeRoleWithWebIdentity passes STS only for this account's roles.
"""

from __future__ import annotations

import pytest

from mlops_infra.network.config import PRIVATE_CLUSTER_ENDPOINTS
from mlops_infra.plan import Inventory
from tests.conftest import PROGRAMS, planned
from tests.iam_eval import resource_allows
from tests.nonempty import each

COMPUTE = PROGRAMS / "compute"
FOREIGN = "210987654321"
# One call each service's endpoint must carry for the platform (nodes, add-ons, controllers).
CALLS = {"ecr.api": "ecr:GetAuthorizationToken", "ecr.dkr": "ecr:BatchGetImage", "sts": "sts:AssumeRole",
         "ec2": "ec2:DescribeInstances", "logs": "logs:PutLogEvents",
         "elasticloadbalancing": "elasticloadbalancing:DescribeLoadBalancers",
         "autoscaling": "autoscaling:DescribeAutoScalingGroups"}


@pytest.fixture(scope="module")
def prod() -> Inventory:
    return planned("prod", COMPUTE)  # private cluster: interface endpoints


def _account(inv: Inventory) -> str:
    (cluster,) = inv.of_type("aws:eks/cluster:Cluster")
    return str(cluster.inputs["roleArn"]).split(":")[4]


def _caller(account: str) -> dict[str, str]:
    return {"aws:PrincipalAccount": account, "aws:PrincipalArn": f"arn:aws:iam::{account}:role/some-role"}


def test_every_interface_endpoint_admits_only_this_accounts_principals(prod: Inventory) -> None:
    endpoints = {r.inputs["serviceName"].removeprefix("com.amazonaws.us-east-1."): r
                 for r in prod.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if r.inputs["vpcEndpointType"] == "Interface"}
    assert sorted(endpoints) == sorted(PRIVATE_CLUSTER_ENDPOINTS) == sorted(CALLS)
    own = _account(prod)
    for service, endpoint in each(endpoints.items()):
        policy = endpoint.inputs.get("policy")
        assert policy, f"{service}: no endpoint policy (default: every principal, every resource)"
        action, resource = CALLS[service], f"arn:aws:{service.split('.')[0]}:us-east-1:{FOREIGN}:thing/x"
        assert resource_allows([policy], action, "*", _caller(own)), service
        # Own principals on another account's resources: admitted (an identity perimeter), except STS, which bounds
        # role assumption to this account's roles (review net #6).
        foreign_resource = {**_caller(own), "aws:ResourceAccount": FOREIGN}
        assert resource_allows([policy], action, resource, foreign_resource) is (service != "sts"), service
        assert not resource_allows([policy], action, resource, _caller(FOREIGN)), service
        assert not resource_allows([policy], action, "*", {}), f"{service}: anonymous request admitted"


def test_sts_admits_web_identity_only_for_this_accounts_roles(prod: Inventory) -> None:
    (sts,) = [r for r in prod.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if r.inputs["serviceName"].endswith(".sts")]
    own, policy = _account(prod), sts.inputs["policy"]
    # AssumeRoleWithWebIdentity is not signed by an AWS principal: no aws:PrincipalAccount in its context.
    assert resource_allows([policy], "sts:AssumeRoleWithWebIdentity", f"arn:aws:iam::{own}:role/irsa",
                           {"aws:ResourceAccount": own})
    assert not resource_allows([policy], "sts:AssumeRoleWithWebIdentity", f"arn:aws:iam::{FOREIGN}:role/irsa",
                               {"aws:ResourceAccount": FOREIGN})
    assert not resource_allows([policy], "sts:AssumeRole", f"arn:aws:iam::{own}:role/irsa",
                               {"aws:ResourceAccount": own}), "unsigned AssumeRole admitted"
