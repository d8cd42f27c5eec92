"""Data-versioning policies: LakeFS's secrets from an existing Secret, its database encrypted/private/backed up
(found through the ExternalSecret that writes that Secret), and no public LakeFS in prod."""

from __future__ import annotations

from typing import Any

from mlops_infra.data.config import LakeFsConfig
from mlops_infra.data.lakefs import SECRET_NAME, LakeFs

from .cases import Case, check, params
from .helpers import R

RELEASE = "kubernetes:helm.sh/v3:Release"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
RDS = "aws:rds/instance:Instance"


def values(**override: Any) -> dict[str, Any]:
    """The values the component renders (LakeFs.values, with a known config text), then `override` on top."""
    rendered = LakeFs.values(LakeFsConfig(enabled=True), "us-east-1", "arn:aws:kms:us-east-1:123456789012:key/k")
    rendered["lakefsConfig"] = '{"database": {"type": "postgres"}, "blockstore": {"type": "s3"}}'
    return {**rendered, **override}


def release(**override: Any) -> R:
    return R(RELEASE, "lakefs-release", {"chart": "lakefs", "version": "1.12.16", "namespace": "lakefs",
                                         "values": values(**override)})


def synced(db: str = "lakefs-db") -> R:
    return R(EXTERNAL_SECRET, "lakefs-es", {"metadata": {"name": SECRET_NAME, "namespace": "lakefs"},
                                            "spec": {"target": {"name": SECRET_NAME}}}, deps={"spec": [db]})


def database(**override: Any) -> R:
    return R(RDS, "lakefs-db", {"engine": "postgres", "storageEncrypted": True, "kmsKeyId": "arn:aws:kms:k",
                                "publiclyAccessible": False, "backupRetentionPeriod": 14, **override})


SECRETS = "mlops-lakefs-secrets-from-existing-secret"
DB = "mlops-lakefs-database-encrypted-private-backed-up"
PUBLIC = "mlops-lakefs-not-public-in-prod"
DEFAULT_KEY = ("lakefs-release: no existingSecret: the chart uses values.secrets or, without them, its hard-coded "
               "default auth encryption key")
CASES = [
    Case("component", SECRETS, [release()], []),
    Case("not-lakefs", SECRETS, [R(RELEASE, "other", {"chart": "qdrant", "values": {}})], []),
    Case("chart-default-key", SECRETS, [release(existingSecret=None)], [DEFAULT_KEY]),
    Case("in-values", SECRETS, [release(existingSecret=None, secrets={"databaseConnectionString": "postgres://u:p@h/db"})],
         [DEFAULT_KEY, "lakefs-release: values.secrets.databaseConnectionString is set: the secret is in the Helm "
          "values (and the release's state)"]),
    Case("component", DB, [release(), synced(), database()], []),
    Case("public-unencrypted-no-backups", DB,
         [release(), synced(), database(storageEncrypted=False, publiclyAccessible=True, backupRetentionPeriod=0)],
         ["lakefs-release: database lakefs-db is not encrypted with a customer-managed key",
          "lakefs-release: database lakefs-db is publicly accessible",
          "lakefs-release: database lakefs-db keeps no automated backups"]),
    Case("local-database", DB, [release(lakefsConfig='{"database": {"type": "local"}}'), synced(), database()],
         ["lakefs-release: lakefsConfig database.type is 'local': the metadata lives on the pod's disk"]),
    Case("no-writer", DB, [release(), database()], []),
    Case("private", PUBLIC, [release()], []),
    Case("internet-lb", PUBLIC, [release(service={"type": "LoadBalancer", "port": 80})],
         ["lakefs-release: service.type LoadBalancer is internet-facing (no internal scheme annotation)"]),
    Case("internal-lb", PUBLIC, [release(service={"type": "LoadBalancer", "port": 80, "annotations": {
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}})], []),
    Case("public-ingress", PUBLIC, [release(ingress={"enabled": True})],
         ["lakefs-release: ingress.enabled is true without an internal scheme (alb.ingress.kubernetes.io/scheme: "
          "internal)"]),
    Case("staging-may", PUBLIC, [release(ingress={"enabled": True})], [], env="staging"),
]


@params(CASES)
def test_data_policies(case: Case) -> None:
    check(case)
