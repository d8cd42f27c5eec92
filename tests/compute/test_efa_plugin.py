"""Every instance type the catalogue marks EFA-capable, and that a pool may use with `efa: true`, gets the EFA device
plugin: the DaemonSet rendered from the pinned chart (aws-efa-k8s-device-plugin lists instance types in its node
affinity; 0.5.6 left out p5.4xlarge, p6-b200.48xlarge and g7e) is schedulable on a node of such a pool."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.compute.gpu_config import AMI_ARCH, GpuPlatformConfig, GpuPoolConfig
from mlops_infra.compute.gpu_software import efa_plugin_values, installs_efa_plugin
from mlops_infra.config.instances import GPU_INSTANCES
from tests.conftest import planned
from tests.nonempty import each
from tests.scheduling import node_taints, schedulable

pytestmark = pytest.mark.charts("aws-efa-k8s-device-plugin")

RELEASE = "mlops-prod-gpu-software-efa"
K8S_ARCH = {"x86_64": "amd64", "arm64": "arm64"}


def efa_pool(itype: str) -> GpuPoolConfig | None:
    """A pool of `itype` with efa, or None when config refuses it."""
    ami = next(a for a, arch in AMI_ARCH.items() if arch == GPU_INSTANCES[itype].arch and a.startswith("AL2023"))
    pool = GpuPoolConfig.model_validate({"name": "p", "instanceTypes": [itype], "maxSize": 1, "efa": True,
                                         "amiType": ami})
    return None if list(pool.problems()) else pool


def efa_daemonset() -> dict[str, Any]:
    inv = planned("prod", render=True)
    assert {e["name"]: e["status"] for e in inv.rendering}[RELEASE] == "rendered"
    (spec,) = [r.inputs["spec"]["template"]["spec"] for r in inv.rendered()
               if r.type == "kubernetes:apps/v1:DaemonSet" and r.parent.endswith(f"::{RELEASE}")]
    return dict(spec)


def test_every_efa_instance_type_config_allows_gets_the_efa_device_plugin() -> None:
    allowed = {t: pool for t in sorted(GPU_INSTANCES) if GPU_INSTANCES[t].efa and (pool := efa_pool(t)) is not None}
    assert {"p5.4xlarge", "p6-b200.48xlarge", "g7e.8xlarge", "p5.48xlarge"} <= set(allowed)
    spec = efa_daemonset()
    refused = []
    for itype, pool in each(allowed.items()):
        assert installs_efa_plugin(GpuPlatformConfig(), [pool])  # the platform installs it for such a pool
        node = {**pool.node_labels, "node.kubernetes.io/instance-type": itype, "kubernetes.io/os": "linux",
                "kubernetes.io/arch": K8S_ARCH[pool.arch]}
        taints = node_taints([{"key": pool.taint.key, "value": pool.taint.value, "effect": pool.taint.effect}]
                             if pool.taint else [])
        if not schedulable(spec, node, taints):
            refused.append(itype)
    assert refused == []


def test_the_affinity_is_not_open_to_any_node() -> None:
    """The relation above can fail: a non-EFA GPU node of an EFA-labelled pool is refused by the chart's list."""
    node = {"vpc.amazonaws.com/efa.present": "true", "node.kubernetes.io/instance-type": "g6.xlarge",
            "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
    assert not schedulable(efa_daemonset(), node, [])



def test_the_read_only_root_is_on_by_default_and_one_setting_turns_it_off() -> None:
    """Unverifiable offline (the image's source is not published): `gpu.efaPluginReadOnlyRoot: false` is the way
    out docs/troubleshooting.md names. The plugin stays privileged either way, which is why the waivers claim no
    confinement from its read-only root or seccomp."""
    (container,) = efa_daemonset()["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["privileged"] is True
    off = GpuPlatformConfig.model_validate({"efaPluginReadOnlyRoot": False})
    assert efa_plugin_values(off.efa_plugin_read_only_root)["securityContext"]["readOnlyRootFilesystem"] is False
    assert efa_plugin_values(GpuPlatformConfig().efa_plugin_read_only_root)["securityContext"][
        "readOnlyRootFilesystem"] is True
