"""Data versioning (LakeFS, chart treeverse/charts lakefs): what its release asks of the stack.

- Its secrets come from an existing Secret: without `existingSecret` the chart renders the auth encryption key and the
  connection string from values into its own Secret, and with neither it runs with a hard-coded auth encryption key
  (charts/lakefs templates/_shared_env.tpl at lakefs-1.12.16: `value: asdjfhjaskdhuioaweyuiorasdsjbaskcbkj`).
- Its metadata database (found through that Secret: the ExternalSecret that writes it, and the RDS instance its
  template reads) is encrypted with a customer key, private, and backed up; a `local` database (the chart's default
  `lakefsConfig`) keeps the metadata on the pod's disk.
- In prod it is not exposed outside the VPC: no internet-facing Ingress or load balancer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from .core import NotApplicable, Resource, Stack, dig, each, env_applies, known, resource_policy, stack_policy

RELEASE = "kubernetes:helm.sh/v3:Release"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
RDS = "aws:rds/instance:Instance"
INTERNAL_LB = (("service.beta.kubernetes.io/aws-load-balancer-scheme", "internal"),
               ("service.beta.kubernetes.io/aws-load-balancer-internal", "true"))


def is_lakefs(res: Resource) -> bool:
    chart = known(res.get("chart"), "chart")
    return isinstance(chart, str) and chart.rstrip("/").rsplit("/", 1)[-1] == "lakefs"


def _values(res: Resource) -> Mapping[str, Any]:
    values = known(res.get("values"), "values") or {}
    return values if isinstance(values, Mapping) else {}


@resource_policy(
    "mlops-lakefs-secrets-from-existing-secret",
    types=[RELEASE],
    description="LakeFS reads its auth encryption key and database connection string from an existing Secret, "
                "never from Helm values or the chart's built-in default key.",
    severity="critical", pack="mlops-security",
    controls=("SOC2 CC6.1", "ISO27001 A.8.24", "NIST 800-53 SC-12"),
    remediation="Sync the secrets with an ExternalSecret and set existingSecret plus secretKeys."
                "authEncryptSecretKey and secretKeys.databaseConnectionString (mlops_infra/data/lakefs.py does).",
)
def secrets_from_existing_secret(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if not is_lakefs(res):
        return
    values = _values(res)
    for key in ("authEncryptSecretKey", "databaseConnectionString"):
        if dig(values, "secrets", key) not in (None, ""):
            yield f"values.secrets.{key} is set: the secret is in the Helm values (and the release's state)"
    if not values.get("existingSecret"):
        yield ("no existingSecret: the chart uses values.secrets or, without them, its hard-coded default auth "
               "encryption key")
    elif not dig(values, "secretKeys", "databaseConnectionString"):
        yield "existingSecret without secretKeys.databaseConnectionString: the server gets no database connection"


def _database_type(values: Mapping[str, Any]) -> str | None:
    text = values.get("lakefsConfig")
    if not isinstance(text, str):
        return None
    parsed = yaml.safe_load(known(text, "lakefsConfig"))
    kind = dig(parsed, "database", "type") if isinstance(parsed, Mapping) else None
    return str(kind) if kind else None


@stack_policy(
    "mlops-lakefs-database-encrypted-private-backed-up",
    description="LakeFS keeps its metadata in an RDS database of the stack that is encrypted with a customer key, "
                "private and backed up.",
    severity="high", pack="mlops-security",
    controls=("FSBP RDS.3", "FSBP RDS.2", "FSBP RDS.11", "SOC2 A1.2", "ISO27001 A.8.13"),
    remediation="Use the Postgres block (storage_encrypted with the data key, publicly_accessible false, backups) "
                "and deliver its connection string through the ExternalSecret named by existingSecret.",
)
def database_encrypted_private_backed_up(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    secrets = stack.of_type(EXTERNAL_SECRET)

    def check(release: Resource) -> Iterable[str]:
        if not is_lakefs(release):
            return
        values = _values(release)
        kind = _database_type(values)
        if kind not in ("postgres", None):
            yield f"lakefsConfig database.type is {kind!r}: the metadata lives on the pod's disk"
            return
        name, namespace = values.get("existingSecret"), known(release.get("namespace"), "namespace")
        writers = [s for s in secrets if dig(s.get("spec"), "target", "name") == name
                   and dig(s.get("metadata"), "namespace") == namespace]
        if not writers:
            raise NotApplicable("no ExternalSecret of this stack writes the release's existingSecret")
        databases = [db for es in writers for db in stack.referenced(es, "spec", [RDS])]
        if not databases:
            yield f"ExternalSecret {writers[0].name} reads no RDS instance of this stack"
        for db in databases:
            if known(db.get("storageEncrypted"), "storageEncrypted") is not True or not db.get("kmsKeyId"):
                yield f"database {db.name} is not encrypted with a customer-managed key"
            if known(db.get("publiclyAccessible"), "publiclyAccessible") is True:
                yield f"database {db.name} is publicly accessible"
            if not known(db.get("backupRetentionPeriod"), "backupRetentionPeriod"):
                yield f"database {db.name} keeps no automated backups"

    yield from each(stack.of_type(RELEASE), check)


@resource_policy(
    "mlops-lakefs-not-public-in-prod",
    types=[RELEASE],
    description="In prod, LakeFS has no internet-facing Ingress or load balancer.",
    severity="critical", pack="mlops-security",
    controls=("SOC2 CC6.6", "ISO27001 A.8.20", "PCI-DSS 1.4.1"),
    remediation="Keep service.type ClusterIP and ingress.enabled false (clients reach LakeFS inside the cluster), "
                "or mark the load balancer internal.",
    config={"environments": {"type": "array", "items": {"type": "string"}, "default": ["prod"],
                             "description": "Environments where the rule applies."}},
)
def not_public_in_prod(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if not is_lakefs(res):
        return
    env_applies(config)
    values = _values(res)
    ingress = values.get("ingress") or {}
    if isinstance(ingress, Mapping) and ingress.get("enabled") is True:
        scheme = dig(ingress, "annotations", "alb.ingress.kubernetes.io/scheme")
        if scheme != "internal":
            yield "ingress.enabled is true without an internal scheme (alb.ingress.kubernetes.io/scheme: internal)"
    service = values.get("service") or {}
    kind = service.get("type", "ClusterIP") if isinstance(service, Mapping) else "ClusterIP"
    if kind == "NodePort":
        yield "service.type NodePort opens the server on every node"
    if kind == "LoadBalancer":
        annotations = service.get("annotations") or {}
        if not any(annotations.get(k) == v for k, v in INTERNAL_LB):
            yield "service.type LoadBalancer is internet-facing (no internal scheme annotation)"
