"""Metaflow's schema migration runs in a Job of our own (the chart's init container has no securityContext): the
Job runs the chart's command against the service's database with the service's database env, under the hardened
context (only non-root waived), reaches the database, is not behind the Service, and the release waits for it.
Read from the all-engines variant, rendered where the chart is in the store."""

from __future__ import annotations

import fnmatch
import ipaddress
import json
from typing import Any

import pytest
from mlops_policies.psa_registry import LevelVersion, evaluate

from mlops_infra.pipelines import metaflow as mf
from mlops_infra.pipelines.metaflow_migrate import RUN_GOOSE
from mlops_infra.plan import Inventory, plan_program
from tests import netpol_eval
from tests.conftest import ROOT
from tests.integration.plans import VARIANTS
from tests.nonempty import each

from .test_metaflow import ES, HELM, RDS, one

JOB = "kubernetes:batch/v1:Job"
RUN_GOOSE_READS = ("MF_METADATA_DB_USER", "MF_METADATA_DB_PSWD", "MF_METADATA_DB_HOST", "MF_METADATA_DB_PORT",
                   "MF_METADATA_DB_NAME", "MF_METADATA_DB_SSL_MODE")
"""The env run_goose.py (Netflix/metaflow-service v2.4.13) builds its Postgres URL from."""


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return plan_program(VARIANTS, "pipelines", render=True)


def job(inv: Inventory) -> dict[str, Any]:
    spec: dict[str, Any] = one(inv, JOB, "mlops-dev-metaflow-service-migrate").inputs
    return spec


def rendered_service(inv: Inventory, kind: str) -> dict[str, Any]:
    if not [r for r in inv.rendering if r.get("status") == "rendered" and "metaflow-service" in str(r.get("chart"))]:
        pytest.skip("chart metaflow-service is not in this machine's store (mlops-infra charts pull)")
    (found,) = [r.inputs for r in inv.rendered() if r.type == f"kubernetes:{kind}"
                and r.inputs["metadata"]["name"] == mf.SERVICE_NAME]
    return found


def test_the_chart_runs_no_migration_container_and_the_job_runs_its_command(inv: Inventory) -> None:
    pod = rendered_service(inv, "apps/v1:Deployment")["spec"]["template"]["spec"]
    assert not pod.get("initContainers")
    (container,) = job(inv)["spec"]["template"]["spec"]["containers"]
    assert container["command"] == RUN_GOOSE
    (server,) = pod["containers"]
    assert container["image"] == server["image"]


def test_the_job_reaches_the_services_database_with_the_services_env(inv: Inventory) -> None:
    (container,) = job(inv)["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert set(RUN_GOOSE_READS) <= set(env)
    (server,) = rendered_service(inv, "apps/v1:Deployment")["spec"]["template"]["spec"]["containers"]
    server_env = {e["name"]: e for e in server["env"]}
    for name in each(RUN_GOOSE_READS):
        assert env[name] == server_env[name], name
    es = one(inv, ES, "mlops-dev-metaflow-db-external-secret")
    assert env[mf.PASSWORD_ENV]["valueFrom"]["secretKeyRef"]["name"] == es.inputs["spec"]["target"]["name"]
    # The namespace's database egress admits the Job's pods (they carry the service's name label).
    labels = job(inv)["spec"]["template"]["metadata"]["labels"]
    vpc = ipaddress.ip_network(next(iter(v.inputs["cidrBlock"] for v in inv.of_type("aws:ec2/vpc:Vpc"))))
    db_ip = netpol_eval.Ip(str(vpc.network_address + 10))
    policies = netpol_eval.policies_in(inv)
    assert netpol_eval.allows(policies, netpol_eval.Pod("metaflow", labels), db_ip, int(env["MF_METADATA_DB_PORT"]["value"]))
    assert not netpol_eval.allows(policies, netpol_eval.Pod("metaflow", {"app": "x"}), db_ip, 5432)


def test_the_job_is_not_behind_the_service(inv: Inventory) -> None:
    selector = rendered_service(inv, "core/v1:Service")["spec"]["selector"]
    labels = job(inv)["spec"]["template"]["metadata"]["labels"]
    assert not all(labels.get(k) == v for k, v in each(selector.items()))


def test_the_job_is_hardened_except_for_the_waived_root_user(inv: Inventory) -> None:
    pod = job(inv)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ctx = container["securityContext"]
    assert ctx["readOnlyRootFilesystem"] is True and ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]} and pod["automountServiceAccountToken"] is False
    assert evaluate(LevelVersion(mf.POD_SECURITY, (1, 35)), {}, pod) == []
    restricted = [v.check for v in evaluate(LevelVersion("restricted", (1, 35)), {}, pod)]
    assert restricted and set(restricted) <= {"runAsNonRoot"}
    assert container["resources"]["requests"] == container["resources"]["limits"]


def test_the_release_waits_for_the_job_and_the_job_for_the_database(inv: Inventory) -> None:
    by_urn = inv.by_urn()
    rel = one(inv, HELM, "mlops-dev-metaflow-service")
    migrate = one(inv, JOB, "mlops-dev-metaflow-service-migrate")
    assert migrate.urn in rel.dependencies
    names = {by_urn[u].name for u in migrate.dependencies if u in by_urn}
    assert {"mlops-dev-metaflow-db-external-secret", one(inv, RDS, "mlops-dev-metaflow-db").name} <= names
    assert rel.inputs["values"]["dbMigrations"]["runOnStart"] is False


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_a_stack_that_enables_metaflow_waives_the_jobs_root_user_and_nothing_else(inv: Inventory, stack: str) -> None:
    """No shipped stack enables Metaflow; one that does finds the Job's run-as-non-root finding waived by name (and
    the service's waiver does not already cover it: fnmatch on the resource name)."""
    name = one(inv, JOB, "mlops-dev-metaflow-service-migrate").name
    config = json.loads((ROOT / "policies" / "config" / f"{stack}.json").read_text())
    matching = [(policy, w["resource"]) for policy, body in config.items() for w in body.get("waivers", [])
                if fnmatch.fnmatchcase(name, w["resource"])]
    assert matching == [("mlops-k8s-run-as-non-root", "*-metaflow-service-migrate")]
