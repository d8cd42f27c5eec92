"""Prefect config: a Kubernetes worker and work pool, against a self-hosted Prefect server (on the Postgres block) or
Prefect Cloud (API key through External Secrets). The API is a discriminated union on `mode`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from ..config.base import ConfigModel, Problem
from ..config.database import DatabaseConfig
from ..config.types import ChartVersion, K8sName

# PrefectHQ/prefect-helm, tag 2026.8.18172642 (charts/prefect-worker and charts/prefect-server): the chart version
# is the release tag (Chart.yaml reads 0.0.0; the release job stamps it).
PREFECT_REPO = "https://prefecthq.github.io/prefect-helm"
PREFECT_SERVER_PORT = 4200
"""`service.port` of the prefect-server chart."""
PREFECT_KUBERNETES_VERSION = "0.8.0"
"""The worker package (in the `-kubernetes` images) whose job configuration the base job template follows
(prefect_job_template.py; .ci/venvs/prefect.sh installs it for tests/integration/test_prefect.py)."""
PREFECT_UID = 1001
"""The non-root user the charts run Prefect images as (`podSecurityContext.runAsUser`)."""
Uuid = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]


class PrefectServerConfig(ConfigModel):
    """A self-hosted Prefect server (prefect-server chart) on RDS Postgres."""

    mode: Literal["selfHosted"] = Field("selfHosted", description="Self-hosted server. Default: selfHosted.")
    chart_version: ChartVersion = Field("2026.8.18172642", description="prefect-server chart version. "
                                        "Default: 2026.8.18172642.")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig, description="The server's Postgres (RDS).")


class PrefectCloudConfig(ConfigModel):
    """Prefect Cloud: the worker polls the workspace with an API key that only a Kubernetes Secret carries."""

    mode: Literal["cloud"] = Field(..., description="Prefect Cloud. Required for this variant.")
    account_id: Uuid = Field(..., description="Prefect Cloud account id. Required.")
    workspace_id: Uuid = Field(..., description="Prefect Cloud workspace id. Required.")
    api_key_secret: K8sName = Field(
        ..., description="The API key's integration secret (securityBaseline.integrationSecrets[].name, granted "
        "to the Prefect namespace): External Secrets syncs it from Secrets Manager into a Secret of that name; the "
        "key is never a value. Required.")


PrefectApi = Annotated[PrefectServerConfig | PrefectCloudConfig, Field(discriminator="mode")]


class PrefectConfig(ConfigModel):
    """Prefect: a Kubernetes worker (prefect-worker chart) serving one work pool; flow runs are Kubernetes Jobs."""

    enabled: bool = Field(False, description="Deploy the Prefect worker (and the server when selfHosted). "
                          "Default: false.")
    namespace: K8sName = Field("prefect", description="Namespace of the worker, the server and flow-run Jobs. "
                               "Default: prefect.")
    version: str = Field("3.9.1", pattern=r"^\d+\.\d+\.\d+$",
                         description="Prefect version of the worker, server and flow-run images. Default: 3.9.1.")
    python_version: Literal["3.10", "3.11", "3.12", "3.13"] = Field(
        "3.12", description="Python of the Prefect images (`prefecthq/prefect:<version>-python<python>`). "
        "Default: 3.12.")
    worker_chart_version: ChartVersion = Field("2026.8.18172642", description="prefect-worker chart version. "
                                               "Default: 2026.8.18172642.")
    api: PrefectApi = Field(default_factory=PrefectServerConfig,
                            description="Where the worker gets work: selfHosted (default) or cloud.")
    work_pool: K8sName = Field("kubernetes", description="Work pool name. Default: kubernetes.")
    job_cpu: str = Field("1", pattern=r"^\d+(\.\d+)?m?$", description="Flow-run CPU (request = limit). Default: 1.")
    job_memory: str = Field("4Gi", pattern=r"^\d+(Mi|Gi)$", description="Flow-run memory (request = limit). "
                            "Default: 4Gi.")
    gpu_pool: K8sName | None = Field(
        None, description="GPU pool (gpuPools[].name) flow runs land on by default (node selector). Default: none "
        "(every GPU pool's taint is tolerated; a deployment picks a pool with `node_selector` and GPUs with "
        "`gpu_limit` job variables).")

    @property
    def image(self) -> str:
        return f"prefecthq/prefect:{self.version}-python{self.python_version}"

    @property
    def worker_image_tag(self) -> str:
        """`worker.image.prefectTag`: the image with the prefect-kubernetes worker installed."""
        return f"{self.version}-python{self.python_version}-kubernetes"



def prefect_problems(cfg: PrefectConfig, *, gpu_pools: Iterable[str],
                     integration_secrets: Mapping[str, Iterable[str]]) -> Iterable[Problem]:
    """Checks across concerns (paths relative to the orchestration config's `prefect`). `integration_secrets`:
    securityBaseline.integrationSecrets as {name: namespaces}."""
    if not cfg.enabled:
        return
    pools = set(gpu_pools)
    if cfg.gpu_pool is not None and cfg.gpu_pool not in pools:
        yield "gpuPool", f"unknown GPU pool {cfg.gpu_pool!r} (known: {', '.join(sorted(pools)) or 'none'})"
    if isinstance(cfg.api, PrefectCloudConfig):
        granted = integration_secrets.get(cfg.api.api_key_secret)
        if granted is None:
            yield "api.apiKeySecret", (f"no integration secret {cfg.api.api_key_secret!r} (add it to "
                                       "securityBaseline.integrationSecrets: the key comes only from a Secret)")
        elif cfg.namespace not in set(granted):
            yield "api.apiKeySecret", f"integration secret {cfg.api.api_key_secret!r} is not granted to {cfg.namespace!r}"
