"""Who may read Kubeflow Pipelines' database credentials: a ValidatingAdmissionPolicy over the KFP namespace.

The upstream `pipeline-runner` Role (every pipeline step's identity) has `*` on pods, pods/exec, deployments,
replicasets and jobs in the namespace, and Argo's controller creates pods with whatever ServiceAccount a Workflow
names. RBAC cannot stop either from mounting the database Secrets, so admission does
(admissionregistration.k8s.io/v1, GA in Kubernetes 1.30; the platform's EKS versions are 1.33 and later):

1. a pod (or a workload's pod template) that references a guarded Secret (a volume, a projected source, an env
   `secretKeyRef` or an `envFrom`) must run as that Secret's reader (`GUARDED`);
2. a pod running as a reader or another credential holder (`policy_spec`'s `holders`, e.g. `HOLDERS`: a
   ServiceAccount whose RBAC or IRSA role can fetch the credentials) is created only by the ReplicaSet controller
   (they are all Deployments, or have no pods), so no pod-creator (a step, Argo's controller, a user) can borrow
   the identity; and no one changes such a pod's spec in place (a new image would restart the container with the
   same identity and Secret env; Deployments roll new pods instead);
3. no ServiceAccount of the namespace may create or change a workload whose template references a guarded Secret or
   runs as a holder; the rotation restarter alone may update one, without touching its pod template;
4. no ephemeral container joins a holder's pod, and no ServiceAccount of the namespace may exec, attach or
   port-forward into one (pod names `<deployment>-<template hash>-<suffix>`, `HOLDER_WORKLOADS`);
5. no ServiceAccount of the namespace may create, change or delete a Service the readers connect to (`services`:
   the database host, an ExternalName Service, and the API and ML Metadata servers): the runner's Role has `*` on
   services, and a step repointing `mysql` at its own pod would receive the API server's password (it connects
   with `tls=skip-verify`, and the MySQL driver sends the password over that TLS on caching_sha2 full auth);
6. a pod (or a workload's pod template) carrying a label that a database egress NetworkPolicy selects (`labelled`:
   label and value -> ServiceAccount) runs as that label's ServiceAccount, so a step cannot label itself into the
   database's egress and relay a reader's handshake;
7. no ServiceAccount of the namespace may create a legacy token Secret (type
   `kubernetes.io/service-account-token`) for a credential holder: the token controller would fill it with a token
   of the holder's identity;
8. no ServiceAccount of the namespace may delete a holder's Deployment or ReplicaSet (availability). Deleting a
   holder's pod stays allowed: its ReplicaSet replaces it, and eviction (pods/eviction) is not matched.

Left to RBAC: a human granted Deployment rights in the namespace (the platform grants none). Not narrowed: the
upstream argo-role and ml-pipeline-ui Roles keep `secrets` get (and list) on every Secret of the namespace.
Pure data: the Pulumi resources are made by `KubeflowPipelines`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

API_VERSION = "admissionregistration.k8s.io/v1"
NAME = "kfp-database-secret-readers"
RESTARTER = "rotation-restarter"
POD_CREATORS = ("system:serviceaccount:kube-system:replicaset-controller", "system:kube-controller-manager")
"""The ReplicaSet controller with per-controller credentials (`--use-service-account-credentials`), or without."""
WORKLOADS = ("deployments", "replicasets", "statefulsets", "daemonsets", "jobs")
CONNECT = ("pods/exec", "pods/attach", "pods/portforward")
WORKLOAD_NAMES = ("ml-pipeline", "metadata-grpc-deployment")
"""The readers' Deployments (the API server; ML Metadata's server)."""
HOLDERS = ("argo", "ml-pipeline-ui", RESTARTER)
"""ServiceAccounts other than the readers that can obtain the credentials (tests/pipelines/test_kfp_admission.py
derives the set from the rendered Roles/RoleBindings and the IRSA roles and checks it equals this plus the readers
and `<secret>-reader`): Argo's controller (upstream argo-role: secrets get), the UI (ml-pipeline-ui Role: secrets
get/list), the restarter (get on the database Secrets)."""
HOLDER_WORKLOADS = (*WORKLOAD_NAMES, "workflow-controller", "ml-pipeline-ui", RESTARTER)
"""The Deployments running as a holder: their pods' names for the exec rule."""

SPEC = "variables.spec"


def _refs(secret: str) -> str:
    """CEL: the pod spec `variables.spec` references `secret` (volume, projected source, env, envFrom)."""
    s = SPEC
    volume = (f"(has({s}.volumes) && {s}.volumes.exists(v, (has(v.secret) && v.secret.secretName == '{secret}') || "
              f"(has(v.projected) && has(v.projected.sources) && v.projected.sources.exists(p, has(p.secret) && "
              f"p.secret.name == '{secret}'))))")
    env = (f"variables.containers.exists(c, (has(c.env) && c.env.exists(e, has(e.valueFrom) && "
           f"has(e.valueFrom.secretKeyRef) && e.valueFrom.secretKeyRef.name == '{secret}')) || (has(c.envFrom) && "
           f"c.envFrom.exists(f, has(f.secretRef) && f.secretRef.name == '{secret}')))")
    return f"({volume} || {env})"


def _list(items: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(f"'{i}'" for i in items) + "]"


# long: the policy's variables and eight rules, each a CEL string read next to the others
def policy_spec(namespace: str, guarded: Mapping[str, str], holders: tuple[str, ...] = (),
                services: tuple[str, ...] = (),
                labelled: Mapping[tuple[str, str], str] | None = None) -> dict[str, Any]:
    """The ValidatingAdmissionPolicy spec: `guarded` maps each database Secret to the ServiceAccount that reads it;
    `holders`: further ServiceAccounts that can obtain the credentials (rules 2-4 guard them as the readers);
    `services`: the Services the readers connect to (rule 5); `labelled`: the database egress labels (rule 6);
    `namespace` is the KFP namespace (its ServiceAccounts' usernames start `system:serviceaccount:<namespace>:`)."""
    readers = sorted(set(guarded.values()) | set(holders))
    sa_prefix = f"system:serviceaccount:{namespace}:"
    refs_any = " || ".join(_refs(s) for s in sorted(guarded))
    template_kinds = _list(list(WORKLOADS))
    variables = [
        {"name": "connect", "expression": "request.operation == 'CONNECT'"},
        {"name": "service", "expression": "request.resource.resource == 'services'"},
        {"name": "secret", "expression": "request.resource.resource == 'secrets'"},
        {"name": "delete", "expression": "request.operation == 'DELETE' && !variables.service"},
        {"name": "skip", "expression": "variables.connect || variables.service || variables.secret || variables.delete"},
        {"name": "spec", "expression": "request.resource.resource == 'pods' ? object.spec : object.spec.template.spec"},
        {"name": "containers", "expression": (
            f"{SPEC}.containers + (has({SPEC}.initContainers) ? {SPEC}.initContainers : []) + "
            f"(has({SPEC}.ephemeralContainers) ? {SPEC}.ephemeralContainers : [])")},
        {"name": "sa", "expression": f"has({SPEC}.serviceAccountName) ? {SPEC}.serviceAccountName : 'default'"},
        {"name": "reader", "expression": f"variables.sa in {_list(readers)}"},
        {"name": "meta", "expression": "request.resource.resource == 'pods' ? object.metadata : "
                                       "(has(object.spec.template.metadata) ? object.spec.template.metadata : {})"},
        {"name": "labels", "expression": "has(variables.meta.labels) ? variables.meta.labels : {}"},
        {"name": "fromNamespace", "expression": f"request.userInfo.username.startsWith('{sa_prefix}')"},
    ]
    validations = [
        {"expression": f"variables.skip || !{_refs(secret)} || variables.sa == '{reader}'",
         "message": f"only the ServiceAccount {reader} may mount or read the Secret {secret}"}
        for secret, reader in sorted(guarded.items())]
    validations += [
        {"expression": ("variables.skip || request.resource.resource != 'pods' || request.subResource != '' || "
                        f"request.operation != 'CREATE' || !variables.reader || "
                        f"request.userInfo.username in {_list(POD_CREATORS)}"),
         "message": f"pods running as {', '.join(readers)} are created by their Deployment only"},
        {"expression": ("variables.skip || request.resource.resource != 'pods' || request.subResource != '' || "
                        "request.operation != 'UPDATE' || !variables.reader || object.spec == oldObject.spec"),
         "message": f"the spec of a pod running as {', '.join(readers)} is not changed in place"},
        {"expression": (f"variables.skip || !(request.resource.resource in {template_kinds}) || "
                        f"!(variables.reader || {refs_any}) || !variables.fromNamespace || "
                        f"(request.userInfo.username == '{sa_prefix}{RESTARTER}' && request.operation == 'UPDATE' && "
                        "object.spec.template.spec == oldObject.spec.template.spec)"),
         "message": "ServiceAccounts of this namespace may not create or change the database readers' workloads"},
        {"expression": ("variables.skip || request.subResource != 'ephemeralcontainers' || !variables.reader"),
         "message": f"no ephemeral containers in pods running as {', '.join(readers)}"},
        {"expression": ("!variables.connect || !variables.fromNamespace || "
                        f"!request.name.matches('^({'|'.join(sorted(HOLDER_WORKLOADS))})-[a-z0-9]+-[a-z0-9]{{5}}$')"),
         "message": "ServiceAccounts of this namespace may not exec, attach or port-forward into the credential "
                    "holders"},
        {"expression": ("!variables.service || !variables.fromNamespace || "
                        f"!(request.name in {_list(sorted(services))} || (request.operation != 'DELETE' && "
                        f"object.metadata.name in {_list(sorted(services))}))"),
         "message": f"ServiceAccounts of this namespace may not create, change or delete the Services "
                    f"{', '.join(sorted(services))}"},
    ]
    validations += [
        {"expression": (f"variables.skip || !('{key}' in variables.labels && variables.labels['{key}'] == '{value}') "
                        f"|| variables.sa == '{account}'"),
         "message": f"only pods running as {account} may carry the label {key}={value} (database egress)"}
        for (key, value), account in sorted((labelled or {}).items())]
    validations.append(
        {"expression": ("!variables.secret || !variables.fromNamespace || !has(object.type) || "
                        "object.type != 'kubernetes.io/service-account-token' || !has(object.metadata.annotations) || "
                        "!('kubernetes.io/service-account.name' in object.metadata.annotations) || "
                        f"!(object.metadata.annotations['kubernetes.io/service-account.name'] in {_list(readers)})"),
         "message": f"ServiceAccounts of this namespace may not create token Secrets for {', '.join(readers)}"})
    validations.append(
        {"expression": ("!variables.delete || !variables.fromNamespace || "
                        f"!request.name.matches('^({'|'.join(sorted(HOLDER_WORKLOADS))})(-[a-z0-9]+)?$')"),
         "message": "ServiceAccounts of this namespace may not delete the credential holders' Deployments"})
    rules = [
        {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
         "resources": ["pods", "pods/ephemeralcontainers"]},
        {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CONNECT"], "resources": list(CONNECT)},
        {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
         "resources": [w for w in WORKLOADS if w != "jobs"]},
        {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["jobs"]},
        {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE", "DELETE"],
         "resources": ["services"]},
        {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["secrets"]},
        {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["DELETE"],
         "resources": ["deployments", "replicasets"]},
    ]
    return {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": rules}, "variables": variables,
            "validations": validations}


def binding_spec(namespace: str) -> dict[str, Any]:
    """Enforce the policy (Deny) in the KFP namespace only."""
    return {"policyName": NAME, "validationActions": ["Deny"], "matchResources": {"namespaceSelector": {
        "matchLabels": {"kubernetes.io/metadata.name": namespace}}}}
