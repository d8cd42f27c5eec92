"""The Prefect API-key policy (policies/mlops_policies/pipelines_engines.py) on the values the component renders,
and on a values set that hands the key to flow runs as a plain env value."""

from __future__ import annotations

from mlops_infra.pipelines import prefect as pf
from mlops_infra.pipelines.prefect_config import PrefectCloudConfig, PrefectConfig
from tests.integration.plans import plan

from .cases import Case, check, params
from .helpers import R, messages

RELEASE, POLICY = "kubernetes:helm.sh/v3:Release", "mlops-prefect-api-key-secret"
ACCOUNT, WORKSPACE = "0b9b8d3e-7a4f-4a51-9c1e-2f3a4b5c6d7e", "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"


def worker(propagation: str | None = None) -> R:
    cfg = PrefectConfig(enabled=True, api=PrefectCloudConfig(mode="cloud", account_id=ACCOUNT, workspace_id=WORKSPACE,
                                                             api_key_secret="prefect-key"))
    values = pf.worker_values(cfg, api_url=None, api_key=("prefect-key", "key"), template_json="{}")
    if propagation is not None:
        values["worker"]["cloudApiConfig"]["jobApiKeyPropagation"] = propagation
    return R(RELEASE, "prefect-worker", {"chart": "prefect-worker", "values": values})


SERVER_BASIC_AUTH = R(RELEASE, "prefect-server", {"chart": "prefect-server", "values": {"server": {"basicAuth": {
    "enabled": True, "authString": "admin:pass"}}}})
CASES = [
    Case("rendered-cloud-worker", POLICY, [worker()], []),
    Case("env-var-propagation", POLICY, [worker("envVar")], [
        "prefect-worker: values.worker.cloudApiConfig.jobApiKeyPropagation is 'envVar': flow-run Jobs would carry the "
        "API key as a plain env value"]),
    Case("server-basic-auth-value", POLICY, [SERVER_BASIC_AUTH], [
        "prefect-server: values.server.basicAuth is enabled without existingSecret (the auth string would be a value)"]),
]


@params(CASES)
def test_cases(case: Case) -> None:
    check(case)


def test_the_all_engines_plan_passes() -> None:
    inv = plan("variant-pipelines")
    releases = [R(RELEASE, r.name, r.inputs) for r in inv.of_type(RELEASE) if "prefect" in r.name]
    assert len(releases) == 2 and messages(POLICY, releases) == []
