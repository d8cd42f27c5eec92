"""Engine-specific orchestrator rules (mlops_infra/pipelines): the Prefect worker's API key stays in a Secret all the
way into flow-run Jobs (prefect-worker chart, PrefectHQ/prefect-helm 2026.8.18172642, values.yaml
`jobApiKeyPropagation`: `envVar` writes the key as a plain env value into every Job spec), and basic-auth strings of
the Prefect charts come from an existing Secret, not from values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .core import Resource, resource_policy

RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET_PROPAGATION = ("secretRef", "autoSecret")
CLOUD_CONFIGS = {"cloud": "cloudApiConfig", "customerManagedCloud": "customerManagedCloudApiConfig"}


def _chart(res: Resource) -> str:
    return str(res.get("chart") or "").rstrip("/").rsplit("/", 1)[-1]


def _basic_auth(section: Any, path: str) -> Iterable[str]:
    auth = section.get("basicAuth") if isinstance(section, Mapping) else None
    if isinstance(auth, Mapping) and auth.get("enabled") and not auth.get("existingSecret"):
        yield f"{path}.basicAuth is enabled without existingSecret (the auth string would be a value)"


@resource_policy(
    "mlops-prefect-api-key-secret",
    types=[RELEASE],
    description="The Prefect worker reads its Prefect Cloud API key from a Secret and hands it to flow-run Jobs as a "
                "secretKeyRef, never as a plain value.",
    severity="high", pack="mlops-security", controls=("SOC2 CC6.1", "NIST 800-53 IA-5(7)"),
    remediation="Keep worker.cloudApiConfig.jobApiKeyPropagation at secretRef (orchestration.prefect.api.mode cloud "
                "with apiKeySecret, an integration secret), and basic auth through existingSecret.",
)
def prefect_api_key_secret(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    chart = _chart(res)
    values = res.get("values")
    if chart not in ("prefect-worker", "prefect-server") or not isinstance(values, Mapping):
        return
    if chart == "prefect-server":
        yield from _basic_auth(values.get("server"), "values.server")
        return
    raw_worker = values.get("worker")
    worker: Mapping[str, Any] = raw_worker if isinstance(raw_worker, Mapping) else {}
    section_name = CLOUD_CONFIGS.get(str(worker.get("apiConfig", "cloud")))
    if section_name is not None:
        raw_section = worker.get(section_name)
        section: Mapping[str, Any] = raw_section if isinstance(raw_section, Mapping) else {}
        propagation = section.get("jobApiKeyPropagation", "secretRef")
        if propagation not in SECRET_PROPAGATION:
            yield (f"values.worker.{section_name}.jobApiKeyPropagation is {propagation!r}: flow-run Jobs would carry "
                   "the API key as a plain env value")
    yield from _basic_auth(worker.get("selfHostedServerApiConfig"), "values.worker.selfHostedServerApiConfig")
