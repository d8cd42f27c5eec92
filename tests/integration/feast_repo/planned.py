"""The Feast pods of a plan, as tests/integration/test_feast.py runs them: each container's command, env, mounted
`feature_store.yaml` and its ServiceAccount role's planned policy, read from the plan inventory."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlops_infra.plan import Inventory, ResourceRecord

from ..plans import plan


@dataclass(frozen=True)
class Pod:
    """One planned Feast container: what it runs, with which file and which identity."""

    name: str
    command: list[str]
    env: dict[str, str]
    mount: str
    config: str
    policy: dict[str, Any]
    resources: dict[str, Any]
    image: str = ""


def _pod(inv: Inventory, name: str, spec: dict[str, Any]) -> Pod:
    container = spec["containers"][0]
    volumes = {v["name"]: v for v in spec["volumes"]}
    [(mount, cm_name)] = [(m["mountPath"], volumes[m["name"]]["configMap"]["name"])
                          for m in container["volumeMounts"] if "configMap" in volumes[m["name"]]]
    [config] = [r.inputs["data"]["feature_store.yaml"] for r in inv.of_type("kubernetes:core/v1:ConfigMap")
                if r.inputs["metadata"]["name"] == cm_name]
    # A role with nothing to call in AWS (the Redis/SQL server) has no policy: its user gets none.
    raws = [r.inputs["policy"] for r in inv.of_type("aws:iam/rolePolicy:RolePolicy")
            if r.name == f"{spec['serviceAccountName']}-identity-policy"]
    raw = raws[0] if raws else {"Version": "2012-10-17", "Statement": []}
    return Pod(name, container["command"], {e["name"]: e["value"] for e in container.get("env", []) if "value" in e},
               mount, config, json.loads(raw) if isinstance(raw, str) else raw, container.get("resources", {}),
               container["image"])


def _waits_for(inv: Inventory, record: ResourceRecord) -> set[str]:
    """Every URN `record` waits for, through dependencies (a component stands for its children)."""
    index, seen, todo = inv.by_urn(), set[str](), list(record.dependencies)
    while todo:
        urn = todo.pop()
        if urn not in seen:
            seen.add(urn)
            todo += [*(index[urn].dependencies if urn in index else []), *(c.urn for c in inv.children(urn))]
    return seen


@dataclass(frozen=True)
class Rendered:
    server: Pod
    before_server: list[Pod]
    materialize: Pod
    tables: list[dict[str, Any]]


def rendered(label: str) -> Rendered:
    inv = plan(label)
    [deployment] = [r for r in inv.of_type("kubernetes:apps/v1:Deployment")
                    if r.inputs["spec"]["template"]["spec"]["containers"][0]["name"] == "feature-server"]
    waits = _waits_for(inv, deployment)
    jobs = [_pod(inv, r.name, r.inputs["spec"]["template"]["spec"])
            for r in inv.of_type("kubernetes:batch/v1:Job") if r.urn in waits]
    [cron] = [r for r in inv.of_type("kubernetes:batch/v1:CronJob") if "feast" in r.name or "materialize" in r.name]
    return Rendered(
        server=_pod(inv, deployment.name, deployment.inputs["spec"]["template"]["spec"]),
        before_server=jobs,
        materialize=_pod(inv, cron.name, cron.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]),
        tables=[r.inputs for r in inv.of_type("aws:dynamodb/table:Table") if r.inputs["name"].endswith(
            (".driver_hourly_stats", ".user_embeddings"))])


def bucket_of(pods: Rendered) -> str:
    for pod in (pods.materialize, pods.server):
        for statement in pod.policy["Statement"]:
            for arn in statement.get("Resource", []):
                if arn.startswith("arn:aws:s3:::") and "/" not in arn:
                    return str(arn.removeprefix("arn:aws:s3:::"))
    raise AssertionError("no bucket in the planned Feast policies")


def moto_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """The planned policy as moto 5 must see it: moto authorizes HeadBucket as `s3:HeadBucket` (s3/responses.py
    ACTION_MAP), an action IAM does not have; AWS authorizes it with `s3:ListBucket` (HeadBucket API reference).
    So every statement that grants s3:ListBucket also names s3:HeadBucket, same resources and conditions."""
    statements = []
    for statement in policy["Statement"]:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if "s3:ListBucket" in actions:
            statement = {**statement, "Action": [*actions, "s3:HeadBucket"]}
        statements.append(statement)
    return {**policy, "Statement": statements}
