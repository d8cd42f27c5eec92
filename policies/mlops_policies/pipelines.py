"""Orchestrators (Airflow, Kubeflow Pipelines, Metaflow, Prefect): what their namespaces must not expose or carry.

An orchestrator namespace is a Namespace labelled `mlops.io/orchestrator` (the namespace block, as
mlops_infra/pipelines/wiring_common.py `engine_namespace` creates it). Joins go through property dependencies.

- No orchestrator UI is public in prod: no Ingress or Helm release in those namespaces asks for an
  internet-facing load balancer, and no Service there is of type LoadBalancer.
- Their metadata databases (RDS instances whose master secret an ExternalSecret in such a namespace reads) are
  encrypted, private and backed up.
- Git-sync deploy keys and orchestrator API keys reach pods only through Secrets: no private key or key-named
  plain value in Helm values or pod env there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .core import PackName, Resource, Stack, each, env_applies, per_env, stack_policy

ORCHESTRATOR_LABEL = "mlops.io/orchestrator"
NAMESPACE = "kubernetes:core/v1:Namespace"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
SERVICE = "kubernetes:core/v1:Service"
RELEASE = "kubernetes:helm.sh/v3:Release"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
RDS = "aws:rds/instance:Instance"
WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job",
             "kubernetes:batch/v1:CronJob")
SCHEMES = ("alb.ingress.kubernetes.io/scheme", "service.beta.kubernetes.io/aws-load-balancer-scheme")
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
KEY_NAME = re.compile(r"(API_KEY|SSH_KEY|PRIVATE_KEY|TOKEN|PASSWORD)$", re.IGNORECASE)
PACK: PackName = "mlops-security"


def orchestrator_namespaces(stack: Stack) -> dict[str, Resource]:
    """Namespace name -> the Namespace resource, for every orchestrator namespace of the stack."""
    out = {}
    for ns in stack.of_type(NAMESPACE):
        labels = ns.get("metadata", "labels") or {}
        name = ns.get("metadata", "name")
        if isinstance(labels, Mapping) and ORCHESTRATOR_LABEL in labels and isinstance(name, str):
            out[name] = ns
    return out


def _namespace(res: Resource) -> str | None:
    ns = res.get("namespace") if res.type == RELEASE else res.get("metadata", "namespace")
    return ns if isinstance(ns, str) else None


def _walk(value: Any, path: str = "values") -> Iterable[tuple[str, Any, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield f"{path}.{key}", key, item
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield f"{path}[{i}]", i, item
            yield from _walk(item, f"{path}[{i}]")


@stack_policy(
    "mlops-orchestrator-ui-private",
    description="No orchestrator UI (Airflow API server, KFP UI, Metaflow UI, Prefect server) is exposed through "
                "an internet-facing load balancer in prod.",
    severity="high", pack=PACK, controls=("CIS-EKS 5.4.2", "SOC2 CC6.6", "NIST 800-53 SC-7"),
    remediation="Use an internal ALB (ui.internal: true, the default) or port-forward to the ClusterIP Service.",
    config={"environments": {"type": "array", "items": {"type": "string"}, "default": ["prod"]}},
)
def orchestrator_ui_private(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    env_applies({"environments": ["prod"], **config})
    namespaces = orchestrator_namespaces(stack)

    def check(res: Resource) -> Iterable[str]:
        if _namespace(res) not in namespaces:
            return
        tree = res.get("values") if res.type == RELEASE else res.props
        for path, key, value in _walk(tree):
            if key in SCHEMES and value == "internet-facing":
                yield f"{path} is internet-facing (orchestrator UIs stay private in prod)"
            if key == "type" and value == "LoadBalancer" and (res.type == RELEASE or path == "values.spec.type"):
                yield f"{path} is LoadBalancer (orchestrator UIs stay private in prod)"

    yield from each(stack.of_type(INGRESS, SERVICE, RELEASE), check)


@stack_policy(
    "mlops-orchestrator-metadata-db",
    description="Every orchestrator's metadata database is encrypted, not publicly accessible and backed up.",
    severity="high", pack="mlops-compliance", controls=("FSBP RDS.3", "FSBP RDS.2", "FSBP RDS.11", "SOC2 A1.2"),
    remediation="Build the database with the Postgres block (blocks/postgres.py) through "
                "wiring_common.metadata_database: it encrypts with the platform key, places it privately and keeps "
                "backups for the environment's retention.",
    config={"minBackupDays": {"type": "object", "default": {"dev": 1, "staging": 7, "prod": 7}}},
)
def orchestrator_metadata_db(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    namespaces = orchestrator_namespaces(stack)
    minimum = int(per_env({"minBackupDays": {"dev": 1, "staging": 7, "prod": 7}, **config}, "minBackupDays"))
    databases: dict[str, Resource] = {}
    for es in stack.of_type(EXTERNAL_SECRET):
        if _namespace(es) in namespaces:
            for db in stack.referenced(es, "spec", [RDS]):
                databases[db.urn] = db

    def check(db: Resource) -> Iterable[str]:
        if db.get("storageEncrypted") is not True:
            yield "storageEncrypted is not true"
        if db.get("publiclyAccessible") is True:
            yield "publiclyAccessible is true"
        days = db.get("backupRetentionPeriod")
        if not isinstance(days, int) or days < minimum:
            yield f"backupRetentionPeriod {days!r} is below {minimum} days"

    yield from each(databases.values(), check)


@stack_policy(
    "mlops-orchestrator-keys-from-secrets",
    description="Git-sync deploy keys and orchestrator API keys reach orchestrator pods only through Secrets, never "
                "as Helm values or plain env.",
    severity="high", pack=PACK, controls=("SOC2 CC6.1", "NIST 800-53 IA-5(7)", "CIS-EKS 4.4.1"),
    remediation="Deliver the key with securityBaseline.integrationSecrets (External Secrets) and reference the "
                "Secret (Airflow: orchestration.airflow.dags.gitSshKeySecret; Prefect: its API key Secret).",
)
def orchestrator_keys_from_secrets(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    namespaces = orchestrator_namespaces(stack)

    def check(res: Resource) -> Iterable[str]:
        if _namespace(res) not in namespaces:
            return
        tree = res.get("values") if res.type == RELEASE else res.get("spec")
        for path, key, value in _walk(tree):
            if isinstance(value, str) and PRIVATE_KEY.search(value):
                yield f"{path} holds a private key"
            elif key == "sshKey" and value:
                yield f"{path} is set (the chart would put the key in its own Secret from values)"
            elif isinstance(value, Mapping) and isinstance(value.get("name"), str) \
                    and KEY_NAME.search(value["name"]) and isinstance(value.get("value"), str) and value["value"]:
                yield f"{path} sets {value['name']} as a plain value, not a secretKeyRef"

    yield from each(stack.of_type(RELEASE, *WORKLOADS), check)
