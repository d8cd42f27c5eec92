"""mlops-helm-release-rendered: a release or kustomize Directory the plan did not render is a blind spot."""

from __future__ import annotations

from typing import Any

from .cases import Case, check, params
from .helpers import R, urn

RELEASE = "kubernetes:helm.sh/v3:Release"
DIRECTORY = "kubernetes:kustomize/v2:Directory"
POLICY = "mlops-helm-release-rendered"


def release(name: str, chart: str = "prometheus-pushgateway", version: str = "3.8.0") -> R:
    return R(RELEASE, name, {"chart": chart, "version": version, "name": name, "namespace": "metrics"})


def entry(res: R, status: str, detail: str = "", objects: int = 0) -> dict[str, Any]:
    """One line of the plan's `rendering` list, as plan_program(render=True) writes it."""
    chart = f"{res.inputs.get('chart')} {res.inputs.get('version')}" if res.type == RELEASE else "kustomize kfp"
    return {"urn": urn(res.type, res.name), "name": res.name, "status": status, "detail": detail,
            "objects": objects, "chart": chart}


A, B = release("a"), release("b", "lakefs", "1.12.16")
KFP = R(DIRECTORY, "kfp", {"directory": "manifests/kfp"})

RENDERING = [
    Case("every-release-rendered", POLICY, [A, B], [],
         config={"rendering": [entry(A, "rendered", objects=3), entry(B, "rendered", objects=9)]}),
    Case("unstored-release", POLICY, [A, B],
         ["b: lakefs 1.12.16 was not rendered (unrendered: chart lakefs 1.12.16 from https://charts.lakefs.io is "
          "not in the chart store): the objects it installs are invisible to every check"],
         config={"rendering": [entry(A, "rendered", objects=3), entry(
             B, "unrendered", "chart lakefs 1.12.16 from https://charts.lakefs.io is not in the chart store")]}),
    Case("engine-refused", POLICY, [A],
         ["a: prometheus-pushgateway 3.8.0 was not rendered (failed: HelmRenderError: values don't meet the specs "
          "of the schema): the objects it installs are invisible to every check"],
         config={"rendering": [entry(A, "failed", "HelmRenderError: values don't meet the specs of the schema")]}),
    Case("remote-kustomize-base", POLICY, [A, KFP],
         ["kfp: kustomize kfp was not rendered (unrendered: remote kustomize bases cannot be rendered offline: "
          "https://github.com/kubeflow/pipelines//manifests?ref=2.17.0): the objects it installs are invisible to "
          "every check"],
         config={"rendering": [entry(A, "rendered", objects=3), entry(
             KFP, "unrendered", "remote kustomize bases cannot be rendered offline: "
             "https://github.com/kubeflow/pipelines//manifests?ref=2.17.0")]}),
    # Advisory in dev (standard strictness): the finding is still reported.
    Case("dev-advisory", POLICY, [B], ["b: lakefs 1.12.16 was not rendered (unrendered: not stored): the objects "
                                       "it installs are invisible to every check"],
         env="dev", config={"rendering": [entry(B, "unrendered", "not stored")]}),
    # A plan that was not rendered at all (pulumi preview, or the library API without render): not applicable.
    Case("plan-not-rendered", POLICY, [A, B], []),
]


@params(RENDERING)
def test_rendering(case: Case) -> None:
    check(case)
