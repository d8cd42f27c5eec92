"""Metaflow's runtime wiring, read from the plan of the all-engines variant (tests/integration/variants): the user
config points at the datastore bucket and the metadata service; the step role may read and write exactly the
datastore prefix; the metadata service reaches its database endpoint with the password External Secrets syncs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from typing import Any

import pytest

from mlops_infra.pipelines import metaflow as mf
from mlops_infra.pipelines.metaflow_config import METAFLOW_SERVICE_PORT, MetaflowConfig, metaflow_problems
from mlops_infra.pipelines.metaflow_user_config import MetaflowUserConfigArgs, metaflow_user_config
from mlops_infra.plan import Inventory, ResourceRecord
from tests import iam_eval
from tests.conftest import ROOT
from tests.integration.plans import plan
from tests.nonempty import each

HELM = "kubernetes:helm.sh/v3:Release"
BUCKET, ROLE, ROLE_POLICY = "aws:s3/bucket:Bucket", "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"
SA, SECRET = "kubernetes:core/v1:ServiceAccount", "kubernetes:core/v1:Secret"
ES, STORE = "kubernetes:external-secrets.io/v1:ExternalSecret", "kubernetes:external-secrets.io/v1:SecretStore"
RDS, ROLE_BINDING = "aws:rds/instance:Instance", "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return plan("variant-pipelines")


@pytest.fixture(scope="module")
def user_config(inv: Inventory) -> dict[str, str]:
    config: dict[str, str] = json.loads(inv.outputs["metaflowConfig"])
    return config


def one(inv: Inventory, typ: str, name: str) -> ResourceRecord:
    found = [r for r in inv.of_type(typ) if r.name == name]
    assert len(found) == 1, f"{typ} {name}: {[r.name for r in inv.of_type(typ)]}"
    return found[0]


def service_values(inv: Inventory) -> dict[str, Any]:
    values: dict[str, Any] = one(inv, HELM, "mlops-dev-metaflow-service").inputs["values"]
    return values


def role_docs_for_sa(inv: Inventory, namespace: str, sa_name: str) -> list[Any]:
    """The inline policy documents of the role annotated on the ServiceAccount."""
    (sa,) = [s for s in inv.of_type(SA) if s.inputs["metadata"]["name"] == sa_name
             and s.inputs["metadata"]["namespace"] == namespace]
    arn = sa.inputs["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    (role,) = [r for r in inv.of_type(ROLE) if arn.endswith("/" + str(r.inputs.get("name") or r.id))]
    return [json.loads(p.inputs["policy"]) for p in inv.of_type(ROLE_POLICY)
            if p.inputs["role"] in (role.id, role.name, role.inputs.get("name"))]


def test_user_config_points_at_the_datastore_bucket_and_the_metadata_service(
        inv: Inventory, user_config: dict[str, str]) -> None:
    bucket = one(inv, BUCKET, "mlops-dev-metaflow-datastore").inputs.get("bucket") or \
        inv.outputs["metaflowDatastoreRoot"].split("/")[2]
    assert user_config["METAFLOW_DEFAULT_DATASTORE"] == "s3"
    assert user_config["METAFLOW_DATASTORE_SYSROOT_S3"] == f"s3://{bucket}/metaflow" == inv.outputs["metaflowDatastoreRoot"]
    assert user_config["METAFLOW_DATATOOLS_S3ROOT"] == f"s3://{bucket}/metaflow/data"
    # The service URL is the chart's Service: fullnameOverride, the release namespace, values' service.port.
    v, release = service_values(inv), one(inv, HELM, "mlops-dev-metaflow-service")
    url = f"http://{v['fullnameOverride']}.{release.inputs['namespace']}.svc.cluster.local:{v['service']['port']}"
    assert user_config["METAFLOW_DEFAULT_METADATA"] == "service"
    assert user_config["METAFLOW_SERVICE_URL"] == user_config["METAFLOW_SERVICE_INTERNAL_URL"] == url
    assert url == inv.outputs["metaflowServiceUrl"] and v["service"]["port"] == METAFLOW_SERVICE_PORT


def test_steps_run_as_the_datastore_role_on_the_training_pool(inv: Inventory, user_config: dict[str, str]) -> None:
    ns, sa = user_config["METAFLOW_KUBERNETES_NAMESPACE"], user_config["METAFLOW_KUBERNETES_SERVICE_ACCOUNT"]
    assert ns == inv.outputs["metaflowNamespace"] == "metaflow" and sa == mf.FLOWS_SERVICE_ACCOUNT
    docs = role_docs_for_sa(inv, ns, sa)
    bucket_arn = "arn:aws:s3:::" + inv.outputs["metaflowDatastoreRoot"].split("/")[2]
    for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
        assert iam_eval.allows(docs, action, f"{bucket_arn}/metaflow/TrainFlow/1/start/1/0.data.json")
    assert iam_eval.allows(docs, "s3:ListBucket", bucket_arn, {"s3:prefix": "metaflow/TrainFlow/"})
    assert not iam_eval.allows(docs, "s3:PutObject", f"{bucket_arn}/other/x")
    assert not iam_eval.allows(docs, "s3:ListBucket", bucket_arn, {"s3:prefix": "other/"})
    # Every GPU pool's taint is tolerated, the configured pool is the default node selector (variant: spot-g6).
    tolerations = json.loads(user_config["METAFLOW_KUBERNETES_TOLERATIONS"])
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in tolerations
    assert user_config["METAFLOW_KUBERNETES_NODE_SELECTOR"] == "mlops.io/gpu-pool=spot-g6"
    # The platform env reaches every step through the Secret KUBERNETES_SECRETS names.
    env = one(inv, SECRET, "mlops-dev-metaflow-env")
    assert env.inputs["metadata"]["name"] == user_config["METAFLOW_KUBERNETES_SECRETS"]
    # (its data, the MLflow and feature-server URLs of the shared wiring, is masked in the plan: Secret data)
    # Argo's executor in each step pod may report its results (workflowtaskresults).
    binding = one(inv, ROLE_BINDING, "mlops-dev-metaflow-argo-executor-binding")
    assert binding.inputs["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]


def test_metadata_service_reaches_its_database_with_the_synced_password(inv: Inventory) -> None:
    v, db = service_values(inv), one(inv, RDS, "mlops-dev-metaflow-db")
    assert v["metadatadb"]["host"] == db.inputs.get("address", v["metadatadb"]["host"]) and v["metadatadb"]["host"]
    assert (v["metadatadb"]["name"], v["metadatadb"]["user"]) == (db.inputs["dbName"], db.inputs["username"])
    assert v["metadatadb"]["password"] == "", "a non-empty password makes the chart render it as a plain value"
    env = {e["name"]: e for e in v["env"]}
    ref = env[mf.PASSWORD_ENV]["valueFrom"]["secretKeyRef"]
    es = one(inv, ES, "mlops-dev-metaflow-db-external-secret")
    assert ref["name"] == es.inputs["spec"]["target"]["name"]
    assert ref["key"] in es.inputs["spec"]["target"]["template"]["data"]
    assert env["MF_METADATA_DB_SSL_MODE"]["value"] == "require"
    secret_arn = es.inputs["spec"]["dataFrom"][0]["extract"]["key"]
    store = one(inv, STORE, "mlops-dev-metaflow-db-secret-store")
    reader = store.inputs["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]["name"]
    docs = role_docs_for_sa(inv, "metaflow", reader)
    assert iam_eval.allows(docs, "secretsmanager:GetSecretValue", secret_arn)
    assert not iam_eval.allows(docs, "secretsmanager:GetSecretValue", secret_arn + "-other")
    assert "password" not in json.dumps(v).replace('"password": ""', "")


def test_config_json_has_exactly_metaflows_key_names() -> None:
    """Every key is `METAFLOW_<NAME>` for a `from_conf("<NAME>")` of metaflow 2.19.39 (metaflow_config.py)."""
    known = {"DEFAULT_DATASTORE", "DATASTORE_SYSROOT_S3", "DATATOOLS_S3ROOT", "DEFAULT_METADATA", "SERVICE_URL",
             "SERVICE_INTERNAL_URL", "KUBERNETES_NAMESPACE", "KUBERNETES_SERVICE_ACCOUNT", "KUBERNETES_CONTAINER_IMAGE",
             "KUBERNETES_CPU", "KUBERNETES_MEMORY", "KUBERNETES_QOS", "KUBERNETES_TOLERATIONS",
             "KUBERNETES_NODE_SELECTOR", "KUBERNETES_SECRETS"}
    config = metaflow_user_config(MetaflowUserConfigArgs(
        bucket="b", datastore_prefix="metaflow", datatools_prefix="metaflow/data", service_url="http://s:8080",
        namespace="metaflow", service_account="sa", image="i", cpu="1", memory_mib=1024,
        tolerations=[{"key": "k", "operator": "Exists", "effect": "NoSchedule"}], node_selector={"a": "b"},
        env_secret="env"))
    assert {k.removeprefix("METAFLOW_") for k in config} == known
    assert all(isinstance(v, str) for v in each(config.values()))


def test_argo_scheduler_needs_kubeflow_pipelines_and_a_known_pool() -> None:
    cfg = MetaflowConfig(enabled=True, gpu_pool="nope")
    problems = dict(metaflow_problems(cfg, kubeflow_pipelines=False, gpu_pools=["a"]))
    assert set(problems) == {"scheduler", "gpuPool", "taskImage"}
    assert not list(metaflow_problems(MetaflowConfig(enabled=True, scheduler="none", task_image="r/step:1"),
                                      kubeflow_pipelines=False, gpu_pools=[]))


def test_the_step_image_has_what_metaflows_bootstrap_would_install() -> None:
    """images/metaflow-step: boto3 and requests (metaflow 2.19.39 `_get_install_dependencies_cmd` for the S3
    datastore) at pinned versions, and the variable that command checks before installing. The integration tier
    checks the same against the command the real Metaflow compiles into the Argo template."""
    dockerfile = (ROOT / "images" / "metaflow-step" / "Dockerfile").read_text()
    pins = dict(re.findall(r'"([a-z0-9-]+)==([0-9.]+)"', dockerfile))
    assert set(pins) == {"boto3", "requests"}
    assert re.search(r"^ENV METAFLOW_SKIP_INSTALL_DEPENDENCIES=1$", dockerfile, re.M)
    assert re.search(r"^FROM docker\.io/library/python:3\.12-slim$", dockerfile, re.M)


# The first commands of Metaflow 2.19.39's step pod (plugins/kubernetes/kubernetes.py: `mkdir -p LOGS_DIR` with
# LOGS_DIR = "$PWD/.logs"; metaflow_environment.py bootstrap_commands: `mkdir metaflow`, `cd metaflow`,
# `mkdir .metaflow`). The integration tier checks them in the template the real Metaflow compiles.
STEP_BOOTSTRAP = "mkdir -p $PWD/.logs && mkdir metaflow && cd metaflow && mkdir .metaflow"


def step_image_workdir() -> tuple[str, str]:
    """The step image's (WORKDIR, USER), refusing an image whose working directory its user does not own."""
    dockerfile = (ROOT / "images" / "metaflow-step" / "Dockerfile").read_text()
    (user,) = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    (workdir,) = re.findall(r"^WORKDIR (\S+)$", dockerfile, re.M)
    assert re.search(rf"^RUN mkdir {re.escape(workdir)} && chown {re.escape(user)} {re.escape(workdir)}$",
                     dockerfile, re.M), "the working directory is created and owned by the step's user"
    assert dockerfile.index(f"WORKDIR {workdir}") < dockerfile.index(f"USER {user}")
    return workdir, user


def _bootstrap_as(user: str, cwd: str) -> int:
    uid, gid = user.split(":")
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "bash", "-c",
                           STEP_BOOTSTRAP], cwd=cwd, capture_output=True).returncode


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to the image's uid")
def test_the_step_user_can_run_metaflows_bootstrap_in_the_image_working_directory() -> None:
    workdir, user = step_image_workdir()
    assert workdir.startswith("/") and workdir != "/"
    uid, gid = (int(x) for x in user.split(":"))
    with tempfile.TemporaryDirectory() as base:
        os.chmod(base, 0o755)
        owned, root_owned = os.path.join(base, "own"), os.path.join(base, "root")
        os.mkdir(owned), os.mkdir(root_owned)
        os.chown(owned, uid, gid)  # as the Dockerfile's RUN leaves the WORKDIR
        assert _bootstrap_as(user, owned) == 0 and os.path.isdir(os.path.join(owned, "metaflow", ".metaflow"))
        assert _bootstrap_as(user, root_owned) != 0  # python:3.12-slim's `/`: the failure this image avoids
