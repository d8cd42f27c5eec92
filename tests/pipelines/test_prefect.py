"""Prefect's runtime wiring, read from the plan of the all-engines variant (self-hosted server): the worker serves
the work pool the outputs name, with the base job template the outputs carry (flow runs as the IAM-bound account,
non-root, GPU taints tolerated); the server reaches its database with the URL External Secrets templates; and the
Prefect Cloud variant takes its API key only from a Secret."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from mlops_infra.pipelines import prefect as pf
from mlops_infra.pipelines.prefect_config import PrefectCloudConfig, PrefectConfig, prefect_problems
from mlops_infra.plan import Inventory, ResourceRecord
from tests import iam_eval
from tests.integration.plans import plan
from tests.pipelines.test_metaflow import one, role_docs_for_sa

HELM = "kubernetes:helm.sh/v3:Release"
ES, STORE = "kubernetes:external-secrets.io/v1:ExternalSecret", "kubernetes:external-secrets.io/v1:SecretStore"
RDS, SA = "aws:rds/instance:Instance", "kubernetes:core/v1:ServiceAccount"
ACCOUNT, WORKSPACE = "0b9b8d3e-7a4f-4a51-9c1e-2f3a4b5c6d7e", "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return plan("variant-pipelines")


def release(inv: Inventory, suffix: str) -> ResourceRecord:
    return one(inv, HELM, f"mlops-dev-prefect-{suffix}")


def test_worker_serves_the_output_work_pool_with_the_output_template(inv: Inventory) -> None:
    worker = release(inv, "worker").inputs["values"]["worker"]
    assert worker["config"]["workPool"] == inv.outputs["prefectWorkPool"] == "kubernetes"
    assert worker["config"]["type"] == "kubernetes"
    template = json.loads(worker["config"]["baseJobTemplate"]["configuration"])
    assert template == json.loads(inv.outputs["prefectBaseJobTemplate"])
    assert worker["apiConfig"] == "selfHostedServer"
    assert worker["selfHostedServerApiConfig"]["apiUrl"] == inv.outputs["prefectApiUrl"]
    server = release(inv, "server")
    sv = server.inputs["values"]
    assert inv.outputs["prefectApiUrl"] == (f"http://{sv['fullnameOverride']}.{server.inputs['namespace']}"
                                            f".svc.cluster.local:{sv['service']['port']}/api")


def test_flow_runs_use_the_iam_bound_account_non_root_with_gpu_tolerations(inv: Inventory) -> None:
    template = json.loads(inv.outputs["prefectBaseJobTemplate"])
    props = template["variables"]["properties"]
    ns, sa = props["namespace"]["default"], props["service_account_name"]["default"]
    assert (ns, sa) == (inv.outputs["prefectNamespace"], pf.FLOWS_SERVICE_ACCOUNT)
    (sa_record,) = [s for s in inv.of_type(SA)
                    if (s.inputs["metadata"]["name"], s.inputs["metadata"]["namespace"]) == (sa, ns)]
    role_name = inv.outputs["prefectFlowRoleArn"].rsplit("/", 1)[1]
    assert sa_record.inputs["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith("/" + role_name)
    # The platform's managed grants (model artifacts write; feature read when a feature store runs) on that role.
    attached = {a.name.rsplit("-", 2)[-2] + "-" + a.name.rsplit("-", 1)[-1]
                for a in inv.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if a.inputs["role"] == role_name}
    assert "artifact-write" in attached
    spec = template["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "{{ service_account_name }}"
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0
    (container,) = spec["containers"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"] == container["resources"]["limits"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "{{ gpu_limit }}"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    assert "MLFLOW_TRACKING_URI" in props["env"]["default"]
    # The project file deploys to this pool.
    project = yaml.safe_load(inv.outputs["prefectProjectYaml"])
    assert {d["work_pool"]["name"] for d in project["deployments"]} == {inv.outputs["prefectWorkPool"]}


def test_server_database_url_comes_from_external_secrets(inv: Inventory) -> None:
    sv = release(inv, "server").inputs["values"]
    ext = sv["externalDatabase"]
    es = one(inv, ES, "mlops-dev-prefect-db-external-secret")
    assert ext == {"existingSecret": es.inputs["spec"]["target"]["name"], "connectionStringSecretKey": pf.DB_KEY}
    url = es.inputs["spec"]["target"]["template"]["data"][pf.DB_KEY]
    endpoint = inv.outputs["prefectDatabaseEndpoint"]
    assert url.startswith("postgresql+asyncpg://{{ .username | urlquery }}:{{ .password | urlquery }}@")
    assert f"@{endpoint}/prefect?ssl=require" in url
    assert sv["postgresql"] == {"enabled": False} and sv["secret"] == {"create": False}
    store = one(inv, STORE, "mlops-dev-prefect-db-secret-store")
    reader = store.inputs["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]["name"]
    secret_arn = es.inputs["spec"]["dataFrom"][0]["extract"]["key"]
    assert iam_eval.allows(role_docs_for_sa(inv, "prefect", reader), "secretsmanager:GetSecretValue", secret_arn)
    assert "prefect-rocks" not in json.dumps(sv)


def cloud_config() -> PrefectConfig:
    return PrefectConfig(enabled=True, api=PrefectCloudConfig(mode="cloud", account_id=ACCOUNT,
                                                             workspace_id=WORKSPACE, api_key_secret="prefect-key"))


def test_cloud_key_only_from_a_secret() -> None:
    values = pf.worker_values(cloud_config(), api_url=None, api_key=("prefect-key", "key"), template_json="{}")
    cloud: dict[str, Any] = values["worker"]["cloudApiConfig"]
    assert values["worker"]["apiConfig"] == "cloud"
    assert cloud["apiKeySecret"] == {"name": "prefect-key", "key": "key"}
    assert cloud["jobApiKeyPropagation"] == "secretRef"
    assert "selfHostedServerApiConfig" not in values["worker"]


def test_cloud_key_must_be_an_integration_secret_granted_to_the_namespace() -> None:
    cfg = cloud_config()
    assert dict(prefect_problems(cfg, gpu_pools=[], integration_secrets={})) .keys() == {"api.apiKeySecret"}
    assert list(prefect_problems(cfg, gpu_pools=[], integration_secrets={"prefect-key": ["airflow"]}))
    assert not list(prefect_problems(cfg, gpu_pools=[], integration_secrets={"prefect-key": ["prefect"]}))
