"""Placement family, Pod Security Admission: a namespace that enforces the `restricted` level and a CronJob applied
from a manifest file with `kubernetes.yaml.ConfigFile`, hardened by a Pulumi transformation (the manifest is shared
with other clusters; the platform team adds the security context here).

bad: the transformation sets seccomp, drops all capabilities and forbids privilege escalation but not
runAsNonRoot (the author relied on runAsUser 10001); `restricted` rejects the Job's pods at admission, so the
nightly validation never starts."""

from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")

ns = k8s.core.v1.Namespace("validation", metadata={"name": "validation", "labels": {
    "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"}})
sa = k8s.core.v1.ServiceAccount("data-validation", metadata={"name": "data-validation", "namespace": "validation"},
                                automount_service_account_token=False, opts=pulumi.ResourceOptions(depends_on=[ns]))


def harden(obj: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
    if obj.get("kind") != "CronJob":
        return
    pod = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    pod["securityContext"] = {"seccompProfile": {"type": "RuntimeDefault"}, "runAsUser": 10001}
    if variant == "good":
        pod["securityContext"]["runAsNonRoot"] = True
    for container in pod["containers"]:
        container["securityContext"] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                        "readOnlyRootFilesystem": True}


k8s.yaml.ConfigFile("data-validation", file=str(Path(__file__).parent / "data-validation.yaml"),
                    transformations=[harden], opts=pulumi.ResourceOptions(depends_on=[ns, sa]))
