"""Kubeflow Pipelines' runtime wiring from the all-engines plan: Argo's artifact repository and the launcher's
pipeline root on the KFP bucket, the step pods' role able to write there, the database on RDS through External
Secrets, the pinned manifests, and no MinIO or in-cluster database."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from mlops_infra.pipelines import kfp
from mlops_infra.pipelines.config import KFP_VERSION
from mlops_infra.plan import Inventory, ResourceRecord
from tests import iam_eval
from tests.integration.plans import plan

CM = "kubernetes:core/v1:ConfigMap"
ES = "kubernetes:external-secrets.io/v1:ExternalSecret"
ROLE, ROLE_POLICY = "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return plan("variant-pipelines")


def one(inv: Inventory, typ: str, name_part: str) -> ResourceRecord:
    found = [r for r in inv.of_type(typ) if name_part in r.name]
    assert len(found) == 1, f"{typ} {name_part}: {[r.name for r in found]}"
    return found[0]


def bucket_name(inv: Inventory) -> str:
    b = one(inv, "aws:s3/bucket:Bucket", "kfp-artifacts")
    return str(b.inputs.get("bucket") or b.id)


def sa_role_docs(inv: Inventory, sa_name: str) -> list[Any]:
    (sa,) = [s for s in inv.of_type("kubernetes:core/v1:ServiceAccount")
             if s.inputs["metadata"] == {**s.inputs["metadata"], "name": sa_name, "namespace": "kubeflow"}]
    by_urn = inv.by_urn()
    (role,) = [by_urn[u] for u in sa.property_dependencies["metadata"] if by_urn[u].type == ROLE]
    return [json.loads(p.inputs["policy"]) for p in inv.of_type(ROLE_POLICY) if p.inputs["role"] in (role.id, role.name)]


def test_argo_artifact_repository_is_the_kfp_bucket_through_irsa(inv: Inventory) -> None:
    cm = one(inv, CM, "kfp-argo-artifact-repositories")
    assert cm.inputs["metadata"]["name"] == "artifact-repositories"
    key = cm.inputs["metadata"]["annotations"]["workflows.argoproj.io/default-artifact-repository"]
    repo = yaml.safe_load(cm.inputs["data"][key])["s3"]
    assert repo["bucket"] == bucket_name(inv) and repo["useSDKCreds"] is True and repo["insecure"] is False
    assert repo["endpoint"] == "s3.us-east-1.amazonaws.com" and "accessKeySecret" not in repo
    prefix = repo["keyFormat"].split("/")[0]
    docs = sa_role_docs(inv, kfp.RUNNER_SA)  # Argo's wait container uploads with the step pod's identity
    assert iam_eval.allows(docs, "s3:PutObject", f"arn:aws:s3:::{repo['bucket']}/{prefix}/wf-1/pod-1/main.log")


def test_launcher_pipeline_root_and_credentials(inv: Inventory) -> None:
    data = one(inv, CM, "kfp-launcher-config").inputs["data"]
    assert data["defaultPipelineRoot"] == f"s3://{bucket_name(inv)}/{kfp.PIPELINE_ROOT_PREFIX}"
    provider = yaml.safe_load(data["providers"])["s3"]["default"]
    assert provider["credentials"] == {"fromEnv": True} and provider["region"] == "us-east-1"
    install = one(inv, CM, "kfp-install-config").inputs["data"]
    assert install["bucketName"] == bucket_name(inv)
    docs = sa_role_docs(inv, kfp.API_SA)
    assert iam_eval.allows(docs, "s3:GetObject", f"arn:aws:s3:::{bucket_name(inv)}/pipelines/p/x.yaml")


def test_database_is_rds_through_external_secrets(inv: Inventory) -> None:
    db = one(inv, "aws:rds/instance:Instance", "kfp-db")
    assert db.inputs["engine"] == "mysql" and db.inputs["storageEncrypted"] is True
    assert db.inputs["publiclyAccessible"] is False and db.inputs["manageMasterUserPassword"] is True
    targets = {es.inputs["metadata"]["name"]: es for es in inv.of_type(ES) if "kfp-db" in es.name}
    assert set(targets) == {kfp.DB_SECRET, kfp.MLMD_SECRET}
    assert set(targets[kfp.DB_SECRET].inputs["spec"]["target"]["template"]["data"]) == {"username", "password"}
    hosts = {s.inputs["metadata"]["name"]: s.inputs["spec"] for s in inv.of_type("kubernetes:core/v1:Service")
             if "kfp" in s.name}
    assert hosts[kfp.DB_HOST]["type"] == "ExternalName"
    assert hosts[kfp.DB_HOST]["externalName"].endswith(".rds.amazonaws.com")


def test_manifests_are_pinned_and_leave_out_minio_in_cluster_databases_and_the_v1_cache() -> None:
    for path in (kfp.MANIFESTS / "kustomization.yaml", kfp.MANIFESTS / "cluster-scoped" / "kustomization.yaml"):
        doc = yaml.safe_load(path.read_text())
        refs = {r.rsplit("?ref=", 1)[1] for r in doc["resources"]}
        assert refs == {KFP_VERSION}, f"{path.name}: {refs}"
        assert not any(part in r for r in doc["resources"]
                       for part in ("minio", "seaweedfs", "third-party/mysql", "postgresql", "/cache"))
    deleted = {yaml.safe_load(p["patch"])["metadata"]["name"]
               for p in yaml.safe_load((kfp.MANIFESTS / "kustomization.yaml").read_text())["patches"]
               if "$patch: delete" in p.get("patch", "").split("\n", 1)[0]}  # `path:` entries: hardening.yaml
    assert deleted == {kfp.LAUNCHER_CONFIG, kfp.RUNNER_SA, kfp.API_SA, kfp.UI_SA, kfp.ARGO_PRIORITY_CLASS}


def test_step_pods_run_as_the_irsa_runner_with_the_platform_grants(inv: Inventory) -> None:
    (sa,) = [s for s in inv.of_type("kubernetes:core/v1:ServiceAccount")
             if s.inputs["metadata"]["name"] == kfp.RUNNER_SA]
    assert sa.inputs["automountServiceAccountToken"] is True
    attached = [a for a in inv.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if "kfp-wiring" in a.name]
    assert {a.name.rsplit("-", 2)[-2] + "-" + a.name.rsplit("-", 1)[-1] for a in attached} == {
        "feature-read", "artifact-write"}


def test_only_the_pinned_release_is_accepted() -> None:
    """`kubeflowPipelines.version` cannot pick another release: the manifests are pinned to KFP_VERSION."""
    from pydantic import ValidationError

    from mlops_infra.pipelines.config import KfpConfig
    assert KfpConfig(enabled=True, version=KFP_VERSION).version == KFP_VERSION
    with pytest.raises(ValidationError, match=f"only {KFP_VERSION} is supported"):
        KfpConfig(enabled=True, version="2.5.0")
