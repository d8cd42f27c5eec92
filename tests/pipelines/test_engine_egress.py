"""What an engine's pods are granted, its egress policy admits (issue 29 review of the engines alone): STS where the
VPC offers it, DynamoDB when the feature grant covers online tables; and the refs an engine cannot honour are
refused (a GPU pool it was not given, a Pod Identity cluster for a database's SecretStore, a feature grant without
saying whether it reaches DynamoDB)."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.compute.gpu_config import POOL_LABEL, GpuPoolConfig
from mlops_infra.pipelines.wiring_common import gpu_scheduling
from mlops_infra.plan import Inventory, PlanError, plan_program
from mlops_infra.plan.outputs import _prefix_list
from tests.conftest import EXAMPLES, planned
from tests.pipelines.test_alone import ENGINES, alone
from tests.platform.test_standalone import PLATFORM_STACK, platform_outputs

POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
HTTPS = 443
ANYWHERE = "0.0.0.0/0"
_WITH_STS: dict[str, Inventory] = {}


def namespace_egress(inv: Inventory, engine: str) -> list[dict[str, Any]]:
    """The egress rules of the engine's namespace-wide policy (EngineWiring's: every pod of the namespace)."""
    (policy,) = [p for p in inv.of_type(POLICY) if p.inputs["metadata"]["name"] == f"{engine}-egress"]
    assert policy.inputs["spec"]["podSelector"] == {}
    rules: list[dict[str, Any]] = policy.inputs["spec"]["egress"]
    return rules


def https_cidrs(rules: list[dict[str, Any]]) -> set[str]:
    """Every CIDR the rules admit on 443."""
    return {peer["ipBlock"]["cidr"] for rule in rules if {"protocol": "TCP", "port": HTTPS} in rule.get("ports", [])
            for peer in rule["to"] if "ipBlock" in peer}


def with_sts_endpoint(engine: str) -> Inventory:
    """`examples/<engine>` on the dev platform's outputs, as if its VPC had an STS interface endpoint."""
    if engine not in _WITH_STS:
        outputs = platform_outputs(vpcInterfaceEndpoints=["sts"])
        example = EXAMPLES / {"kfp": "kubeflow_pipelines"}.get(engine, engine)
        _WITH_STS[engine] = plan_program(example, "dev", stack_refs={PLATFORM_STACK: outputs})
    return _WITH_STS[engine]


@pytest.mark.parametrize("engine", ["airflow", "kfp"])
def test_an_engine_alone_on_a_vpc_without_an_sts_endpoint_reaches_sts_through_nat(engine: str) -> None:
    """The dev platform's VPC has no STS interface endpoint (its output says so): IRSA's AssumeRoleWithWebIdentity
    goes through NAT to public addresses, which only an HTTPS rule to anywhere admits."""
    platform = planned("dev").outputs
    assert platform["workloadIdentity"] == "irsa"
    assert "sts" not in platform["vpcInterfaceEndpoints"]
    assert ANYWHERE in https_cidrs(namespace_egress(alone(engine), engine))


@pytest.mark.parametrize("engine", ["airflow", "kfp"])
def test_an_engine_alone_on_a_vpc_with_an_sts_endpoint_reaches_it_in_the_vpc_only(engine: str) -> None:
    cidrs = https_cidrs(namespace_egress(with_sts_endpoint(engine), engine))
    assert planned("dev").outputs["vpcCidr"] in cidrs
    assert ANYWHERE not in cidrs


def test_the_platform_exports_the_sts_endpoint_its_engines_reach_in_the_vpc() -> None:
    """Prod builds engines (egress-guarded namespaces), so its VPC has the STS endpoint, exported; each engine's
    policy admits the VPC CIDR on 443 and nothing wider."""
    inv = planned("prod")
    assert "sts" in inv.outputs["vpcInterfaceEndpoints"]
    built = [e for e, token in ENGINES.items() if inv.of_type(token)]
    assert built
    for engine in built:
        cidrs = https_cidrs(namespace_egress(inv, engine))
        assert inv.outputs["vpcCidr"] in cidrs and ANYWHERE not in cidrs, engine


def test_an_engine_granted_the_feature_read_policy_reaches_dynamodb_when_the_online_store_is_dynamodb() -> None:
    """examples/airflow attaches the feature read grant (DynamoDB on the online tables, which the dev platform exports):
    its egress admits the Region's DynamoDB prefix list; kfp, granted nothing, admits only S3's."""
    platform = planned("dev").outputs
    assert platform["featureStoreOnlineTableNames"]
    dynamodb = set(_prefix_list("com.amazonaws.us-east-1.dynamodb", "us-east-1")["cidrBlocks"])
    s3 = set(_prefix_list("com.amazonaws.us-east-1.s3", "us-east-1")["cidrBlocks"])
    assert dynamodb and not dynamodb & s3
    assert dynamodb <= https_cidrs(namespace_egress(alone("airflow"), "airflow"))
    kfp = https_cidrs(namespace_egress(alone("kfp"), "kfp"))
    assert s3 <= kfp and not dynamodb & kfp


def test_a_feature_grant_without_saying_whether_it_reaches_dynamodb_is_refused() -> None:
    from mlops_infra.pipelines.refs import EngineRefs

    with pytest.raises(ValueError, match="feature_read_policy_arn is set but dynamodb is not"):
        EngineRefs(cluster=None, network=None, region="us-east-1", tags={},  # type: ignore[arg-type]
                   feature_read_policy_arn="arn:aws:iam::123456789012:policy/read")


def pool(name: str) -> GpuPoolConfig:
    return GpuPoolConfig(name=name, instance_types=["g5.xlarge"], max_size=2)


def test_a_named_gpu_pool_the_engine_was_given_pins_its_steps() -> None:
    assert gpu_scheduling([pool("a100"), pool("l4")], "l4").node_selector == {POOL_LABEL: "l4"}
    assert gpu_scheduling([pool("a100"), pool("l4")], None).node_selector == {POOL_LABEL: "a100"}


def test_a_named_gpu_pool_the_engine_was_not_given_is_refused() -> None:
    with pytest.raises(ValueError, match=r"gpuPool 'h100': not among the pools the engine was given "
                                         r"\(EngineRefs.gpu_pools: a100\)"):
        gpu_scheduling([pool("a100")], "h100")


def test_an_engine_with_a_database_refuses_a_pod_identity_cluster_read_from_the_platforms_output() -> None:
    """The alone program takes the identity mode from the platform's `workloadIdentity` output (not its own config):
    on a Pod Identity platform, the database's SecretStore would authenticate as nobody, so the engine refuses."""
    outputs = {**planned("dev").outputs, "workloadIdentity": "podIdentity"}
    with pytest.raises(PlanError, match=r"this cluster's workloadIdentity is 'podIdentity': engines that sync a "
                                        r"Secret \(a database password, Prefect Cloud's API key\) need an IRSA "
                                        "cluster"):
        plan_program(EXAMPLES / "kubeflow_pipelines", "dev", stack_refs={PLATFORM_STACK: outputs})


def admitted(rules: list[dict[str, Any]], labels: dict[str, str], port: int) -> bool:
    """Whether ingress `rules` admit a pod of a namespace with `labels` on `port` (namespace selectors only)."""
    def matches(selector: dict[str, Any]) -> bool:
        exprs_ok = all(labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions", [])
                       if e["operator"] == "In")
        return exprs_ok and all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())
    return any({"protocol": "TCP", "port": port} in rule.get("ports", []) and
               any("namespaceSelector" in peer and matches(peer["namespaceSelector"]) for peer in rule["from"])
               for rule in rules)


@pytest.mark.parametrize(("server", "field"), [("mlflow-ingress-policy", "mlflow"),
                                                ("server-ingress-policy", "feature_server")])
def test_an_engine_namespace_made_alone_is_admitted_by_the_server_its_egress_opens(server: str, field: str) -> None:
    """The egress rule `EngineRefs.mlflow` / `.feature_server` opens names the server's namespace and port; the
    server's ingress (the dev platform's NetworkPolicy) admits the engine's namespace only through its client label,
    which `client_labels` gives exactly when that endpoint is set."""
    from mlops_infra.pipelines.refs import Endpoint, EngineRefs
    from mlops_infra.pipelines.wiring_common import client_labels, service_ports

    (policy,) = [p for p in planned("dev").of_type(POLICY) if p.name.endswith(server)]
    ns, ingress = policy.inputs["metadata"]["namespace"], policy.inputs["spec"]["ingress"]
    port = ingress[0]["ports"][0]["port"]
    bare = EngineRefs(cluster=None, network=None, region="us-east-1", tags={})  # type: ignore[arg-type]
    refs = EngineRefs(cluster=None, network=None, region="us-east-1", tags={},  # type: ignore[arg-type]
                      **{field: Endpoint(url="http://server", namespace=ns, port=port)})
    assert service_ports(refs) == [(ns, port)]  # the egress side: that namespace, that port
    name = {"kubernetes.io/metadata.name": "search-airflow", "mlops.io/orchestrator": "airflow"}
    assert admitted(ingress, {**name, **client_labels(refs)}, port)
    assert not admitted(ingress, {**name, **client_labels(bare)}, port)
