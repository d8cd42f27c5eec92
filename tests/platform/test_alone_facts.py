"""Serving and data components alone on a platform's cluster (review of #29, findings 2-5 and minors a, b): what the
platform's output contract says about the cluster and its buckets reaches the components, and a component refuses
what the cluster cannot give it. Each example is planned on the platform's planned outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_infra.plan import Inventory, PlanError, plan_program
from tests import iam_eval
from tests.conftest import EXAMPLES, planned
from tests.nonempty import each
from tests.platform.test_standalone import PLATFORM_STACK, standalone

NAMESPACE = "kubernetes:core/v1:Namespace"
RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "aws:secretsmanager/secret:Secret"


def on(platform: str, program: Path) -> Inventory:
    return plan_program(program, "dev", stack_refs={PLATFORM_STACK: planned(platform).outputs})


def copy(tmp_path: Path, example: str, section: str | None = None, main: tuple[str, str] | None = None,
         **settings: Any) -> Path:
    """A copy of `examples/<example>` whose stack file's `<project>:<section>` has `settings` (None: removed), and
    whose program has `main[0]` replaced by `main[1]`."""
    target = tmp_path / example
    shutil.copytree(EXAMPLES / example, target)
    stack_file = target / "Pulumi.dev.yaml"
    stack = yaml.safe_load(stack_file.read_text(encoding="utf-8"))
    values = stack["config"][f"{example}:{section or example}"]
    for key, value in settings.items():
        if value is None:
            values.pop(key)
        else:
            values[key] = value
    stack_file.write_text(yaml.safe_dump(stack), encoding="utf-8")
    if main is not None:
        program = target / "__main__.py"
        text = program.read_text(encoding="utf-8")
        assert main[0] in text
        program.write_text(text.replace(main[0], main[1]), encoding="utf-8")
    return target


def namespaces(inv: Inventory) -> list[str]:
    return sorted(r.inputs["metadata"]["name"] for r in inv.of_type(NAMESPACE))


def charts(inv: Inventory) -> list[str]:
    return sorted(str(r.inputs["chart"]).rsplit("/", 1)[-1] for r in inv.of_type(RELEASE))


# --- finding 2: KServe and cert-manager are the cluster's, installed once -----------------------------------------

def test_the_contract_says_whether_the_platform_runs_kserve() -> None:
    assert "kserve" not in planned("dev").outputs["clusterAddOns"]  # serving off in dev
    assert "kserve" in planned("staging").outputs["clusterAddOns"]
    assert {"cert-manager", "kserve-resources"} <= set(charts(planned("staging")))


def serving_copy(tmp_path: Path, install: bool) -> Path:
    """A copy of examples/model_serving whose stack chooses `installController: install`."""
    program = copy(tmp_path, "model_serving", "serving")
    stack_file = program / "Pulumi.dev.yaml"
    stack = yaml.safe_load(stack_file.read_text(encoding="utf-8"))
    stack["config"]["model_serving:installController"] = install  # the stack's explicit choice
    stack_file.write_text(yaml.safe_dump(stack), encoding="utf-8")
    return program


def test_model_serving_alone_on_a_cluster_that_runs_kserve_installs_only_its_own_namespace(tmp_path: Path) -> None:
    """Planned on staging (whose serving installed KServe) with `installController: false`: no second cert-manager
    or kserve namespace or release, and the models still wait for nothing the cluster lacks."""
    inv = on("staging", serving_copy(tmp_path, False))
    assert namespaces(inv) == ["search-serving"]
    assert charts(inv) == []
    (isvc,) = inv.of_type("kubernetes:serving.kserve.io/v1beta1:InferenceService")
    assert isvc.inputs["metadata"]["namespace"] == "search-serving"


def test_model_serving_alone_on_a_cluster_without_kserve_installs_it() -> None:
    inv = standalone(EXAMPLES / "model_serving")  # the dev platform: serving off
    assert namespaces(inv) == ["cert-manager", "kserve", "search-serving"]
    assert charts(inv) == ["cert-manager", "kserve-crd", "kserve-resources"]


@pytest.mark.parametrize(("platform", "install", "message"), [
    ("staging", "True", "the cluster already runs KServe and cert-manager"),
    ("dev", "False", "nothing installs KServe on this cluster"),
])
def test_model_serving_refuses_an_install_the_cluster_contradicts(tmp_path: Path, platform: str, install: str,
                                                                   message: str) -> None:
    program = serving_copy(tmp_path, install == "True")
    with pytest.raises(PlanError, match=message):
        on(platform, program)


# --- finding 3: fixed-name secrets of an unprotected component are deleted at once -------------------------------

@pytest.mark.parametrize("example", ["lakefs", "qdrant"])
def test_an_unprotected_components_secrets_keep_no_recovery_window_by_default(tmp_path: Path, example: str) -> None:
    """The examples pass protect=False; with no window configured their fixed-name secrets must be free again right
    after a destroy (a 30-day window makes the next `up` fail: "scheduled for deletion")."""
    inv = standalone(copy(tmp_path, example, secretRecoveryWindowDays=None))
    secrets = inv.of_type(SECRET)
    for secret in each(secrets):
        assert secret.inputs["recoveryWindowInDays"] == 0, secret.name
        assert not secret.options.get("protect"), secret.name


def test_a_protected_components_secrets_keep_the_full_window(prod_plan: Inventory) -> None:
    secrets = [r for r in prod_plan.of_type(SECRET) if "-lakefs-" in r.name or "-qdrant-" in r.name]
    assert {r.inputs["recoveryWindowInDays"] for r in each(secrets)} == {30}


# --- finding 4: the artifact bucket's key comes from the contract -------------------------------------------------

def _artifact_key(inv: Inventory) -> str:
    (sse,) = [r for r in inv.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
              if r.inputs["bucket"] == inv.outputs["modelArtifactBucket"]]
    return str(sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"])


def test_the_contract_exports_the_key_the_artifact_bucket_encrypts_with() -> None:
    dev = planned("dev")
    assert dev.outputs["modelArtifactKeyArn"] == _artifact_key(dev) != dev.outputs["dataKeyArn"]


@pytest.mark.parametrize(("example", "role"), [("model_serving", "search-serving-model-server"),
                                               ("sagemaker_serving", "search-serving")])
def test_alone_serving_may_decrypt_the_models(example: str, role: str) -> None:
    key, bucket = planned("dev").outputs["modelArtifactKeyArn"], planned("dev").outputs["modelArtifactBucket"]
    inv = standalone(EXAMPLES / example)
    docs = [json.loads(r.inputs["policy"]) for r in inv.of_type("aws:iam/rolePolicy:RolePolicy")
            if r.name.startswith(role)]
    assert docs, [r.name for r in inv.of_type("aws:iam/rolePolicy:RolePolicy")]
    assert iam_eval.allows(docs, "kms:Decrypt", key)
    assert iam_eval.allows(docs, "s3:GetObject",
                           f"arn:aws:s3:::{bucket}/artifacts/1/models/m-5f0c2d9e8a7b4c3d/artifacts/MLmodel")


# --- finding 5: Qdrant's snapshot scratch must fit a system node ---------------------------------------------------

def test_the_contract_exports_the_system_node_disk() -> None:
    assert planned("dev").outputs["systemNodeDiskGib"] == 50


def test_qdrant_alone_refuses_a_snapshot_scratch_no_system_node_has(tmp_path: Path) -> None:
    """50 GiB system nodes give pods int(0.9 x 50) - 1 = 44Gi of ephemeral storage: a 45Gi snapshot would stay
    Pending forever. Every problem is reported at once."""
    assert standalone(copy(tmp_path / "fits", "qdrant", storageSize="44Gi")).of_type("kubernetes:batch/v1:CronJob")
    with pytest.raises(PlanError, match=r"storageSize 45Gi does not fit the snapshot job's scratch space on a system "
                                        r"node: it requests storageSize of ephemeral storage, at most "
                                        r"int\(0.9 x 50 GiB\) - 1 = 44Gi"):
        standalone(copy(tmp_path / "big", "qdrant", storageSize="45Gi"))
    # On nodes the operator chose, whose disks the contract does not know, nothing is refused.
    assert standalone(copy(tmp_path / "chosen", "qdrant", storageSize="45Gi",
                           nodeSelector={"node.kubernetes.io/instance-type": "r6i.2xlarge"}))


# --- minor a: an existing key by reference ------------------------------------------------------------------------

def test_qdrant_alone_reuses_the_platforms_data_key_by_reference() -> None:
    data_key = planned("dev").outputs["dataKeyArn"]
    inv = standalone(EXAMPLES / "qdrant")
    assert inv.of_type("aws:kms/key:Key") == []  # nothing created: the key is the platform's
    assert {r.inputs["kmsKeyId"] for r in each(inv.of_type(SECRET))} == {data_key}
    readers = [json.loads(r.inputs["policy"]) for r in inv.of_type("aws:iam/rolePolicy:RolePolicy")
               if "-secrets-" in r.name]
    for doc in each(readers):
        assert iam_eval.allows([doc], "kms:Decrypt", data_key)
