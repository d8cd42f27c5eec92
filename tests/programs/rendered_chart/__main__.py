"""A plain Pulumi program (not the library) with Helm releases, one per stack (config `demo:case`):
- `ok`: a chart from the chart store (tests/data/chart-store/demo-exporter), hardened values, in a `restricted`
  namespace;
- `privileged`: the same release whose values make the chart's container privileged;
- `unstored`: a release of a chart version the store does not hold;
- `auto-named`: the same release with no explicit name (pulumi-kubernetes generates `<name>-<8 hex>`)."""

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
k8s.helm.v3.Release("demo", **chart, name=None if case == "auto-named" else "demo",
                    namespace="metrics", values=values,
                    opts=pulumi.ResourceOptions(provider=provider, depends_on=[ns]))
