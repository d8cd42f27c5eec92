"""Family `probe-port` (#30, added from public issues): a probe's named port is a port of the probed container.

The kubelet resolves the port of an HTTP or TCP liveness, readiness or startup probe given as a name among the
ports the probed container declares, and only there (kubernetes pkg/probe/util.go `ResolveContainerPort` ->
`findPortByName(container, name)`, which returns `port "<name>" not found` otherwise). The API server accepts the
name (it only checks that it is a valid port name), so the mistake shows up at run time: the probe errors on every
period and never succeeds, and the pod never becomes Ready (readiness), is killed in a loop (liveness) or never
starts (startup). Public reports: jacksontj/promxy#372 (probes naming `web`, a port the container did not name),
kubernetes/kubernetes#139283 (an unresolved named probe port reported as Unknown, hiding "port not found"),
stackrox/kube-linter#455 (a check asked for because the API accepts the mistake). The common shapes: a typo, a port
renamed in one place, and a sidecar probing the main container's port name (the name is not looked up pod-wide).

`mlops-inv-probe-port` judges every container and native sidecar of every pod template (written or rendered).
A port given as a string that is not a valid port name (`"8080"`, `"HTTP"`) is flagged too: the API server rejects
the object at apply (validation `IsValidPortName`).
Lifecycle hooks: an httpGet postStart/preStop hook resolves a named port the same way, among the container's own
ports (kubernetes pkg/kubelet/lifecycle/handlers.go `resolvePort`: `couldn't find port`); a failed postStart hook
kills the container, a failed preStop hook skips the graceful shutdown step. A tcpSocket hook is never run ("TCPSocket
is NOT supported as a LifecycleHandler ... lifecycle hooks will fail at runtime", core/v1 LifecycleHandler).
Plain init containers (no `restartPolicy: Always`) may carry no probe and no lifecycle hook at all: the API server
refuses the object ("may not be set for init containers without restartPolicy=Always", kubernetes
pkg/apis/core/validation/validation.go validateInitContainers).
Not judged: numeric ports (a container may listen on a port it does not declare: declaring is informational),
gRPC probes (a number only), exec probes and hooks, and values unknown at preview.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .core import UNKNOWN, Resource, Stack, as_list, stack_policy
from .invariants_cluster import PACK
from .pod_model import PodTemplate, pods

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
PORT_NAME = re.compile(r"^[-a-z0-9]+$")


def port_name_errors(name: str) -> list[str]:
    """Why the API server rejects `name` as a port name (apimachinery validation `IsValidPortName`: 1-15 characters
    of [-a-z0-9], at least one letter, no leading/trailing or consecutive hyphens); empty when it is valid. A string
    of digits such as "8080" is not a number to the API: it is an invalid name."""
    errors = []
    if len(name) > 15:
        errors.append("longer than 15 characters")
    if not PORT_NAME.match(name):
        errors.append("characters other than a-z, 0-9 and '-'")
    if not re.search("[a-z]", name):
        errors.append("no letter (a-z)")
    if "--" in name or name.startswith("-") or name.endswith("-"):
        errors.append("a leading, trailing or doubled hyphen")
    return errors
Finding = tuple[Resource, str]


def _names(container: Mapping[str, Any]) -> set[str] | None:
    ports = container.get("ports")
    if ports is UNKNOWN:
        return None
    names = [p.get("name") for p in as_list(ports) if isinstance(p, Mapping)]
    return None if any(n is UNKNOWN for n in names) else {n for n in names if isinstance(n, str)}


def _port_finding(tpl: PodTemplate, container: Mapping[str, Any], own: set[str], containers: list[Mapping[str, Any]],
                  where: str, handler: str, port: Any, effect: str) -> Iterator[str]:
    """Why a named `port` of a probe or hook of `container` (`where`: "livenessProbe", "preStop hook") fails."""
    if not isinstance(port, str) or port is UNKNOWN:
        return
    invalid = port_name_errors(port)
    if invalid:
        fix = f"give the number {port} (an integer, not a string)" if port.isdigit() \
            else "name one of the container's ports"
        yield (f"{tpl.what}: container {container.get('name')}'s {where} ({handler}) gives port {port!r}, which is "
               f"not a valid port name ({'; '.join(invalid)}): the API server rejects the object at apply; {fix}")
        return
    if port in own:
        return
    elsewhere = sorted(str(c.get("name")) for c in containers if c is not container and port in (_names(c) or set()))
    also = f"; container {', '.join(elsewhere)} declares it, but the name is not looked up pod-wide" if elsewhere else ""
    yield (f"{tpl.what}: container {container.get('name')}'s {where} ({handler}) names port {port}, which the "
           f"container does not declare (its port names: {', '.join(sorted(own)) or 'none'}{also}): the kubelet "
           f"resolves a named port only among the container's own ports, so {effect}; name one of the container's "
           "ports or give the number")


PROBE_EFFECT = "the probe errors every period and never succeeds"
HOOK_EFFECT = {"postStart": "the hook fails and the kubelet kills the container (FailedPostStartHook), in a loop",
               "preStop": "the hook fails (FailedPreStopHook) and the container gets no graceful shutdown step"}


def _plain_init_findings(tpl: PodTemplate, container: Mapping[str, Any]) -> Iterator[str]:
    """A plain init container (no `restartPolicy: Always`) may carry no probe and no lifecycle hook."""
    for field in (*PROBES, "lifecycle"):
        if container.get(field) is not None:
            yield (f"{tpl.what}: init container {container.get('name')} sets {field}, which may not be set for init "
                   "containers without restartPolicy=Always: the API server rejects the object at apply; remove it, "
                   "or make the container a native sidecar (restartPolicy: Always)")


def probe_findings(tpl: PodTemplate) -> Iterator[str]:
    spec = tpl.spec
    inits = [c for c in as_list(spec.get("initContainers")) if isinstance(c, Mapping)]
    for init in inits:
        if init.get("restartPolicy") not in ("Always", UNKNOWN):
            yield from _plain_init_findings(tpl, init)
    containers = [c for c in as_list(spec.get("containers")) if isinstance(c, Mapping)] + [
        c for c in inits if c.get("restartPolicy") == "Always"]
    for container in containers:
        own = _names(container)
        if own is None:
            continue
        for kind in PROBES:
            probe = container.get(kind)
            for handler in ("httpGet", "tcpSocket"):
                action = probe.get(handler) if isinstance(probe, Mapping) else None
                if isinstance(action, Mapping):
                    yield from _port_finding(tpl, container, own, containers, kind, handler, action.get("port"),
                                             PROBE_EFFECT)
        lifecycle = container.get("lifecycle")
        for hook in ("postStart", "preStop"):
            handler_spec = lifecycle.get(hook) if isinstance(lifecycle, Mapping) else None
            if not isinstance(handler_spec, Mapping):
                continue
            if isinstance(handler_spec.get("tcpSocket"), Mapping):
                yield (f"{tpl.what}: container {container.get('name')}'s {hook} hook uses tcpSocket, which the kubelet "
                       f"does not run (only exec, httpGet and sleep): {HOOK_EFFECT[hook]}; use httpGet or exec")
            action = handler_spec.get("httpGet")
            if isinstance(action, Mapping):
                yield from _port_finding(tpl, container, own, containers, f"{hook} hook", "httpGet",
                                         action.get("port"), HOOK_EFFECT[hook])


@stack_policy(
    "mlops-inv-probe-port",
    description="Every HTTP/TCP liveness, readiness and startup probe, and every httpGet lifecycle hook, that names "
                "its port names a port of the container itself (the kubelet does not look the name up in other "
                "containers); otherwise the probe never succeeds (pod never Ready, restarted, or never started) or the "
                "hook fails. A plain init container carries no probe or hook (the API server refuses them).",
    severity="high", pack=PACK, controls=("SOC2 A1.1",),
    remediation="Name one of the container's own ports in the probe or hook (or declare the port on that container), "
                "or give the port number; move probes and hooks off plain init containers (or make them native "
                "sidecars).",
)
def probe_port(stack: Stack, config: Mapping[str, Any]) -> Iterable[Finding]:
    for tpl in pods(stack).templates:
        for message in probe_findings(tpl):
            yield tpl.res, message
