"""GpuSoftware: the NVIDIA device plugin or GPU operator (driver and toolkit off: the NVIDIA AMIs ship both), and
the EFA device plugin when a pool uses EFA. Pinned Helm releases that tolerate the pools' taints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..blocks.cluster_add_ons import claim
from ..blocks.helm import PinnedChart, release
from ..blocks.namespace import namespace as ns_block
from ..blocks.naming import child, retyped
from ..blocks.platform_facts import occupied_namespace_problems
from ..blocks.refs import ClusterRefs, refuse
from ..config import versions
from .gpu_config import GpuPlatformConfig, GpuPoolConfig

DEVICE_PLUGIN_HARDENING: dict[str, Any] = {
    # nvidia-device-plugin 0.18.2: `securityContext` replaces the chart's default (no escalation, drop ALL) for the
    # plugin container, so it restates it. Its state is the kubelet's device-plugins dir, /var/run/cdi, /mps and
    # /dev/shm, all mounted, so the root filesystem is read-only. Root stays: the kubelet's socket dir is root's.
    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                        "readOnlyRootFilesystem": True, "seccompProfile": {"type": "RuntimeDefault"}},
    # Pod-level, so the MPS control daemon's pods carry it too; its containers, which the chart hard-codes privileged
    # (waived), run unconfined all the same: Kubernetes applies no seccomp profile to a privileged container.
    "podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
    # `resources` is every container's: the plugin's and the MPS control daemon's (and its mount init container).
    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "256Mi"}},
}
"""The NVIDIA device plugin's values beyond placement (its remaining findings are waived in policies/config)."""

def efa_plugin_values(read_only_root: bool) -> dict[str, Any]:
    """The EFA device plugin's values beyond placement. `read_only_root`: `gpu.efaPluginReadOnlyRoot`."""
    return {
        # aws-efa-k8s-device-plugin 0.5.30 renders `securityContext` as is. Its defaults are restated (Helm would keep
        # them anyway; stated, the release shows them): privileged, root and escalation (the plugin opens the
        # /dev/infiniband devices; waived in policies/config). Neither of the two fields added confines a privileged
        # container: Kubernetes applies no seccomp profile to one, and it holds CAP_SYS_ADMIN, so it could remount its
        # root read-write. They state intent and make an accidental write fail. Its only expected write is its socket
        # in the mounted kubelet device-plugins dir, which its image's source (not published) cannot confirm: see
        # docs/troubleshooting.md for the check on the first EFA node, and `gpu.efaPluginReadOnlyRoot` to turn it off.
        "securityContext": {"privileged": True, "allowPrivilegeEscalation": True, "runAsNonRoot": False,
                            "runAsUser": 0, "readOnlyRootFilesystem": read_only_root,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "resources": {"requests": {"cpu": "10m", "memory": "20Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
    }


def tolerations(pools: Sequence[GpuPoolConfig]) -> list[dict[str, Any]]:
    """One toleration per distinct pool taint (key + effect, any value), plus the default GPU taint."""
    seen = {("nvidia.com/gpu", "NoSchedule")}
    seen |= {(p.taint.key, p.taint.k8s_effect) for p in pools if p.taint is not None}
    return [{"key": key, "operator": "Exists", "effect": effect} for key, effect in sorted(seen)]


def installs_efa_plugin(config: GpuPlatformConfig, pools: Sequence[GpuPoolConfig]) -> bool:
    """`gpu.efaPlugin` when set, else whether a pool uses EFA."""
    return config.efa_plugin if config.efa_plugin is not None else any(p.efa for p in pools)


@dataclass(frozen=True)
class GpuSoftwareArgs:
    config: GpuPlatformConfig
    pools: Sequence[GpuPoolConfig]
    cluster: ClusterRefs
    """The cluster the plugins run on; every Kubernetes child binds to its provider (`cluster.bind`)."""
    labels: dict[str, str] = field(default_factory=lambda: {"app.kubernetes.io/part-of": "mlops-platform"})
    """Labels on the namespace. Default: app.kubernetes.io/part-of=mlops-platform."""


class GpuSoftware(pulumi.ComponentResource):
    """Kubernetes children bind to `args.cluster`'s provider."""

    release: k8s.helm.v3.Release
    efa_release: k8s.helm.v3.Release | None

    def __init__(self, name: str, args: GpuSoftwareArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        claim(args.cluster, "gpuSoftware", name)  # a cluster runs one: refused when it already does
        super().__init__("mlops:compute:GpuSoftware", name, None,
                         retyped(args.cluster.bind(opts), "mlops:gpu:GpuSoftware"))
        cfg = args.config
        refuse(name, occupied_namespace_problems([cfg.namespace], args.cluster))
        # The device plugins mount host paths (kubelet sockets): privileged by design, so only they live here.
        namespace = ns_block(child(name, "ns"), self, cfg.namespace, level="privileged", labels=args.labels)
        tol = tolerations(args.pools)
        if cfg.software == "devicePlugin":
            chart = PinnedChart(versions.DEVICE_PLUGIN.chart, versions.DEVICE_PLUGIN.repo, cfg.device_plugin_version)
            values: dict[str, Any] = {"tolerations": [*tol, {"key": "CriticalAddonsOnly", "operator": "Exists"}],
                                      "nodeSelector": {"nvidia.com/gpu.present": "true"},
                                      "priorityClassName": "system-node-critical", **DEVICE_PLUGIN_HARDENING}
        else:
            chart = PinnedChart(versions.GPU_OPERATOR.chart, versions.GPU_OPERATOR.repo, cfg.gpu_operator_version)
            # dcgmExporter off (the chart's default is on): the platform's MonitoringCore runs its own dcgm-exporter
            # with the counters its alerts read, so the operator's would be a second exporter per GPU node.
            values = {"driver": {"enabled": False}, "toolkit": {"enabled": False}, "dcgmExporter": {"enabled": False},
                      "daemonsets": {"tolerations": tol, "priorityClassName": "system-node-critical"},
                      "node-feature-discovery": {"worker": {"tolerations": tol}}}
        self.release = release(child(name, cfg.software.lower()), chart, parent=self, namespace=namespace,
                               values=values)
        self.efa_release = None
        if installs_efa_plugin(cfg, args.pools):
            self.efa_release = release(
                child(name, "efa"), PinnedChart(versions.EFA_PLUGIN.chart, versions.EFA_PLUGIN.repo,
                                                cfg.efa_plugin_version),
                parent=self, namespace=namespace,
                values={"tolerations": tol, "nodeSelector": {"vpc.amazonaws.com/efa.present": "true"},
                        **efa_plugin_values(cfg.efa_plugin_read_only_root)})
        self.register_outputs({"releaseName": self.release.name})
