"""Network invariants on small hand-built inventories (broken relation and repaired twin), then on the shipped plans."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from mlops_policies.runner import evaluate

from tests.conftest import planned

from .cases import Case, check, params
from .helpers import R, messages

PORTS = "mlops-inv-netpol-pod-port"
REACH = "mlops-inv-aws-service-reachable"
NP = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DEPLOY = "kubernetes:apps/v1:Deployment"
NS_LABEL = "kubernetes.io/metadata.name"


def server(ns: str = "feast", port: int = 6566, name: str = "http") -> R:
    return R(DEPLOY, f"server-{ns}", {"metadata": {"name": "server", "namespace": ns}, "spec": {"template": {
        "metadata": {"labels": {"app": "server"}},
        "spec": {"containers": [{"name": "app", "ports": [{"name": name, "containerPort": port}]}]}}}})


def service(ns: str = "feast", port: int = 80, target: int | str = 6566) -> R:
    return R("kubernetes:core/v1:Service", f"svc-{ns}", {"metadata": {"name": "server", "namespace": ns}, "spec": {
        "selector": {"app": "server"}, "ports": [{"port": port, "targetPort": target}]}})


def egress(ns: str, *rules: dict[str, Any], name: str = "egress") -> R:
    return R(NP, name, {"metadata": {"name": name, "namespace": ns},
                        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": list(rules)}})


def to_ns(ns: str, *ports: int | str) -> dict[str, Any]:
    return {"to": [{"namespaceSelector": {"matchLabels": {NS_LABEL: ns}}}],
            "ports": [{"protocol": "TCP", "port": p} for p in ports]}


def ingress(ns: str, port: int) -> R:
    return R(NP, "ingress", {"metadata": {"name": "ingress", "namespace": ns}, "spec": {
        "podSelector": {"matchLabels": {"app": "server"}}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"protocol": "TCP", "port": port}]}]}})


RUNTIME = R("kubernetes:serving.kserve.io/v1alpha1:ServingRuntime", "runtime", {
    "metadata": {"name": "mlserver", "namespace": "serving"},
    "spec": {"containers": [{"name": "kserve-container", "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]}})
ISVC = R("kubernetes:serving.kserve.io/v1beta1:InferenceService", "isvc", {
    "metadata": {"name": "churn", "namespace": "serving"},
    "spec": {"predictor": {"model": {"runtime": "mlserver", "modelFormat": {"name": "mlflow"}}}}})
CLIENT_NS = R("kubernetes:core/v1:Namespace", "ns-feast", {"metadata": {"name": "feast", "labels": {"tier": "data"}}})
HINT = "; 80 is Service server's port, its pods listen on 6566"
FIX = "open the container port (the Service's targetPort), not the Service port"

PORT_CASES = [
    Case("egress-on-pod-port", PORTS, [server(), service(), egress("airflow", to_ns("feast", 6566))], []),
    Case("egress-on-service-port", PORTS, [server(), service(), egress("airflow", to_ns("feast", 80))],
         ["egress: egress rule 0 opens TCP 80, a port none of its peer pods (feast/Deployment server) listens on "
          f"(they declare 6566){HINT}; {FIX}"]),
    Case("egress-named-port", PORTS, [server(), egress("airflow", to_ns("feast", "http"))], []),
    Case("egress-wrong-named-port", PORTS, [server(), egress("airflow", to_ns("feast", "grpc"))],
         ["egress: egress rule 0 opens TCP grpc, a port none of its peer pods (feast/Deployment server) declares by "
          "that name (their port names: http); name one of those ports or give the number they serve"]),
    Case("egress-by-namespace-label", PORTS, [CLIENT_NS, server(), egress("airflow", {
        "to": [{"namespaceSelector": {"matchLabels": {"tier": "data"}}}], "ports": [{"port": "grpc"}]})],
         ["egress: egress rule 0 opens TCP grpc, a port none of its peer pods (feast/Deployment server) declares by "
          "that name (their port names: http); name one of those ports or give the number they serve"]),
    Case("egress-to-pods-made-at-run-time", PORTS, [egress("airflow", to_ns("teams", 80))], []),
    Case("ingress-on-pod-port", PORTS, [server(), ingress("feast", 6566)], []),
    Case("ingress-on-service-port", PORTS, [server(), service(), ingress("feast", 80)],
         ["ingress: ingress rule 0 opens TCP 80, a port none of the pods it selects (feast/Deployment server) listens "
          f"on (they declare 6566){HINT}; {FIX}"]),
    Case("kserve-predictor-port", PORTS, [RUNTIME, ISVC, egress("research", to_ns("serving", 8080))], []),
    # no Service object over the predictor pods here: 80 is a number they may serve undeclared, not judged
    Case("kserve-service-port", PORTS, [RUNTIME, ISVC, egress("research", to_ns("serving", 80))], []),
]

BARE = R(DEPLOY, "bare", {"metadata": {"name": "bare", "namespace": "feast"}, "spec": {"template": {
    "metadata": {"labels": {"app": "server"}}, "spec": {"containers": [{"name": "app"}]}}}})
# Review (net) #5: a numeric port is enforced as-is (the agent's LookupContainerPortAndName returns port.IntVal), so
# pods declaring no port are not judged, and a Service's numeric targetPort over the pods is a port they listen on.
PORT_CASES += [
    Case("egress-to-pods-declaring-no-port", PORTS, [BARE, egress("airflow", to_ns("feast", 8080))], []),
    Case("egress-on-a-service-target-port", PORTS, [server(), service(port=80, target=9000),
                                                    egress("airflow", to_ns("feast", 9000))], []),
    # netpol-undeclared: declaring is informational (core/v1), so a number that is no Service port is not judged
    Case("egress-on-neither", PORTS, [server(), service(port=80, target=9000), egress("airflow", to_ns("feast", 9001))], []),
    # An unrendered kustomize Directory names no namespace (its kustomization does): its pods may run in any, so
    # the same wrong port is not judged (a rendered one would be a parent of its objects).
    Case("egress-beside-an-unrendered-directory", PORTS,
         [server(), service(port=80, target=9000), egress("airflow", to_ns("feast", 9001)),
          R("kubernetes:kustomize/v2:Directory", "kfp-manifests", {"directory": "./manifests"})], []),
]

# --- reachability: a VPC in us-east-1 with the S3 and DynamoDB gateway endpoints -----------------------------------

VPC_CIDR = "10.0.0.0/16"
S3 = ["16.182.0.0/16", "3.5.0.0/19", "52.216.0.0/15", "54.231.0.0/16"]
DYNAMODB = ["52.94.0.0/22"]  # a realistic entry, not the plan engine's placeholder (the rule has no default list)
PLAN_DYNAMODB = "192.0.2.0/24"  # the plan engine's get_prefix_list placeholder for DynamoDB
VPC = R("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": VPC_CIDR})


def endpoint(service: str, kind: str = "Gateway") -> R:
    inputs: dict[str, Any] = {"serviceName": f"com.amazonaws.us-east-1.{service}", "vpcEndpointType": kind}
    if kind == "Interface":
        inputs["privateDnsEnabled"] = True
    else:  # the endpoint's `cidrBlocks` output: its prefix list's CIDRs, what the rule judges egress against
        inputs["cidrBlocks"] = {"s3": S3, "dynamodb": DYNAMODB}[service]
    return R("aws:ec2/vpcEndpoint:VpcEndpoint", f"vpce-{service}", inputs)


def role(ns: str, sa: str, *actions: str) -> list[R]:
    trust = {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                            "Principal": {"Federated": "arn:aws:iam::1:oidc-provider/oidc"},
                            "Condition": {"StringEquals": {"oidc:sub": f"system:serviceaccount:{ns}:{sa}"}}}]}
    grant = {"Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}
    return [R("aws:iam/role:Role", f"{sa}-role", {"assumeRolePolicy": json.dumps(trust)}),
            R("aws:iam/rolePolicy:RolePolicy", f"{sa}-policy", {"policy": json.dumps(grant)},
              deps={"role": [f"{sa}-role"]})]


DNS = {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
       "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}


def reach_egress(ns: str, *rules: dict[str, Any], name: str = "egress") -> R:
    """An egress policy as real ones are: DNS to the cluster's resolver, then `rules`."""
    return egress(ns, *rules, DNS, name=name)


def https(*cidrs: str) -> dict[str, Any]:
    return {"to": [{"ipBlock": {"cidr": c}} for c in cidrs], "ports": [{"protocol": "TCP", "port": 443}]}


NET = [VPC, endpoint("s3"), endpoint("dynamodb")]
FEAST_READ = role("airflow", "executor", "s3:GetObject", "dynamodb:GetItem", "kms:Decrypt")
STORE = R("kubernetes:external-secrets.io/v1:SecretStore", "store", {
    "metadata": {"name": "db", "namespace": "airflow"},
    "spec": {"provider": {"aws": {"auth": {"jwt": {"serviceAccountRef": {"name": "reader"}}}}}}})
ESO = R("kubernetes:helm.sh/v3:Release", "eso", {"chart": "external-secrets", "namespace": "external-secrets"})
EXECUTOR = "executor-role: {} (granted to role executor-role for ServiceAccount airflow/executor) is unreachable from airflow: "
TRAINER = "trainer-role: {} (granted to role trainer-role for ServiceAccount research/trainer) is unreachable from research: "
UNREACHABLE_STS = EXECUTOR.format("sts") + ("the VPC has no sts interface endpoint, and egress of NetworkPolicy egress "
                                            "admits no HTTPS to the internet (a NetworkPolicy cannot name the service's "
                                            "public addresses)")

REACH_CASES = [
    Case("dynamodb-admitted", REACH, [*NET, endpoint("sts", "Interface"), *FEAST_READ,
                                      reach_egress("airflow", https(*S3, *DYNAMODB), https(VPC_CIDR))], []),
    Case("dynamodb-not-admitted", REACH, [*NET, endpoint("sts", "Interface"), *FEAST_READ,
                                          reach_egress("airflow", https(*S3), https(VPC_CIDR))],
         [EXECUTOR.format("dynamodb") + "egress of NetworkPolicy egress admits no HTTPS to its prefix list "
          "(52.94.0.0/22)"]),
    Case("sts-without-endpoint", REACH, [*NET, *FEAST_READ, reach_egress("airflow", https(*S3, *DYNAMODB), https(VPC_CIDR))],
         [UNREACHABLE_STS]),
    Case("sts-through-nat", REACH, [*NET, R("aws:ec2/natGateway:NatGateway", "nat", {}), *FEAST_READ,
                                    reach_egress("airflow", https(*S3, *DYNAMODB), https("0.0.0.0/0"))], []),
    Case("athena-without-endpoint-or-nat", REACH, [*NET, *role("research", "trainer", "athena:StartQueryExecution")],
         [TRAINER.format("athena") + "the VPC has neither its interface endpoint nor NAT",
          TRAINER.format("sts") + "the VPC has neither its interface endpoint nor NAT"]),
    Case("athena-endpoint-not-admitted", REACH, [*NET, endpoint("sts", "Interface"), endpoint("athena", "Interface"),
                                                 *role("research", "trainer", "athena:StartQueryExecution"),
                                                 reach_egress("research", https(*S3))],
         [TRAINER.format("athena") + "egress of NetworkPolicy egress admits no HTTPS to the VPC CIDR, where its "
          "interface endpoint listens",
          TRAINER.format("sts") + "egress of NetworkPolicy egress admits no HTTPS to the VPC CIDR, where its "
          "interface endpoint listens"]),
    # A SecretStore's ServiceAccount: External Secrets makes the calls, from its own (not isolated) namespace.
    Case("secret-store-account-used-by-the-operator", REACH, [
        *NET, endpoint("secretsmanager", "Interface"), endpoint("sts", "Interface"), ESO, STORE,
        *role("airflow", "reader", "secretsmanager:GetSecretValue"), reach_egress("airflow", https(*S3))], []),
]


INTERNET_BUT_METADATA = {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}],
                         "ports": [{"protocol": "TCP", "port": 443}]}
NAT = R("aws:ec2/natGateway:NatGateway", "nat", {})
# Review (net) #4: `except`, the IAM prefixes whose endpoint service has another name.
REACH_CASES += [
    Case("internet-except-metadata-through-nat", REACH, [*NET, NAT, *FEAST_READ,
                                                        reach_egress("airflow", https(*S3, *DYNAMODB), INTERNET_BUT_METADATA)],
         []),
    Case("internet-except-a-public-range", REACH, [*NET, NAT, *FEAST_READ, reach_egress("airflow", https(*S3, *DYNAMODB), {
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["52.0.0.0/8"]}}], "ports": [{"port": 443}]})],
         [UNREACHABLE_STS]),
    Case("vpc-cidr-except-the-endpoint-subnet", REACH, [*NET, endpoint("sts", "Interface"), *FEAST_READ,
                                                        reach_egress("airflow", https(*S3, *DYNAMODB), {"to": [{"ipBlock": {
                                                            "cidr": VPC_CIDR, "except": ["10.0.0.0/24"]}}]})],
         [EXECUTOR.format("sts") + "egress of NetworkPolicy egress admits no HTTPS to the VPC CIDR, where its "
          "interface endpoint listens"]),
    *(Case(f"{prefix}-through-{service}", REACH, [*NET, endpoint("sts", "Interface"), endpoint(service, "Interface"),
                                                 *role("research", "w", f"{prefix}:{action}"),
                                                 reach_egress("research", https(VPC_CIDR))], [])
      for prefix, action, service in (("kinesis", "PutRecord", "kinesis-streams"),
                                      ("firehose", "PutRecord", "kinesis-firehose"),
                                      ("bedrock", "InvokeModel", "bedrock-runtime"))),
]


@params(PORT_CASES + REACH_CASES)
def test_network_invariant(case: Case) -> None:
    check(case)


def test_pod_identity_needs_the_agent_in_egress() -> None:
    grant = R("aws:iam/role:Role", "pi-role", {"assumeRolePolicy": "{}"})
    assoc = R("aws:eks/podIdentityAssociation:PodIdentityAssociation", "assoc",
              {"namespace": "research", "serviceAccount": "trainer"}, deps={"roleArn": ["pi-role"]})
    broken = [*NET, grant, assoc, reach_egress("research", https(*S3))]
    no_eks_auth = ("pi-role: Pod Identity credentials are unavailable to research: the node's agent calls "
                   "eks-auth:AssumeRoleForPodIdentity, and the VPC has neither its eks-auth interface endpoint nor NAT")
    check(Case("pod-identity", REACH, broken, [
        no_eks_auth, "pi-role: Pod Identity credentials are unreachable from research: egress of NetworkPolicy egress "
        "does not admit the agent (169.254.170.23/32 TCP 80)"]))
    agent = {"to": [{"ipBlock": {"cidr": "169.254.170.23/32"}}], "ports": [{"protocol": "TCP", "port": 80}]}
    check(Case("pod-identity-no-eks-auth", REACH, [*NET, grant, assoc, reach_egress("research", https(*S3), agent)],
               [no_eks_auth]))
    check(Case("pod-identity-ok", REACH, [*NET, endpoint("eks-auth", "Interface"), grant, assoc,
                                          reach_egress("research", https(*S3), agent)], []))
    # The node's agent calls eks-auth: with NAT it is reached; without, only through its interface endpoint.
    check(Case("pod-identity-nat", REACH, [*NET, NAT, grant, assoc, reach_egress("research", https(*S3), agent)], []))


# --- the shipped stacks ----------------------------------------------------------------------------------------------

def findings(inv: dict[str, Any], policy: str, env: str) -> list[str]:
    return [f"{f.name}: {f.message}" for f in evaluate(inv, environment=env, only=[policy]).findings]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_shipped_stacks_are_clean(stack: str) -> None:
    inv = planned(stack, render=True).to_json()
    assert [r for r in inv["resources"] if r["type"] == NP], "no NetworkPolicy to judge"
    assert findings(inv, PORTS, stack) == []
    assert findings(inv, REACH, stack) == []


def test_staging_without_its_sts_endpoint_fails_as_before_the_fix() -> None:
    """Issue 28 #7 as it was: staging's orchestrator namespaces admit STS only in the VPC, where it had no endpoint."""
    inv = copy.deepcopy(planned("staging").to_json())
    inv["resources"] = [r for r in inv["resources"] if r["name"] != "mlops-staging-net-sts"]
    found = findings(inv, REACH, "staging")
    assert "mlops-staging-airflow-wiring-executor-role: sts (granted to role mlops-staging-airflow-wiring-executor-" \
           "role for ServiceAccount airflow/airflow-worker) is unreachable from airflow: the VPC has no sts interface " \
           "endpoint, and egress of NetworkPolicy mlops-staging-airflow-wiring-egress admits no HTTPS to the " \
           "internet (a NetworkPolicy cannot name the service's public addresses)" in found
    assert {f.split(":")[0] for f in found} >= {"mlops-staging-kfp-wiring-executor-role",
                                                "mlops-staging-airflow-api-server-role"}


def as_previewed(stack: str, endpoint_cidrs: bool) -> dict[str, Any]:
    """The plan as a real preview sees it: DynamoDB's real CIDRs (not the plan engine's placeholder) in the
    NetworkPolicies, and, when the endpoints exist already, their `cidrBlocks` outputs."""
    inv = json.loads(json.dumps(planned(stack).to_json()).replace(f'"{PLAN_DYNAMODB}"', f'"{DYNAMODB[0]}"'))
    gateways = [r for r in inv["resources"] if r["type"] == "aws:ec2/vpcEndpoint:VpcEndpoint"
                and r["inputs"].get("vpcEndpointType") == "Gateway"]
    assert {r["inputs"]["serviceName"].rsplit(".", 1)[1] for r in gateways} == {"s3", "dynamodb"}
    if endpoint_cidrs:
        for r in gateways:
            r["inputs"]["cidrBlocks"] = S3 if r["inputs"]["serviceName"].endswith(".s3") else DYNAMODB
    return inv


@pytest.mark.parametrize("endpoint_cidrs", [False, True])
def test_prod_under_a_real_preview_is_clean(endpoint_cidrs: bool) -> None:
    """Review (net) #1: the rule's default list was the plan's placeholder, so real CIDRs were a violation."""
    inv = as_previewed("prod", endpoint_cidrs)
    assert DYNAMODB[0] in json.dumps([r for r in inv["resources"] if r["type"] == NP]), "no DynamoDB CIDR admitted"
    assert findings(inv, REACH, "prod") == []


def test_prod_egress_without_the_dynamodb_prefix_list_fails_as_before_the_fix() -> None:
    """Issue 27 #6 as it was: Feast's online store granted, DynamoDB's addresses (the endpoint's) not admitted."""
    inv = as_previewed("prod", endpoint_cidrs=True)
    for r in inv["resources"]:
        if r["type"] == NP:
            for rule in r["inputs"]["spec"].get("egress") or []:
                rule["to"] = [p for p in rule.get("to") or [] if p.get("ipBlock", {}).get("cidr") not in DYNAMODB]
    assert findings(inv, REACH, "prod") == [
        "mlops-prod-airflow-wiring-executor-role: dynamodb (granted to role mlops-prod-airflow-wiring-executor-role "
        "for ServiceAccount airflow/airflow-worker) is unreachable from airflow: egress of NetworkPolicy "
        "mlops-prod-airflow-wiring-egress admits no HTTPS to its prefix list (52.94.0.0/22)"]


def test_the_feature_server_on_its_old_service_port_is_caught() -> None:
    """Issue 27 #5 as it was before 7c14fd5: the Service on 80, the orchestrators' egress on 80, the pod on 6566."""
    inv = copy.deepcopy(planned("staging").to_json())
    # Unrendered (this plan renders nothing), KFP's kustomize Directory may run pods in any namespace, and then no
    # rule is judged; the feature server's port is what is under test, so the Directory is left out.
    inv["resources"] = [r for r in inv["resources"] if r["type"] != "kubernetes:kustomize/v2:Directory"]
    for r in inv["resources"]:
        if r["type"] == NP and r["inputs"]["metadata"]["name"].endswith("-egress"):
            for rule in r["inputs"]["spec"].get("egress") or []:
                for port in rule.get("ports") or []:
                    port["port"] = 80 if port.get("port") == 6566 else port.get("port")
        for sp in (r["inputs"].get("spec") or {}).get("ports") or [] if r["type"] == "kubernetes:core/v1:Service" else []:
            sp.update(port=80, targetPort=sp.get("targetPort") or 6566) if sp.get("port") == 6566 else None
    assert sorted(f.split(":")[0] for f in findings(inv, PORTS, "staging")) == [
        "mlops-staging-airflow-wiring-egress", "mlops-staging-kfp-wiring-egress"]


# --- service-reach in other shapes: routes, route tables, subnets, egress policies that select the pods ---------

SUBNET = R("aws:ec2/subnet:Subnet", "private-a", {"cidrBlock": "10.0.1.0/24"}, deps={"vpcId": ["vpc"]})
TABLE = R("aws:ec2/routeTable:RouteTable", "private-rt", {}, deps={"vpcId": ["vpc"]})


def nat_route(target: str = "nat", cidr: str = "0.0.0.0/0") -> R:
    return R("aws:ec2/route:Route", f"route-{target}", {"destinationCidrBlock": cidr, "natGatewayId": f"{target}-id"},
             deps={"routeTableId": ["private-rt"], "natGatewayId": [target]})


def routed_endpoint(service: str, tables: list[str]) -> R:
    ep = endpoint(service)
    return R(ep.type, ep.name, {**ep.inputs, "routeTableIds": [f"{t}-id" for t in tables]}, deps={"routeTableIds": tables})


def pods(ns: str, sa: str, labels: dict[str, str]) -> R:
    return R(DEPLOY, f"{sa}-deploy", {"metadata": {"name": sa, "namespace": ns}, "spec": {"template": {
        "metadata": {"labels": labels}, "spec": {"serviceAccountName": sa, "containers": [{"name": "app"}]}}}})


def selected_egress(ns: str, labels: dict[str, str], *rules: dict[str, Any], name: str) -> R:
    return R(NP, name, {"metadata": {"name": name, "namespace": ns}, "spec": {
        "podSelector": {"matchLabels": labels}, "policyTypes": ["Egress"], "egress": [*rules, DNS]}})


S3_READ = role("research", "trainer", "s3:GetObject")
STS = R("aws:ec2/vpcEndpoint:VpcEndpoint", "vpce-sts", {**endpoint("sts", "Interface").inputs, "subnetIds": ["a-id"]},
        deps={"subnetIds": ["private-a"]})
NO_S3 = TRAINER.format("s3") + "the VPC has neither its gateway endpoint nor NAT"
NO_STS = TRAINER.format("sts") + "the VPC has neither its interface endpoint nor NAT"
SHAPE_CASES = [
    # NAT counts only when a default route leads to it (a NAT no route names carries nothing).
    Case("nat-routed", REACH, [VPC, SUBNET, TABLE, NAT, nat_route(), *S3_READ], []),
    Case("nat-without-default-route", REACH, [VPC, SUBNET, TABLE, NAT, nat_route(cidr="10.1.0.0/16"), *S3_READ],
         [NO_S3, NO_STS]),
    Case("nat-route-in-a-table-no-subnet-uses", REACH, [
        VPC, SUBNET, TABLE, NAT, nat_route(), *S3_READ, R(TABLE.type, "other-rt", {}, deps={"vpcId": ["vpc"]}),
        R("aws:ec2/routeTableAssociation:RouteTableAssociation", "a", {}, deps={"routeTableId": ["other-rt"]})],
         [NO_S3, NO_STS]),
    Case("nat-in-route-table-inline", REACH, [VPC, SUBNET, NAT, R(TABLE.type, TABLE.name, {"routes": [
        {"cidrBlock": "0.0.0.0/0", "natGatewayId": "nat-id"}]}), *S3_READ], []),
    # A gateway endpoint routes only for the route tables it names (or that an association adds).
    Case("gateway-with-route-table", REACH, [VPC, SUBNET, TABLE, routed_endpoint("s3", ["private-rt"]), STS,
                                             *S3_READ], []),
    Case("gateway-without-route-table", REACH, [VPC, SUBNET, TABLE, endpoint("s3"), STS, *S3_READ], [NO_S3]),
    # An interface endpoint listens only in the subnets it names.
    Case("interface-without-subnets", REACH, [VPC, SUBNET, TABLE, routed_endpoint("s3", ["private-rt"]),
                                              endpoint("sts", "Interface"), *S3_READ], [NO_STS]),
    Case("gateway-through-association", REACH, [
        VPC, SUBNET, TABLE, endpoint("s3"), STS, *S3_READ,
        R("aws:ec2/vpcEndpointRouteTableAssociation:VpcEndpointRouteTableAssociation", "assoc", {},
          deps={"vpcEndpointId": ["vpce-s3"], "routeTableId": ["private-rt"]})], []),
    # Egress from a policy that selects the ServiceAccount's pods by label, not only namespace-wide ones.
    Case("selected-pods-egress-blocks-sts", REACH, [
        *NET, endpoint("sts", "Interface"), *S3_READ, pods("research", "trainer", {"app": "trainer"}),
        selected_egress("research", {"app": "trainer"}, https(*S3), name="trainer-egress")],
         [TRAINER.format("sts") + "egress of NetworkPolicy trainer-egress admits no HTTPS to the VPC CIDR, where its "
          "interface endpoint listens"]),
    Case("egress-without-dns", REACH, [*NET, endpoint("sts", "Interface"), *S3_READ,
                                       egress("research", https(*S3), https(VPC_CIDR))],
         ["trainer-role: s3, sts (granted to role trainer-role for ServiceAccount research/trainer) are unreachable "
          "from research: egress of NetworkPolicy egress admits no DNS (port 53), so no AWS endpoint name resolves"]),
    Case("egress-with-dns", REACH, [*NET, endpoint("sts", "Interface"), *S3_READ,
                                    reach_egress("research", https(*S3), https(VPC_CIDR))], []),
    Case("other-pods-egress-does-not-apply", REACH, [
        *NET, endpoint("sts", "Interface"), *S3_READ, pods("research", "trainer", {"app": "trainer"}),
        selected_egress("research", {"app": "notebook"}, https(*S3), name="notebook-egress")], []),
]


@params(SHAPE_CASES)
def test_service_reach_in_other_shapes(case: Case) -> None:
    check(case)


def test_unknown_prefix_list_is_judged_by_whether_egress_may_reach_any_public_address() -> None:
    """#30 service-reach_egress-netpol: the gateway endpoint's CIDRs are unknown offline, but they are public AWS
    addresses; egress admitting HTTPS only to private-use ranges cannot reach them, whatever the list holds."""
    unknown_s3 = R(endpoint("s3").type, "vpce-s3", {"serviceName": "com.amazonaws.us-east-1.s3",
                                                    "vpcEndpointType": "Gateway"})
    base = [VPC, unknown_s3, endpoint("sts", "Interface"), *role("research", "trainer", "s3:GetObject")]
    found = messages(REACH, [*base, reach_egress("research", https(VPC_CIDR, "192.168.0.0/16"), name="np")])
    assert found == [TRAINER.format("s3") + "egress of NetworkPolicy np admits HTTPS to no public address, and s3 is "
                     "reached at its public addresses (prefix list com.amazonaws.us-east-1.s3, through its gateway "
                     "endpoint or NAT)"]
    for reaching in (https(VPC_CIDR, "3.5.0.0/19"), https(VPC_CIDR, "0.0.0.0/0"),
                     {"to": [{"ipBlock": {"cidr": "3.5.0.0/19"}}]},
                     {"to": [{"ipBlock": {}}], "ports": [{"protocol": "TCP", "port": 443}]}):  # a cidr not known
        assert messages(REACH, [*base, reach_egress("research", https(VPC_CIDR), reaching)]) == [], reaching
    assert messages(REACH, [*base, reach_egress("research", https(VPC_CIDR), {
        "to": [{"ipBlock": {"cidr": "3.5.0.0/19"}}], "ports": [{"protocol": "TCP", "port": 80}]})]) != []
