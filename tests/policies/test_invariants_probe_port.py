"""Family `probe-port`: a probe's named port is a port of the probed container itself."""

from __future__ import annotations

from typing import Any

from .helpers import R, messages

PP = "mlops-inv-probe-port"


def container(name: str, ports: list[dict[str, Any]] | None = None, **probes: Any) -> dict[str, Any]:
    return {"name": name, "image": "i", **({"ports": ports} if ports is not None else {}), **probes}


def deploy(*containers: dict[str, Any], init: list[dict[str, Any]] | None = None,
           type_: str = "kubernetes:apps/v1:Deployment") -> R:
    spec: dict[str, Any] = {"containers": list(containers), **({"initContainers": init} if init else {})}
    return R(type_, "api", {"metadata": {"name": "api", "namespace": "app"},
                            "spec": {"template": {"metadata": {"labels": {"app": "api"}}, "spec": spec}}})


HTTP = [{"name": "http", "containerPort": 8080}]


def http(port: Any) -> dict[str, Any]:
    return {"httpGet": {"path": "/healthz", "port": port}}


def test_a_named_probe_port_must_be_one_of_the_containers_ports() -> None:
    assert messages(PP, deploy(container("c", HTTP, livenessProbe=http("http")))) == []
    found = messages(PP, deploy(container("c", [{"name": "web", "containerPort": 8080}],
                                          livenessProbe=http("http"), readinessProbe=http("http"))))
    assert len(found) == 2, found
    assert "container c's livenessProbe (httpGet) names port http" in found[0] and "(its port names: web)" in found[0]
    startup = {"tcpSocket": {"port": "grpc"}}
    found = messages(PP, deploy(container("c", [{"name": "grpc-api", "containerPort": 50051}], startupProbe=startup)))
    assert len(found) == 1 and "startupProbe (tcpSocket) names port grpc" in found[0]
    assert messages(PP, deploy(container("c", None, readinessProbe=http("http")))) != []  # no ports at all


def test_the_name_is_not_looked_up_in_other_containers() -> None:
    found = messages(PP, deploy(container("server", HTTP), container("exporter", [], livenessProbe=http("http"))))
    assert len(found) == 1 and "container exporter's" in found[0] and "container server declares it" in found[0]
    sidecar = container("proxy", [], restartPolicy="Always", readinessProbe=http("http"))
    assert messages(PP, deploy(container("server", HTTP), init=[sidecar])) != []  # native sidecars are probed too
    ok_sidecar = container("proxy", HTTP, restartPolicy="Always", readinessProbe=http("http"))
    assert messages(PP, deploy(container("server", []), init=[ok_sidecar])) == []


def test_numbers_grpc_and_exec_are_not_judged() -> None:
    assert messages(PP, deploy(container("c", [], livenessProbe=http(9999)))) == []  # may listen undeclared
    assert messages(PP, deploy(container("c", [], livenessProbe={"grpc": {"port": 9090}}))) == []
    assert messages(PP, deploy(container("c", [], livenessProbe={"exec": {"command": ["true"]}}))) == []


def test_a_string_that_is_not_a_valid_port_name_is_rejected_at_apply() -> None:
    # reviewer's probe-digits: "8080" as a string is a port name to the API server (IsValidPortName needs a letter)
    found = messages(PP, deploy(container("c", HTTP, livenessProbe=http("8080"))))
    assert len(found) == 1, found
    assert "gives port '8080'" in found[0] and "no letter" in found[0] and "rejects the object at apply" in found[0]
    assert "give the number 8080" in found[0] and "errors every period" not in found[0]
    found = messages(PP, deploy(container("c", [{"name": "HTTP", "containerPort": 8080}], readinessProbe=http("HTTP"))))
    assert len(found) == 1 and "a-z, 0-9" in found[0] and "rejects the object at apply" in found[0]
    long = "metrics-endpoint"  # 16 characters
    assert "longer than 15" in messages(PP, deploy(container("c", HTTP, livenessProbe=http(long))))[0]
    assert messages(PP, deploy(container("c", HTTP, livenessProbe=http("http")))) == []


def test_every_pod_template_kind_is_judged() -> None:
    cron = R("kubernetes:batch/v1:CronJob", "nightly", {"metadata": {"name": "nightly", "namespace": "app"}, "spec": {
        "jobTemplate": {"spec": {"template": {"spec": {"containers": [
            container("c", [], livenessProbe=http("http"))]}}}}}})
    found = messages(PP, cron)
    assert len(found) == 1 and found[0].startswith("nightly: CronJob app/nightly")


def test_a_plain_init_container_may_carry_no_probe_or_hook() -> None:
    # review #30 (rfam) finding 1: the API server refuses probes on init containers without restartPolicy: Always
    migrate = container("migrate", HTTP, readinessProbe=http("http"))
    found = messages(PP, deploy(container("c", HTTP), init=[migrate]))
    assert len(found) == 1, found
    assert "init container migrate sets readinessProbe" in found[0] and "rejects the object at apply" in found[0]
    hooked = container("migrate", None, lifecycle={"preStop": {"exec": {"command": ["true"]}}})
    assert "init container migrate sets lifecycle" in messages(PP, deploy(container("c", HTTP), init=[hooked]))[0]
    plain = container("migrate", None)
    assert messages(PP, deploy(container("c", HTTP), init=[plain])) == []
    sidecar = {**container("proxy", [{"name": "admin", "containerPort": 15000}], readinessProbe=http("admin")),
               "restartPolicy": "Always"}
    assert messages(PP, deploy(container("c", HTTP), init=[sidecar])) == []  # a native sidecar may


def test_a_lifecycle_hooks_named_port_is_one_of_the_containers_ports() -> None:
    # review #30 (rfam) finding 10: kubelet lifecycle/handlers.go resolvePort looks only at the container's own ports
    def hook(kind: str, port: Any, handler: str = "httpGet") -> dict[str, Any]:
        return {kind: {handler: {"path": "/quit", "port": port} if handler == "httpGet" else {"port": port}}}

    found = messages(PP, deploy(container("c", HTTP, lifecycle=hook("preStop", "admin"))))
    assert len(found) == 1 and "container c's preStop hook (httpGet) names port admin" in found[0], found
    assert "FailedPreStopHook" in found[0]
    found = messages(PP, deploy(container("c", HTTP, lifecycle=hook("postStart", "admin"))))
    assert len(found) == 1 and "FailedPostStartHook" in found[0]
    assert messages(PP, deploy(container("c", HTTP, lifecycle=hook("preStop", "http")))) == []
    assert messages(PP, deploy(container("c", HTTP, lifecycle=hook("preStop", 9000)))) == []
    found = messages(PP, deploy(container("c", HTTP, lifecycle=hook("preStop", "http", "tcpSocket"))))
    assert len(found) == 1 and "uses tcpSocket, which the kubelet does not run" in found[0]
