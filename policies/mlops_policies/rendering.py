"""What the cluster receives from charts: every Helm release and kustomize Directory is rendered at its pin.

`mlops-infra check` renders each `kubernetes:helm.sh/v3:Release` whose chart is in the chart store (and each
`kubernetes:kustomize/v2:Directory`) and adds the objects as children of the release, so every other policy and
invariant judges them like objects the program writes itself. A release that did not render (chart not stored, or
the engine refused it) hides its pods, Services and security contexts from every check: that is a finding.
Under `pulumi preview --policy-pack` nothing is rendered (the engine does not expose a release's objects to
policies), so this rule applies only where rendering ran (`mlops-infra check`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .core import NotApplicable, Resource, Stack, stack_policy

RELEASE = "kubernetes:helm.sh/v3:Release"
DIRECTORY = "kubernetes:kustomize/v2:Directory"
RENDERED_BY = (RELEASE, DIRECTORY)


def rendered_children(stack: Stack) -> dict[str, list[Resource]]:
    """Release or Directory URN -> the objects rendered from it (resources whose parent it is)."""
    sources = {r.urn for r in stack.resources if r.type in RENDERED_BY}
    found: dict[str, list[Resource]] = {urn: [] for urn in sources}
    for res in stack.resources:
        if res.parent in found:
            found[res.parent].append(res)
    return found


def is_rendered(stack: Stack, res: Resource) -> bool:
    """Whether `res` came from a chart or kustomize base rather than from the program itself."""
    parent = stack.by_urn.get(res.parent or "")
    return parent is not None and parent.type in RENDERED_BY


def kubelet_services(resources: Iterable[Resource]) -> Iterator[tuple[str, str]]:
    """(namespace, name) of the kubelet Service each (rendered) prometheus-operator keeps: its `--kubelet-service`."""
    for res in resources:
        if res.type != "kubernetes:apps/v1:Deployment":
            continue
        for container in res.get("spec", "template", "spec", "containers") or []:
            for arg in container.get("args") or [] if isinstance(container, Mapping) else []:
                if isinstance(arg, str) and arg.startswith("--kubelet-service="):
                    ns, _, name = arg.removeprefix("--kubelet-service=").partition("/")
                    yield ns, name


@stack_policy(
    "mlops-helm-release-rendered",
    description="Every Helm release and kustomize Directory is rendered at its pin from the chart store, so the "
                "pods, Services, security contexts and custom resources it installs are judged like the program's "
                "own objects. An unrendered release is a blind spot: advisory in dev, mandatory elsewhere.",
    severity="medium", pack="mlops-invariants",
    controls=("SOC2 CC8.1",),
    remediation="Vendor the chart at the pinned version with tools/vendor_chart.py (README: 'Rendering what the "
                "cluster receives'), give the release an explicit name, or fix the values the engine refused "
                "(`mlops-infra plan` prints the engine's message per release).",
)
def release_rendered(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    children = rendered_children(stack)
    if not any(children.values()):
        # Nothing rendered at all: this run did not render (pulumi preview, or plan_program(render=False)).
        raise NotApplicable("the plan was not rendered")
    for urn, objects in sorted(children.items()):
        if objects:
            continue
        res = stack.by_urn[urn]
        what = (f"chart {res.get('chart')} {res.get('version')}" if res.type == RELEASE
                else f"kustomization {res.get('directory')}")
        yield res, (f"{what} was not rendered (not in the chart store, no explicit release name, or the engine "
                    f"refused it): its objects are invisible to every check")
