"""mlops-helm-release-rendered: a release or kustomize Directory with no rendered objects is a blind spot."""

from __future__ import annotations

from .cases import Case, check, params
from .helpers import R

RELEASE = "kubernetes:helm.sh/v3:Release"
DIRECTORY = "kubernetes:kustomize/v2:Directory"
POLICY = "mlops-helm-release-rendered"


def release(name: str, chart: str = "prometheus-pushgateway", version: str = "3.8.0") -> R:
    return R(RELEASE, name, {"chart": chart, "version": version, "name": name, "namespace": "metrics"})


def rendered(name: str, parent: str) -> R:
    return R("kubernetes:apps/v1:Deployment", name, {"apiVersion": "apps/v1", "kind": "Deployment",
                                                    "metadata": {"name": name, "namespace": "metrics"}}, parent=parent)


RENDERING = [
    Case("every-release-rendered", POLICY, [release("a"), rendered("a-dep", "a"), release("b"),
                                            rendered("b-dep", "b")], []),
    Case("unstored-release", POLICY, [release("a"), rendered("a-dep", "a"), release("b", "lakefs", "1.12.16")],
         ["b: chart lakefs 1.12.16 was not rendered (not in the chart store, no explicit release name, or the "
          "engine refused it): its objects are invisible to every check"]),
    Case("unrendered-directory", POLICY, [release("a"), rendered("a-dep", "a"),
                                          R(DIRECTORY, "kfp", {"directory": "manifests/kfp"})],
         ["kfp: kustomization manifests/kfp was not rendered (not in the chart store, no explicit release name, or "
          "the engine refused it): its objects are invisible to every check"]),
    # A plan that was not rendered at all (pulumi preview, or the library API without render): not applicable.
    Case("plan-not-rendered", POLICY, [release("a"), release("b")], []),
]


@params(RENDERING)
def test_rendering(case: Case) -> None:
    check(case)
