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


RENDERING_CONFIG: dict[str, dict[str, Any]] = {
    "rendering": {"type": ["array", "null"], "default": None,
                  "description": "Set by `mlops-infra check`: what the plan rendered, one entry per release or "
                                 "Directory (urn, name, chart, status, objects, detail). Absent under pulumi "
                                 "preview, where nothing is rendered and this policy does not apply."},
}


@stack_policy(
    "mlops-helm-release-rendered",
    description="Every Helm release and kustomize Directory is rendered at its pin from the chart store, so the "
                "pods, Services, security contexts and custom resources it installs are judged like the program's "
                "own objects. An unrendered release is a blind spot: advisory in dev, mandatory elsewhere.",
    severity="medium", pack="mlops-invariants",
    controls=("SOC2 CC8.1",),
    remediation="Fill the chart store: `mlops-infra charts pull` (with `--mirror` where github.com is unreachable) "
                "stores every locked chart, verified against the lock's digest, and replaces a stored copy that was "
                "refused; a chart the lock lacks cannot be pulled (the message says so). Or fix what the engine "
                "refused (the message carries its words).",
    config=RENDERING_CONFIG,
)
def release_rendered(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    rendering = config.get("rendering")
    if not rendering:
        raise NotApplicable("the plan was not rendered (pulumi preview, or plan_program(render=False))")
    for entry in rendering:
        res = stack.by_urn.get(str(entry.get("urn")))
        if res is None or entry.get("status") == "rendered":
            continue
        yield res, f"{entry.get('chart')} was not rendered ({entry.get('status')}: {entry.get('detail')}): " \
                   f"the objects it installs are invisible to every check"
