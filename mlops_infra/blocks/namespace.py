"""The namespace block: one way to create a namespace, with its Pod Security Admission level and labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import pulumi
import pulumi_kubernetes as k8s

from .naming import child_options

PodSecurityLevel = Literal["restricted", "baseline", "privileged"]
PSA = "pod-security.kubernetes.io"
PLATFORM_CLIENT_LABEL = "mlops.io/platform-client"
"""A namespace labelled `<this>: "true"` is admitted like a platform team by the ingress NetworkPolicies of the
services that admit every team (MLflow, LakeFS, Qdrant, serving): a team workspace's namespace in another stack."""
PLATFORM_CLIENT: dict[str, str] = {PLATFORM_CLIENT_LABEL: "true"}


def namespace_labels(level: PodSecurityLevel, labels: Mapping[str, str] | None = None) -> dict[str, str]:
    """`enforce` at `level`; below restricted, `warn` and `audit` still report what restricted would reject."""
    out = {f"{PSA}/enforce": level, "app.kubernetes.io/part-of": "mlops-platform"}
    if level != "restricted":
        out |= {f"{PSA}/warn": "restricted", f"{PSA}/audit": "restricted"}
    return {**out, **dict(labels or {})}


def namespace(resource_name: str, owner: pulumi.Resource, name: str, *, level: PodSecurityLevel = "restricted",
              labels: Mapping[str, str] | None = None, existing: Mapping[str, pulumi.Input[str]] | None = None,
              provider: pulumi.ProviderResource | None = None) -> pulumi.Output[str]:
    """The namespace `name`: taken from `existing` (e.g. `ClusterRefs.namespaces`) if there, never created twice;
    else created with `level` enforced (default restricted). Returns its name as an Output that depends on it."""
    if existing is not None and name in existing:
        return pulumi.Output.from_input(existing[name])
    ns = k8s.core.v1.Namespace(resource_name, metadata={"name": name, "labels": namespace_labels(level, labels)},
                               opts=child_options(owner, provider=provider))
    return ns.metadata.apply(lambda m: str(m["name"] if isinstance(m, dict) else m.name))
