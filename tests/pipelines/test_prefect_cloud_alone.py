"""Prefect Cloud alone (issue 29): the worker reads `PREFECT_API_KEY` from the Secret `api.apiKeySecret` (prefect-worker
chart 2026.8.18172642, `cloudApiConfig.apiKeySecret`), so the component delivers that Secret itself, from a named
Secrets Manager secret (`PrefectCloudKey.from_secrets_manager`), or is told what already delivers it; it never
assumes the Secret exists."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_infra.pipelines.prefect_cloud import READER, PrefectCloudKey
from mlops_infra.plan import Inventory, PlanError, plan_program
from tests.conftest import EXAMPLES
from tests.platform.test_standalone import PLATFORM_STACK, platform_outputs, standalone

PREFECT = EXAMPLES / "prefect"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
SECRET_STORE = "kubernetes:external-secrets.io/v1:SecretStore"
RELEASE = "kubernetes:helm.sh/v3:Release"


def stack_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((PREFECT / "Pulumi.cloud.yaml").read_text(encoding="utf-8"))["config"]
    return config


def worker(inv: Inventory) -> Any:
    (release,) = [r for r in inv.of_type(RELEASE) if r.inputs["chart"] == "prefect-worker"]
    return release


def test_the_cloud_example_syncs_the_key_the_worker_reads_from_the_named_secret() -> None:
    inv, config = standalone(PREFECT, "cloud"), stack_config()
    api = config["mlops:platform"]["orchestration"]["prefect"]["api"]
    assert api["mode"] == "cloud"
    read = worker(inv).inputs["values"]["worker"]["cloudApiConfig"]["apiKeySecret"]
    assert read["name"] == api["apiKeySecret"]
    (synced,) = [r for r in inv.of_type(EXTERNAL_SECRET) if r.inputs["spec"]["target"]["name"] == read["name"]]
    assert synced.inputs["metadata"]["namespace"] == "prefect"
    assert synced.inputs["spec"]["data"] == [{"secretKey": read["key"],
                                              "remoteRef": {"key": config["prefect:apiKeySecretArn"]}}]
    assert worker(inv).urn in {r.urn for r in inv if synced.urn in (r.options.get("dependsOn") or [])}


def test_the_key_reader_reads_that_secret_only_through_its_own_store() -> None:
    inv, arn = standalone(PREFECT, "cloud"), stack_config()["prefect:apiKeySecretArn"]
    (synced,) = inv.of_type(EXTERNAL_SECRET)
    (store,) = [s for s in inv.of_type(SECRET_STORE) if s.inputs["metadata"]["name"]
                == synced.inputs["spec"]["secretStoreRef"]["name"]]
    assert store.inputs["spec"]["provider"]["aws"]["auth"] == {"jwt": {"serviceAccountRef": {"name": READER}}}
    (role,) = [r for r in inv.of_type("aws:iam/role:Role") if f"system:serviceaccount:prefect:{READER}"
               in r.inputs["assumeRolePolicy"]]
    (policy,) = [p for p in inv.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    assert [s["Resource"] for s in statements] == [[arn]]


def test_the_self_hosted_example_syncs_no_cloud_key() -> None:
    inv = standalone(PREFECT)
    targets = {r.inputs["spec"]["target"]["name"] for r in inv.of_type(EXTERNAL_SECRET)}
    assert targets == {"prefect-db"}
    assert "cloudApiConfig" not in worker(inv).inputs["values"]["worker"]


def copy_with(tmp_path: Path, replacement: str) -> Path:
    program = tmp_path / "prefect"
    shutil.copytree(PREFECT, program)
    main = program / "__main__.py"
    source = main.read_text(encoding="utf-8")
    assert source.count("cloud_api_key=cloud_key") == 1
    main.write_text(source.replace("cloud_api_key=cloud_key", replacement), encoding="utf-8")
    return program


def test_cloud_mode_without_a_key_source_is_refused(tmp_path: Path) -> None:
    program = copy_with(tmp_path, "cloud_api_key=None")
    with pytest.raises(PlanError) as err:
        plan_program(program, "cloud", stack_refs={PLATFORM_STACK: platform_outputs()})
    assert err.value.kind == "input"
    assert str(err.value) == (
        "search-dev-prefect: 1 problem with its refs\n"
        "  - Prefect Cloud's API key: nothing delivers the Secret 'prefect-cloud-api-key' (api.apiKeySecret) the worker "
        "reads: pass `PrefectArgs.cloud_api_key`, e.g. `PrefectCloudKey.from_secrets_manager(<secret ARN>)` to sync it "
        "from Secrets Manager")


def test_a_key_synced_alone_needs_the_operator(tmp_path: Path) -> None:
    program = copy_with(tmp_path, "cloud_api_key=cloud_key")
    outputs = {k: v for k, v in platform_outputs().items() if k != "externalSecretsStore"}
    with pytest.raises(PlanError, match=r"External Secrets delivers Prefect Cloud's API key, and nothing says this "
                                        r"cluster runs its operator"):
        plan_program(program, "cloud", stack_refs={PLATFORM_STACK: outputs})


def test_a_delivered_key_creates_nothing_and_the_worker_reads_it(tmp_path: Path) -> None:
    """The platform's way (its SecretsDelivery syncs the integration secret): no store, no ExternalSecret here."""
    program = copy_with(tmp_path, 'cloud_api_key=PrefectCloudKey.delivered(platform, secret_key="token")')
    inv = plan_program(program, "cloud", stack_refs={PLATFORM_STACK: platform_outputs()})
    assert inv.of_type(EXTERNAL_SECRET) == [] and inv.of_type(SECRET_STORE) == []
    read = worker(inv).inputs["values"]["worker"]["cloudApiConfig"]["apiKeySecret"]
    assert read == {"name": "prefect-cloud-api-key", "key": "token"}


def test_a_key_source_is_exactly_one_of_the_two() -> None:
    with pytest.raises(ValueError, match="exactly one of secrets_manager_secret"):
        PrefectCloudKey(secret_key="value")
    assert PrefectCloudKey.from_secrets_manager("arn:x").secret_key == "value"
