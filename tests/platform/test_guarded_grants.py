"""A component alone that grants a client namespace the platform guards (third review of #29, findings 2 and 3).

- The prod platform holds its team namespaces to default-deny egress (`allow-platform-egress` admits its own
  Services and `securityBaseline.consumerServicePorts` only): it exports which namespaces (`egressGuardedNamespaces`)
  and which other stacks' ports it admits (`consumerServicePorts`). A component alone that grants a guarded
  namespace whose egress does not admit its Service's port is refused, naming the port its Service's pods listen on.
- A registry alone writes its own credentials Secret in the namespaces it grants, never one the platform writes
  there, and every pod that reads such credentials names a Secret the plans create in its namespace.

Each example is planned on the prod platform's planned outputs ("prod-like": the consumer bucket prefix `search`
admitted, so only the egress guard can refuse).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from mlops_infra.blocks import rotation_restarter as rr
from mlops_infra.plan import Inventory, PlanError, plan_program
from mlops_infra.platform.loader import load_platform_config
from mlops_infra.registry.config import MLFLOW_HTTP_PORT
from mlops_infra.registry.mlflow_users import CREDENTIALS_SECRET
from tests.conftest import EXAMPLES, ROOT, planned
from tests.nonempty import each
from tests.platform.test_standalone import PLATFORM_STACK

NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SECRET = "kubernetes:core/v1:Secret"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
SERVICE = "kubernetes:core/v1:Service"
WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job")
# Each example that grants a prod team namespace: its stack, and the namespace its component runs in.
GRANTS = {("qdrant", "dev"): "search-qdrant", ("mlflow_registry", "teams"): "search-mlflow"}
FIX = re.compile(r"`\{namespace: ([a-z0-9-]+), port: (\d+)\}`")


def prod_like(**overrides: Any) -> dict[str, Any]:
    """The prod platform's planned outputs, with the consumer stack's bucket prefix admitted."""
    return {**planned("prod").outputs, "consumerBucketPrefixes": ["search"], **overrides}


def plan_on(example: str, stack: str, outputs: dict[str, Any]) -> Inventory:
    return plan_program(EXAMPLES / example, stack, stack_refs={PLATFORM_STACK: outputs})


def refusal(example: str, stack: str) -> str:
    with pytest.raises(PlanError) as info:
        plan_on(example, stack, prod_like())
    return str(info.value)


def named_ports(message: str) -> set[tuple[str, int]]:
    return {(ns, int(port)) for ns, port in FIX.findall(message)}


def admitted(example: str, stack: str) -> Inventory:
    """The example planned once the platform lists the ports its refusal names."""
    ports = [{"namespace": ns, "port": port} for ns, port in sorted(named_ports(refusal(example, stack)))]
    return plan_on(example, stack, prod_like(consumerServicePorts=ports))


def prod_config() -> Any:
    raw = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8"))
    return load_platform_config(raw["config"]["mlops:platform"])


def test_the_platform_exports_the_namespaces_its_egress_guard_holds() -> None:
    """`egressGuardedNamespaces` is where prod's `allow-platform-egress` policies are, plus the listed team
    workspaces (another stack's, which apply the same rules from `teamWorkspace`)."""
    outputs, config = planned("prod").outputs, prod_config()
    policies = {r.inputs["metadata"]["namespace"] for r in planned("prod").of_type(NETPOL)
                if r.inputs["metadata"]["name"] == "allow-platform-egress"}
    assert set(each(policies)) | set(config.cluster.workspaces) == set(outputs["egressGuardedNamespaces"])
    assert outputs["consumerServicePorts"] == [p.model_dump() for p in config.security_baseline.consumer_service_ports]
    # dev guards nothing: it exports neither, and a component alone there is not judged
    assert "egressGuardedNamespaces" not in planned("dev").outputs


@pytest.mark.parametrize(("example", "stack"), sorted(GRANTS))
def test_a_grant_to_a_guarded_namespace_is_refused_until_the_platform_admits_its_port(example: str, stack: str) -> None:
    message = refusal(example, stack)
    assert "'research'" in message and "egressGuardedNamespaces" in message
    assert "securityBaseline.consumerServicePorts" in message
    assert {ns for ns, _ in each(named_ports(message))} == {GRANTS[(example, stack)]}
    inv = admitted(example, stack)  # ...and plans once they are listed
    assert inv.resources


def selects(selector: dict[str, Any], namespace: str) -> bool:
    """A namespaceSelector picks `namespace` by its name label (matchLabels, or matchExpressions `In`)."""
    label = "kubernetes.io/metadata.name"
    if (selector.get("matchLabels") or {}).get(label) == namespace:
        return True
    return any(e["key"] == label and e["operator"] == "In" and namespace in e["values"]
               for e in selector.get("matchExpressions") or [])


@pytest.mark.parametrize(("example", "stack"), sorted(GRANTS))
def test_the_refused_port_is_the_one_the_components_ingress_policy_admits_the_client_on(example: str, stack: str) -> None:
    """The port to list is the one the component's own NetworkPolicy admits the client namespace to (its pods'
    port, which both ends of the connection judge)."""
    inv, ns = admitted(example, stack), GRANTS[(example, stack)]
    ports: set[tuple[str, int]] = set()
    for policy in each(r for r in inv.of_type(NETPOL) if r.inputs["metadata"]["namespace"] == ns):
        for rule in policy.inputs["spec"].get("ingress") or []:
            if any(selects(p.get("namespaceSelector") or {}, "research") for p in rule.get("from") or []):
                ports |= {(ns, int(p["port"])) for p in rule.get("ports") or []}
    assert set(each(ports)) == named_ports(refusal(example, stack))


def target_ports(inv: Inventory, ns: str, service_port: int) -> set[int]:
    """The pod port the Service `ns` serves `service_port` on: its targetPort, a name resolved through the
    containers of the workloads it selects."""
    found: set[int] = set()
    for svc in inv.of_type(SERVICE):
        if svc.inputs["metadata"]["namespace"] != ns:
            continue
        selector = svc.inputs["spec"].get("selector") or {}
        for port in svc.inputs["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            if port["port"] != service_port:
                continue
            if isinstance(target, int):
                found.add(target)
                continue
            for workload in (w for t in WORKLOADS for w in inv.of_type(t)
                             if w.inputs["metadata"]["namespace"] == ns):
                template = workload.inputs["spec"]["template"]
                if selector and selector.items() <= (template["metadata"].get("labels") or {}).items():
                    found |= {p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports") or []
                              if p.get("name") == target}
    return found


def test_the_refused_mlflow_port_is_the_pod_port_behind_its_service() -> None:
    """Read from the planned Service (its targetPort, by name) and Deployment: what the client's egress must admit."""
    inv = admitted("mlflow_registry", "teams")
    service_port = int(str(inv.outputs["trackingUri"]).rsplit(":", 1)[1])  # what a client calls
    assert set(each(target_ports(inv, "search-mlflow", service_port))) == {
        p for _, p in named_ports(refusal("mlflow_registry", "teams"))}


# --- finding 3: a registry alone writes its own credentials Secret ----------------------------------------------------

def registry_on_prod() -> Inventory:
    """examples/mlflow_registry `teams` on prod-like outputs that admit its API port (MLflow's basic auth, no
    oauth2-proxy: the server's own port), whatever the refusal above says."""
    return plan_on("mlflow_registry", "teams", prod_like(consumerServicePorts=[
        {"namespace": GRANTS[("mlflow_registry", "teams")], "port": MLFLOW_HTTP_PORT}]))


def created_secrets(inv: Inventory) -> Iterator[tuple[str, str]]:
    """(namespace, name) of every Kubernetes Secret the plan writes: its own, and ExternalSecrets' targets."""
    for secret in inv.of_type(SECRET):
        yield secret.inputs["metadata"]["namespace"], secret.inputs["metadata"]["name"]
    for ext in inv.of_type(EXTERNAL_SECRET):
        target = (ext.inputs["spec"].get("target") or {}).get("name") or ext.inputs["metadata"]["name"]
        yield ext.inputs["metadata"]["namespace"], target


def _secret_names(values: Any) -> Iterator[str]:
    if isinstance(values, dict):
        for key, value in values.items():
            if key in ("secretName", "secret_name") and isinstance(value, str):
                yield value
            yield from _secret_names(value)
    elif isinstance(values, list):
        for value in values:
            yield from _secret_names(value)


def credential_readers(inv: Inventory) -> Iterator[tuple[str, str]]:
    """(namespace, Secret) of every pod spec and Helm release that reads a credentials Secret."""
    for workload in (w for t in WORKLOADS for w in inv.of_type(t)):
        ns = workload.inputs["metadata"]["namespace"]
        for name in rr.referenced_secrets(workload.inputs["spec"]["template"]["spec"]):
            if name.endswith("-credentials"):
                yield ns, name
    for release in inv.of_type("kubernetes:helm.sh/v3:Release"):
        for name in _secret_names(release.inputs.get("values") or {}):
            if name.endswith("-credentials"):
                yield str(release.inputs["namespace"]), name


def test_the_registry_alone_writes_no_secret_the_prod_platform_writes_in_its_team_namespaces() -> None:
    inv, prod = registry_on_prod(), planned("prod")
    mine = set(created_secrets(inv))
    assert ("research", CREDENTIALS_SECRET) in set(created_secrets(prod))  # the platform's own team credentials
    granted = {(ns, name) for ns, name in each(mine) if ns == "research"}
    assert set(each(granted)) == {("research", inv.outputs["credentialsSecretName"])}
    theirs = {(ns, name) for ns, name in created_secrets(prod) if ns in {n for n, _ in mine}}
    assert mine & theirs == set()


def test_every_pod_that_reads_credentials_names_a_secret_written_in_its_namespace() -> None:
    """On the cluster both stacks share: the platform's pods (orchestrators, the users Job) and the registry's."""
    inv, prod = registry_on_prod(), planned("prod")
    written = set(created_secrets(prod)) | set(created_secrets(inv))
    readers = set(credential_readers(prod)) | set(credential_readers(inv))
    assert set(each(readers)) <= written, sorted(readers - written)


def test_an_orchestrator_reads_the_registrys_credentials_secret_by_its_name() -> None:
    """The platform passes its registry's Secret name to the orchestrators' wiring: prod's Airflow reads it."""
    readers = set(credential_readers(planned("prod")))
    assert ("airflow", CREDENTIALS_SECRET) in readers


def test_the_platform_keeps_its_credentials_secret_names() -> None:
    """Prod's object names stay: the teams' `mlflow-credentials` (their pods already mount it)."""
    teams = {t.name for t in prod_config().cluster.teams}
    written = {ns for ns, name in created_secrets(planned("prod")) if name == CREDENTIALS_SECRET}
    assert set(each(teams)) <= written
