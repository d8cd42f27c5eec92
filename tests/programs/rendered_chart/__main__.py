"""A plain Pulumi program (not the library) with Helm releases, one per stack (config `demo:case`):
- `ok`: a chart from the chart store (tests/data/chart-store/demo-exporter), hardened values, in a `restricted`
  namespace;
- `privileged`: the same release whose values make the chart's container privileged;
- `unstored`: a release of a chart version the store does not hold;
- `auto-named`: the same release with no explicit name (pulumi-kubernetes generates `<name>-<8 hex>`);
- `value-files`: the `ok` release with a values file that makes the container privileged."""

import pulumi
import pulumi_kubernetes as k8s

case = pulumi.Config("demo").require("case")
provider = k8s.Provider("cluster", kubeconfig="{}")
opts = pulumi.ResourceOptions(provider=provider)
ns = k8s.core.v1.Namespace("metrics", metadata={"name": "metrics", "labels": {
    "pod-security.kubernetes.io/enforce": "restricted"}}, opts=opts)
hardened = {"runAsNonRoot": True, "runAsUser": 65534, "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"}}
values = {"containerSecurityContext": hardened, "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                                                              "limits": {"memory": "64Mi"}}}
if case == "privileged":
    values["containerSecurityContext"] = {**hardened, "privileged": True}
chart = {"chart": "demo-exporter", "version": "1.0.0" if case != "unstored" else "0.9.0",
         "repository_opts": {"repo": "https://charts.example.test"}}
# `value-files`: the privileged values come from a values file and an in-memory YAML asset (Helm merges files first,
# then `values` on top: pulumi-kubernetes helm_release.go decodeRelease).
files = None
if case == "value-files":
    files = [pulumi.FileAsset("privileged-values.yaml"), pulumi.StringAsset("resources:\n  limits:\n    memory: 32Mi\n")]
k8s.helm.v3.Release("demo", **chart, name=None if case == "auto-named" else "demo",
                    namespace="metrics", values=values, value_yaml_files=files,
                    opts=pulumi.ResourceOptions(provider=provider, depends_on=[ns]))
