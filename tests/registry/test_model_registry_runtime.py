"""What the MLflow tracking server needs at runtime, checked on the planned stacks of tests/programs/model_registry
against MLflow 3.14.0's own behaviour: memory from the committed measurement (issue 14 #3), the scrape path outside
basic auth (#14), the Host headers clients send (#31), who may connect (#21), the `alb` controller (#4) and one
Postgres block for MLflow and the Feast SQL registry (#28)."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from mlops_infra.plan import Inventory, PlanError
from mlops_infra.registry.config import (
    FLASK_SECRET_KEY_ENV,
    INGRESS_NEEDS,
    MEASUREMENT_FILE,
    MEMORY_MARGIN,
    parse_memory_mib,
)
from tests.conftest import PROGRAMS, ROOT, planned
from tests.nonempty import each

PROGRAM = PROGRAMS / "model_registry"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
# MLflow 3.14.0 facts, read from the installed package (paths under site-packages/mlflow):
MLFLOW_DEFAULT_WORKERS = 4  # server/__init__.py `_run_server`: `workers or 4`
JOB_EXECUTION_ENV = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"  # environment_variables.py, default True
UNPROTECTED_PREFIXES = ("/static", "/favicon.ico", "/health")  # server/auth/__init__.py `_UNPROTECTED_PATH_PREFIXES`


def is_allowed_host_header(allowed_hosts: list[str], host: str) -> bool:
    """Faithful copy of mlflow/server/security_utils.py `is_allowed_host_header` (MLflow 3.14.0)."""
    if not host:
        return False
    if "*" in allowed_hosts:
        return True
    return any(fnmatch.fnmatch(host, allowed) if "*" in allowed else host == allowed for allowed in allowed_hosts)


def registry_plan(stack: str, program: str = "model_registry") -> Inventory:
    return planned(stack, PROGRAMS / program)


@pytest.fixture(params=["prod", "basic", "dev"])
def inv(request: pytest.FixtureRequest) -> Inventory:
    return registry_plan(request.param)


def containers(inv: Inventory) -> dict[str, dict[str, Any]]:
    [deployment] = inv.of_type(DEPLOYMENT)
    spec = deployment.inputs["spec"]["template"]["spec"]
    return {c["name"]: c for c in [*spec.get("initContainers", []), *spec["containers"]]}


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def flag(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def measurement() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(MEASUREMENT_FILE.read_text())
    return data


def test_memory_limit_is_above_the_measured_peak_of_what_the_pod_runs(inv: Inventory) -> None:
    """The run measured with the same workers, app and job-execution setting as the rendered container, times the
    margin, fits under its limit (requests equal limits)."""
    server = containers(inv)["mlflow"]
    args, env = server["args"], env_of(server)
    workers = int(flag(args, "--workers") or MLFLOW_DEFAULT_WORKERS)
    app = flag(args, "--app-name") or "default"
    jobs = env.get(JOB_EXECUTION_ENV, "true").lower() not in ("false", "0")
    data = measurement()
    assert server["image"].rsplit(":", 1)[-1] == data["mlflowVersion"]
    [run] = [r for r in data["runs"] if (r["workers"], r["app"], r["jobExecution"]) == (workers, app, jobs)]
    limit = parse_memory_mib(server["resources"]["limits"]["memory"])
    assert limit is not None and limit >= run["burstRssMib"] * MEMORY_MARGIN >= run["idleRssMib"] * MEMORY_MARGIN
    assert server["resources"]["requests"] == server["resources"]["limits"]
    sidecar = parse_memory_mib(containers(inv)["metrics"]["resources"]["limits"]["memory"])
    assert sidecar is not None and sidecar >= run["metricsSidecarRssMib"] * MEMORY_MARGIN


def test_measurement_shows_what_job_execution_and_workers_cost() -> None:
    """Pins the finding of #3: MLflow's defaults (4 workers, job runner) need far more than the old 1 GiB."""
    runs = {(r["workers"], r["app"], r["jobExecution"]): r for r in measurement()["runs"]}
    default = runs[(MLFLOW_DEFAULT_WORKERS, "default", True)]
    assert default["idleRssMib"] > 1024 and default["processes"] > runs[(4, "default", False)]["processes"]
    assert runs[(1, "default", False)]["burstRssMib"] < runs[(2, "default", False)]["burstRssMib"] \
        < runs[(4, "default", False)]["burstRssMib"]


def test_prometheus_scrapes_a_port_whose_path_needs_no_credentials(inv: Inventory) -> None:
    """ServiceMonitor -> Service port -> container port: the container serving the scrape is not MLflow's
    basic-auth app, or the path is one that app leaves unprotected. The run also checked it for real."""
    monitors = inv.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
    if not monitors:
        return  # dev: monitoring off
    [endpoint] = monitors[0].inputs["spec"]["endpoints"]
    [service] = inv.of_type(SERVICE)
    [port] = [p for p in service.inputs["spec"]["ports"] if p["name"] == endpoint["port"]]
    [container] = [c for c in containers(inv).values()
                   if any(p["name"] == port["targetPort"] for p in c.get("ports", []))]
    basic_auth = flag(container.get("args", []), "--app-name") == "basic-auth"
    assert not basic_auth or endpoint["path"].startswith(UNPROTECTED_PREFIXES)
    assert container["name"] == "metrics"
    runs = measurement()["runs"]
    assert all(r["metricsSidecarServesRequestCounter"] for r in each(runs))
    assert {r["serverMetricsStatus"] for r in runs if r["app"] == "basic-auth"} == {401}


def test_every_in_cluster_name_passes_mlflow_host_validation(inv: Inventory) -> None:
    [service] = inv.of_type(SERVICE)
    svc, ns = service.inputs["metadata"]["name"], service.inputs["metadata"]["namespace"]
    allowed = env_of(containers(inv)["mlflow"])["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    api_ports = [p["port"] for p in service.inputs["spec"]["ports"] if p["name"] != "metrics"]
    for name in (svc, f"{svc}.{ns}", f"{svc}.{ns}.svc", f"{svc}.{ns}.svc.cluster.local"):
        for host in (name, *(f"{name}:{p}" for p in api_ports)):
            assert is_allowed_host_header(allowed, host), host
    for host in ("10.0.3.17:5000", "127.0.0.1:5000", "localhost:5000"):  # pod IP (probes), oauth2-proxy upstream
        assert is_allowed_host_header(allowed, host), host
    ingress = inv.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    if ingress:
        assert is_allowed_host_header(allowed, ingress[0].inputs["spec"]["rules"][0]["host"])
    assert not is_allowed_host_header(allowed, "attacker.example.net")
    assert inv.outputs["trackingUri"].startswith("https://") or is_allowed_host_header(
        allowed, inv.outputs["trackingUri"].removeprefix("http://"))


def peers_of(inv: Inventory, port: int) -> list[dict[str, Any]]:
    [policy] = inv.of_type(POLICY)
    return [peer for rule in policy.inputs["spec"]["ingress"] if any(p["port"] == port for p in rule["ports"])
            for peer in rule["from"]]


def namespaces_of(peers: list[dict[str, Any]]) -> set[str]:
    return {v for p in peers if "namespaceSelector" in p
            for e in p["namespaceSelector"]["matchExpressions"] for v in e["values"]}


def test_network_policy_admits_only_clients_the_alb_and_prometheus(inv: Inventory) -> None:
    [policy] = inv.of_type(POLICY)
    [deployment] = inv.of_type(DEPLOYMENT)
    [service] = inv.of_type(SERVICE)
    labels = deployment.inputs["spec"]["template"]["metadata"]["labels"]
    assert policy.inputs["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert policy.inputs["spec"]["policyTypes"] == ["Ingress"]
    ns = service.inputs["metadata"]["namespace"]
    ports = {p["name"]: p["port"] for p in service.inputs["spec"]["ports"]}
    api = ports["http"] if "http" in ports else ports["oauth2"]
    assert namespaces_of(peers_of(inv, api)) == {ns, "training", "features"}
    metrics = peers_of(inv, ports["metrics"])
    has_monitor = bool(inv.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor"))
    assert namespaces_of(metrics) == ({"monitoring"} if has_monitor else set())
    assert not [p for p in metrics if "ipBlock" in p]
    ingress = inv.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    backend = ingress[0].inputs["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["name"] \
        if ingress else None
    for name, port in each(ports.items()):
        cidrs = {p["ipBlock"]["cidr"] for p in peers_of(inv, port) if "ipBlock" in p}
        # Only the Ingress backend port admits addresses: the ALB's ENIs (target type ip) in the VPC.
        assert cidrs == ({"10.0.0.0/16"} if name == backend else set()), name
    every_peer = [peer for rule in policy.inputs["spec"]["ingress"] for peer in rule["from"]]
    assert all(p.get("ipBlock", {}).get("cidr") != "0.0.0.0/0" for p in each(every_peer))


def test_prod_authenticates_in_cluster_clients() -> None:
    """prod (oidc): the server listens on loopback only, so the only way in is oauth2-proxy; the Service has no
    plain port 5000 and the internal URI is the proxy's. basic: MLflow's basic-auth app with its secret key."""
    prod, basic = registry_plan("prod"), registry_plan("basic")
    server = containers(prod)["mlflow"]
    assert flag(server["args"], "--host") == "127.0.0.1"
    [service] = prod.of_type(SERVICE)
    assert 5000 not in [p["port"] for p in service.inputs["spec"]["ports"]]
    assert server["readinessProbe"]["httpGet"]["port"] == "oauth2"
    assert "--skip-auth-route=GET=^/health$" in containers(prod)["oauth2-proxy"]["args"]
    basic_server = containers(basic)["mlflow"]
    assert flag(basic_server["args"], "--app-name") == "basic-auth"
    ref = env_of(basic_server)[FLASK_SECRET_KEY_ENV]["secretKeyRef"]
    [secret] = [s for s in basic.of_type("kubernetes:core/v1:Secret") if s.name.endswith("-mlflow-auth")]
    assert ref["name"] == secret.inputs["metadata"]["name"]


def test_ingress_without_a_load_balancer_controller_is_refused() -> None:
    with pytest.raises(PlanError) as info:
        planned("noalb", PROGRAM)
    assert INGRESS_NEEDS in str(info.value)


GUARDS = ("engine", "engineVersion", "instanceClass", "storageType", "storageEncrypted", "publiclyAccessible",
          "multiAz", "backupRetentionPeriod", "deletionProtection", "skipFinalSnapshot", "copyTagsToSnapshot",
          "performanceInsightsEnabled", "performanceInsightsRetentionPeriod", "monitoringInterval",
          "enabledCloudwatchLogsExports", "autoMinorVersionUpgrade", "allowMajorVersionUpgrade")


def test_mlflow_database_and_feast_sql_registry_are_the_same_postgres() -> None:
    """#28, both planned in prod: same guards, a TLS-enforcing parameter group attached to each, Enhanced
    Monitoring at the configured interval with a role RDS can assume, protect on both."""
    mlflow, feast = registry_plan("prod"), registry_plan("prod", "feature_store")
    dbs = []
    for inv in (mlflow, feast):
        [db] = inv.of_type("aws:rds/instance:Instance")
        [params] = inv.of_type("aws:rds/parameterGroup:ParameterGroup")
        assert db.property_dependencies["parameterGroupName"] == [params.urn]
        assert {"name": "rds.force_ssl", "value": "1", "applyMethod": "pending-reboot"} in params.inputs["parameters"]
        assert params.inputs["family"] == f"postgres{db.inputs['engineVersion'].split('.')[0]}"
        role = inv.named(f"{db.name}-monitoring")
        assert db.property_dependencies["monitoringRoleArn"] == [role.urn]
        assert "monitoring.rds.amazonaws.com" in role.inputs["assumeRolePolicy"]
        assert db.options["protect"] is True and db.options["retainOnDelete"] is True
        dbs.append((db, params))
    (m_db, m_params), (f_db, f_params) = dbs
    assert {k: m_db.inputs.get(k) for k in GUARDS} == {k: f_db.inputs.get(k) for k in GUARDS}
    assert m_db.inputs["monitoringInterval"] == 60 and m_db.inputs["deletionProtection"] is True
    assert m_params.inputs["parameters"] == f_params.inputs["parameters"]


def test_both_databases_get_the_same_alarms_and_mlflow_admits_the_platform() -> None:
    """Planned as a whole platform (staging, Feast SQL registry): every RDS instance has the same CloudWatch alarms
    on its own identifier, and the tracking server's NetworkPolicy admits the team namespaces and the namespace
    Prometheus runs in, not Feast's (no Feast pod calls MLflow, and every admitted namespace gets an MLflow user:
    tests/registry/test_mlflow_consumers.py)."""
    inv = registry_plan("staging", "model_registry/platform")
    # The registry's and the Feast registry's databases (staging also runs LakeFS on its own Postgres block).
    dbs = [d for d in inv.of_type("aws:rds/instance:Instance") if "-registry-" in d.name or "-features-" in d.name]
    assert len(dbs) == 2
    alarms = [a for a in inv.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if a.inputs["namespace"] == "AWS/RDS"]
    mlflow, feast = ({(a.inputs["metricName"], a.inputs["comparisonOperator"], a.inputs["threshold"]) for a in alarms
                      if a.property_dependencies["dimensions"] == [db.urn]}
                     for db in sorted(dbs, key=lambda d: "features" in d.name))
    assert mlflow == feast and {m for m, _, _ in mlflow} == {"CPUUtilization", "FreeStorageSpace", "DatabaseConnections"}
    [policy] = [p for p in inv.of_type(POLICY) if p.name.endswith("-registry-mlflow-ingress-policy")]
    admitted = {v for rule in policy.inputs["spec"]["ingress"] for peer in rule["from"]
                if "namespaceSelector" in peer for e in peer["namespaceSelector"].get("matchExpressions", []) for v in e["values"]}
    assert {"research", "mlflow", "monitoring"} <= admitted and "feast" not in admitted


@pytest.mark.parametrize("variant", ["mlflow-basic", "mlflow-oidc"])
def test_the_ingress_waits_for_the_load_balancer_controller_whose_webhook_admits_it(variant: str) -> None:
    """The controller's Ingress webhooks fail closed: an Ingress created before the controller's release is ready is
    refused. So in a stack that installs the controller, the `alb` Ingress depends on that release."""
    inv = planned(variant, ROOT / "tests" / "integration" / "variants")
    [ingress] = inv.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    assert ingress.inputs["spec"]["ingressClassName"] == "alb"
    [controller] = [r for r in inv.of_type("kubernetes:helm.sh/v3:Release")
                    if r.inputs.get("chart") == "aws-load-balancer-controller"]
    assert controller.urn in ingress.dependencies
