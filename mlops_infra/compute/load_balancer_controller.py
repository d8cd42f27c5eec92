"""LoadBalancerController: the AWS Load Balancer Controller, which turns `alb` Ingresses into ALBs.

Chart `aws-load-balancer-controller` from aws/eks-charts at `versions.AWS_LOAD_BALANCER_CONTROLLER`; values checked
against helm/aws-load-balancer-controller/values.yaml at tag v3.5.0: `clusterName` (required), `region` and `vpcId`
(so the pod never needs IMDS, which hop limit 1 hides from pods), `serviceAccount.create/name`, `ingressClass: alb`
and `createIngressClassResource: true` (the defaults: the chart creates the `alb` IngressClass).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..blocks import iam
from ..blocks.cluster_add_ons import claim
from ..blocks.helm import PinnedChart, release
from ..blocks.identity import WorkloadIdentity, WorkloadIdentityArgs
from ..blocks.naming import child, retyped
from ..blocks.refs import ClusterRefs
from ..config import versions
from . import load_balancer_controller_policy

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "aws-load-balancer-controller"
INGRESS_CLASS = "alb"


@dataclass(frozen=True)
class LoadBalancerControllerArgs:
    cluster: ClusterRefs
    region: str
    vpc_id: pulumi.Input[str]
    tags: dict[str, str]
    node_selector: Mapping[str, str]
    """Where the controller runs (the system nodes)."""
    chart: versions.ChartPin = versions.AWS_LOAD_BALANCER_CONTROLLER
    """Chart pin. Default: `versions.AWS_LOAD_BALANCER_CONTROLLER`."""


def chart_values(args: LoadBalancerControllerArgs) -> dict[str, object]:
    """Two replicas (the webhooks fail closed for Ingresses, so one must always answer), requests and limits,
    all capabilities dropped on top of the chart's non-root read-only defaults (Helm merges the maps). The Service
    mutator webhook is off: the platform creates no LoadBalancer Services and a down webhook (failurePolicy Fail)
    would block every Service of that type."""
    return {
        "clusterName": args.cluster.identity.cluster_name, "region": args.region, "vpcId": args.vpc_id,
        "serviceAccount": {"create": False, "name": SERVICE_ACCOUNT},
        "ingressClass": INGRESS_CLASS, "createIngressClassResource": True,
        "replicaCount": 2, "podDisruptionBudget": {"maxUnavailable": 1},
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "securityContext": {"capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
        "nodeSelector": dict(args.node_selector),
        "enableServiceMutatorWebhook": False,
        "defaultTags": dict(args.tags),
    }


def _nth_statement(partition: pulumi.Output[str], i: int) -> pulumi.Output[iam.Statement]:
    """Statement `i` of the controller's policy, its ARNs in the stack's partition."""
    return partition.apply(lambda p: load_balancer_controller_policy.statements(p)[i])


class LoadBalancerController(pulumi.ComponentResource):
    """Kubernetes children bind to `args.cluster`'s provider."""

    role_arn: pulumi.Output[str]
    ingress_class: str = INGRESS_CLASS

    def __init__(self, name: str, args: LoadBalancerControllerArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        claim(args.cluster, "loadBalancerController", name)  # a cluster runs one: refused when it already does
        super().__init__("mlops:compute:LoadBalancerController", name, None,
                         retyped(args.cluster.bind(opts), "mlops:cluster:LoadBalancerController"))
        # The controller talks to the Kubernetes API, so its ServiceAccount mounts a token.
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        policy: list[iam.Statement | pulumi.Output[iam.Statement]] = [
            _nth_statement(partition, i) for i in range(len(load_balancer_controller_policy.statements()))]
        identity = WorkloadIdentity(child(name, "identity"), WorkloadIdentityArgs(
            cluster=args.cluster.identity, namespace=NAMESPACE, service_account=SERVICE_ACCOUNT, tags=args.tags,
            statements=policy, automount_token=True),
            pulumi.ResourceOptions(parent=self))
        self.release = release(
            child(name, "release"), PinnedChart(args.chart.chart, args.chart.repo, args.chart.version), parent=self,
            namespace=NAMESPACE, values=chart_values(args), depends_on=[identity])
        self.role_arn = identity.role_arn
        self.register_outputs({"roleArn": self.role_arn})
