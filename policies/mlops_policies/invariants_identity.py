"""Family `identity`: every IAM role that serves a workload is assumable by exactly that workload, and by nothing
else (folds in `mlops-inv-irsa-service-account`).

IRSA (EKS user guide, "Assign IAM roles to Kubernetes service accounts" / "Configure a role trust policy"): a
web-identity trust statement names this cluster's IAM OIDC provider as `Federated` principal, pins
`<issuer>:aud` = `sts.amazonaws.com` and `<issuer>:sub` = `system:serviceaccount:<ns>:<sa>` of one ServiceAccount
the stack creates; the condition keys start with the provider's issuer host (any other prefix never matches); the
ServiceAccount carries `eks.amazonaws.com/role-arn` = the role's ARN, and a ServiceAccount carrying a role's ARN is
one that role trusts.
Pod Identity (EKS user guide, "Create IAM role with trust policy required by EKS Pod Identity"): the role an
association names trusts `pods.eks.amazonaws.com` for both `sts:AssumeRole` and `sts:TagSession`, and its
`aws:RequestTag/kubernetes-namespace|kubernetes-service-account|eks-cluster-name` conditions admit the association.
Out of scope: a trust naming an OIDC provider the stack does not create (another cluster's), roles serving no
workload (no web-identity or pods.eks trust), and which pods use a ServiceAccount (the selector family's domain).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .core import UNKNOWN, NotApplicable, Resource, Stack, as_list, json_doc, stack_policy, statements
from .invariants_cluster import PACK
from .invariants_index import (
    CLUSTER,
    POD_IDENTITY,
    RELEASE,
    RELEASE_V4,
    SERVICE_ACCOUNT,
    Index,
    index,
    meta,
    release_namespace,
    release_values,
)
from .invariants_roles import Identifiers, condition_holds, identifiers, matches
from .invariants_workloads import ALLOWLIST, ROLE_ANNOTATION, allowed, service_accounts

ROLE = "aws:iam/role:Role"
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
AUDIENCE = "sts.amazonaws.com"
POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
Finding = tuple[Resource, str]


def label(res: Resource) -> str:
    """The resource's Pulumi name, with its physical name when that differs."""
    physical = res.get("name")
    return f"{res.name} ({physical})" if isinstance(physical, str) and physical != res.name else res.name


def own_providers(idx: Index, ids: Identifiers) -> dict[str, str]:
    """ARN of each IAM OIDC provider the stack creates -> its issuer host (no `https://`)."""
    found = {}
    for p in idx.of_type(OIDC_PROVIDER):
        arn, url = ids.arn(p, ":oidc-provider/"), p.get("url")
        host = url.removeprefix("https://") if isinstance(url, str) else (
            arn.partition("oidc-provider/")[2] if isinstance(arn, str) else "")
        if host:
            found[arn or f"(provider {p.name})"] = host
    return found


def _trust(role: Resource) -> list[dict[str, Any]]:
    try:
        return [s for s in statements(json_doc(role.get("assumeRolePolicy"), "assume role policy"))
                if s.get("Effect") == "Allow"]
    except NotApplicable:
        return []


def _web_identity(role: Resource, providers: Mapping[str, str], provider_urns: set[str]) -> Iterator[tuple[
        dict[str, Any], str]]:
    """(statement, issuer host) of each web-identity statement naming one of this stack's providers."""
    depends = bool(provider_urns & set(role.property_dependencies.get("assumeRolePolicy", ())))
    for st in _trust(role):
        principal = st.get("Principal")
        federated = as_list(principal.get("Federated")) if isinstance(principal, Mapping) else []
        if not matches(as_list(st.get("Action")), "sts:AssumeRoleWithWebIdentity"):
            continue
        hosts = set(providers.values())
        for arn in federated:
            host = arn.partition("oidc-provider/")[2] if isinstance(arn, str) else ""
            if isinstance(arn, str) and (arn in providers or host in hosts or (depends and host)):
                yield st, providers.get(arn) or host
                break


def _conditions(st: Mapping[str, Any], suffix: str) -> list[tuple[str, str, list[str]]]:
    """(operator, key, values) of every condition on a key ending in `suffix`."""
    return [(str(op), str(key), [str(v) for v in as_list(values)])
            for op, block in (st.get("Condition") or {}).items() if isinstance(block, Mapping)
            for key, values in block.items() if str(key).endswith(suffix)]


def client_ids(idx: Index) -> dict[str, list[str]]:
    """Issuer host -> the client ids (`clientIdLists`) of each OIDC provider the stack creates, when known."""
    return {url.removeprefix("https://"): [str(c) for c in cids] for p in idx.of_type(OIDC_PROVIDER)
            if isinstance(url := p.get("url"), str) and isinstance(cids := p.get("clientIdLists"), list)}


def irsa_problems(st: Mapping[str, Any], host: str, audiences: list[str] | None = None) -> Iterator[str]:
    subs, auds = _conditions(st, ":sub"), _conditions(st, ":aud")
    for _, key, _ in subs + auds:
        prefix = key.rsplit(":", 1)[0]
        if prefix != host:
            yield f"its condition key {key} names issuer {prefix}, not the provider's {host}, so it never matches"
    if not auds and audiences and set(audiences) == {AUDIENCE}:
        # STS accepts a token only when its aud is one of the provider's client ids (IAM user guide, "Create an
        # OpenID Connect (OIDC) identity provider in IAM"): with sts.amazonaws.com alone nothing else gets in today
        yield (f"it does not pin {host}:aud to {AUDIENCE} (hardening, not exposure: the provider's only client id "
               f"is {AUDIENCE}, but a client id added later would widen this trust)")
    elif not auds or any(v != AUDIENCE for _, _, vs in auds for v in vs):
        yield f"it does not pin {host}:aud to {AUDIENCE}"
    if not subs:
        yield f"it does not pin {host}:sub, so every ServiceAccount of the cluster can assume it"
    elif any("Like" in op and any(c in v for c in "*?") for op, _, vs in subs for v in vs):
        yield f"its {host}:sub is a wildcard ({', '.join(v for _, _, vs in subs for v in vs)})"


def subjects(st: Mapping[str, Any]) -> list[str]:
    return [v.removeprefix("system:serviceaccount:").replace(":", "/", 1) for _, _, vs in _conditions(st, ":sub")
            for v in vs if v.startswith("system:serviceaccount:")]


def sub_patterns(st: Mapping[str, Any]) -> list[str]:
    """fnmatch patterns of the `ns/name`s the trust's :sub admits: StringLike expands `*` and `?`, StringEquals
    compares literally (IAM user guide, "IAM JSON policy elements: Condition operators")."""
    return ["".join(f"[{c}]" if c in "[]" or (c in "*?" and "Like" not in op) else c
                    for c in v.removeprefix("system:serviceaccount:").replace(":", "/", 1))
            for op, _, vs in _conditions(st, ":sub") for v in vs if v.startswith("system:serviceaccount:")]


def _annotated(idx: Index, ids: Identifiers, roles: Mapping[str, Resource]) -> Iterator[tuple[Resource, Resource]]:
    """(ServiceAccount, role) for each ServiceAccount whose role-arn annotation is a role of the stack."""
    by_arn = {a: r for r in roles.values() for a in ids.of(r) if a.startswith("arn:")}
    by_name = {n: r for r in roles.values() if (n := ids.name(r))}
    for sa in idx.of_type(SERVICE_ACCOUNT):
        value = sa.get("metadata", "annotations", ROLE_ANNOTATION)
        role = (by_arn.get(value) or (by_name.get(value.rsplit("/", 1)[-1]) if ":role/" in value else None)) \
            if isinstance(value, str) else None
        if role is None and value is not None:
            role = next((roles[u] for u in sa.property_dependencies.get("metadata", ()) if u in roles), None)
        if role is not None:
            yield sa, role


def accounts_of(idx: Index) -> set[str]:
    """`ns/name` of every ServiceAccount the stack creates: objects, charts (Release v3 and Chart v4 values
    `serviceAccount.name`), EKS add-ons."""
    found = set(service_accounts(idx))
    for chart in idx.of_type(RELEASE_V4):
        block = release_values(chart).get("serviceAccount")
        if isinstance(block, Mapping) and block.get("create", True) and isinstance(block.get("name"), str):
            found.add(f"{release_namespace(chart)}/{block['name']}")
    return found


def opaque_namespaces(idx: Index) -> set[str]:
    """Namespaces where something the stack applies is not known here: charts not rendered, or any namespace at all
    ("*") when a YAML ConfigGroup/ConfigFile registered no objects."""
    found = {release_namespace(r) for r in idx.of_type(RELEASE, RELEASE_V4) if r.urn not in idx.rendered_releases}
    parents = {r.parent for r in idx.stack.resources if r.parent}
    if any(r.type.startswith("kubernetes:yaml") and r.urn not in parents for r in idx.stack.resources):
        found.add("*")
    return found


def irsa_findings(idx: Index, ids: Identifiers, config: Mapping[str, Any]) -> Iterator[Finding]:
    providers = own_providers(idx, ids)
    provider_urns = {p.urn for p in idx.of_type(OIDC_PROVIDER, CLUSTER)}
    roles = {r.urn: r for r in idx.of_type(ROLE)}
    accounts = accounts_of(idx)
    unrendered = opaque_namespaces(idx)
    trusted: dict[str, list[str]] = {}
    patterns: dict[str, list[str]] = {}
    audiences = client_ids(idx)
    for role in roles.values():
        for st, host in _web_identity(role, providers, provider_urns):
            trusted.setdefault(role.urn, []).extend(subjects(st))
            patterns.setdefault(role.urn, []).extend(sub_patterns(st))
            serves = f" (serving ServiceAccount {', '.join(subjects(st))})" if subjects(st) else ""
            for problem in irsa_problems(st, host, audiences.get(host)):
                yield role, (f"IRSA role {label(role)}{serves} is assumable by more or other than its workload: "
                             f"{problem}")
            for subject in subjects(st):
                ns, _, name = subject.partition("/")
                if "*" in subject or subject in accounts or allowed(config, "externalServiceAccounts", ns, name) \
                        or ns in unrendered or "*" in unrendered:
                    continue  # (a chart not rendered here may create it under a name its templates derive)
                yield role, (f"IRSA role {label(role)} trusts ServiceAccount {subject}, which the stack does not "
                             "create: create it (annotated with the role's ARN) or fix the trust's :sub")
    annotated = set()
    for sa, role in _annotated(idx, ids, roles):
        ns, name = meta(sa)
        annotated.add((f"{ns or 'default'}/{name}", role.urn))
        if role.urn not in trusted:
            continue  # the role's trust names no provider of this stack: out of scope
        allowed_subjects = trusted[role.urn]
        if not any(fnmatch.fnmatchcase(f"{ns or 'default'}/{name}", s) for s in patterns[role.urn]):
            only = f"allows only {', '.join(allowed_subjects)}" if allowed_subjects else "pins no ServiceAccount"
            yield sa, (f"ServiceAccount {ns}/{name} ({sa.name}) carries role {label(role)}'s ARN, but the role's "
                       f"trust {only}: point the trust's :sub at system:serviceaccount:{ns}:{name}")
    for urn, subs in trusted.items():
        for subject in subs:
            ns, _, name = subject.partition("/")
            obj = idx.k8s.get(("ServiceAccount", ns, name))
            if obj is None or obj.get("metadata", "annotations", ROLE_ANNOTATION) is not None:
                continue  # annotated with some role: an unknown ARN is not judged, another role's is judged above
            if (subject, urn) not in annotated and not _pod_identity_for(idx, subject):
                yield obj, (f"IRSA role {label(roles[urn])} trusts ServiceAccount {subject} ({obj.name}), but the "
                           f"ServiceAccount does not carry {ROLE_ANNOTATION} = the role's ARN, so its pods get no "
                           "credentials: annotate it")


def _issuer_cluster(idx: Index, provider: Resource) -> Resource | None:
    """The EKS cluster an IAM OIDC provider belongs to: the one cluster its `url` (the issuer) comes from."""
    found = {u for u in provider.property_dependencies.get("url", ()) if (c := idx.get(u)) and c.type == CLUSTER}
    return idx.get(found.pop()) if len(found) == 1 else None


def _applied_to(obj: Resource, clusters: list[Resource]) -> Resource | None:
    """The cluster a Kubernetes object is applied to: the one cluster of the stack whose name its provider's
    kubeconfig names (a context/cluster entry, `aws eks get-token --cluster-name`); None when none or several do, or
    the object uses the ambient kubeconfig."""
    text = json.dumps(obj.provider_props or {})
    hits = [c for c in clusters if isinstance(n := c.get("name"), str) and n
            and re.search(rf"(?<![\w.-]){re.escape(n)}(?![\w.-])", text)]
    return hits[0] if len(hits) == 1 else None


def cluster_findings(idx: Index, ids: Identifiers, roles: Mapping[str, Resource]) -> Iterator[Finding]:
    """Several clusters (blue/green): each cluster has its own OIDC issuer, so the trust of the role a ServiceAccount
    carries must federate the provider of the cluster the ServiceAccount is applied to (EKS user guide, "Assign IAM
    roles to Kubernetes service accounts": the trust names the cluster's OIDC provider)."""
    clusters = idx.of_type(CLUSTER)
    if len(clusters) < 2:
        return
    issuers = {url.removeprefix("https://"): c for p in idx.of_type(OIDC_PROVIDER)
               if isinstance(url := p.get("url"), str) and (c := _issuer_cluster(idx, p)) is not None}
    providers, provider_urns = own_providers(idx, ids), {p.urn for p in idx.of_type(OIDC_PROVIDER, CLUSTER)}
    for sa, role in _annotated(idx, ids, roles):
        runs_in = _applied_to(sa, clusters)
        trusted = [issuers[host] for _, host in _web_identity(role, providers, provider_urns) if host in issuers]
        if runs_in is None or not trusted or any(c.urn == runs_in.urn for c in trusted):
            continue
        ns, name = meta(sa)
        other = ", ".join(sorted({label(c) for c in trusted}))
        yield sa, (f"ServiceAccount {ns}/{name} ({sa.name}) is applied to cluster {label(runs_in)} and carries role "
                   f"{label(role)}'s ARN, but the role's trust federates only the OIDC provider of cluster {other}: "
                   f"the tokens {label(runs_in)} issues are not accepted; federate {label(runs_in)}'s OIDC provider")


def provider_findings(idx: Index, ids: Identifiers) -> Iterator[Finding]:
    """An OIDC provider some IRSA role trusts must list sts.amazonaws.com as client id: the EKS Pod Identity
    Webhook projects tokens with that audience, and STS rejects a token whose aud is not a client id of the provider
    (EKS user guide, "Create an IAM OIDC provider for your cluster": Audience sts.amazonaws.com)."""
    providers, provider_urns = own_providers(idx, ids), {p.urn for p in idx.of_type(OIDC_PROVIDER, CLUSTER)}
    used = {host for role in idx.of_type(ROLE) for _, host in _web_identity(role, providers, provider_urns)}
    for p in idx.of_type(OIDC_PROVIDER):
        url, cids = p.get("url"), p.get("clientIdLists")
        host = url.removeprefix("https://") if isinstance(url, str) else None
        if host in used and isinstance(cids, list) and AUDIENCE not in cids:
            yield p, (f"IAM OIDC provider {p.name} lists client ids {', '.join(map(str, cids)) or '(none)'} without "
                      f"{AUDIENCE}, so STS rejects every IRSA token (aud {AUDIENCE}) of the roles trusting it: add "
                      f"{AUDIENCE} to clientIdLists")


POD_IDENTITY_AGENT = "eks-pod-identity-agent"


def agent_findings(idx: Index) -> Iterator[Finding]:
    """Pod Identity associations give credentials only through the node's agent (EKS user guide, "Set up the Amazon
    EKS Pod Identity Agent"): on a cluster the stack owns, without EKS Auto Mode (which runs it), the agent must be
    installed - the eks-pod-identity-agent add-on, its chart, or a DaemonSet of that name."""
    clusters = idx.of_type(CLUSTER)
    if not clusters or any(c.get("computeConfig", "enabled") in (True, UNKNOWN) for c in clusters):
        return
    if POD_IDENTITY_AGENT in idx.addons or idx.releases(POD_IDENTITY_AGENT) or any(
            meta(d)[1] == POD_IDENTITY_AGENT for d in idx.of_type("kubernetes:apps/v1:DaemonSet")):
        return
    for assoc in idx.of_type(POD_IDENTITY):
        yield assoc, (f"Pod Identity association {assoc.name} ({assoc.get('namespace')}/"
                      f"{assoc.get('serviceAccount')}) gives no credentials: the cluster has no "
                      f"{POD_IDENTITY_AGENT} (not Auto Mode): add the {POD_IDENTITY_AGENT} add-on")


def _pod_identity_for(idx: Index, subject: str) -> bool:
    return any(f"{a.get('namespace')}/{a.get('serviceAccount')}" == subject for a in idx.of_type(POD_IDENTITY))


def _assoc_role(idx: Index, ids: Identifiers, assoc: Resource) -> Resource | None:
    for urn in assoc.property_dependencies.get("roleArn", ()):
        role = idx.get(urn)
        if role is not None and role.type == ROLE:
            return role
    arn = assoc.get("roleArn")
    return next((r for r in idx.of_type(ROLE) if isinstance(arn, str) and arn in ids.of(r)), None)


def pod_identity_findings(idx: Index, ids: Identifiers, config: Mapping[str, Any]) -> Iterator[Finding]:
    accounts = accounts_of(idx)
    unrendered = opaque_namespaces(idx)
    for assoc in idx.of_type(POD_IDENTITY):
        ns, name, cluster = assoc.get("namespace"), assoc.get("serviceAccount"), assoc.get("clusterName")
        if not isinstance(ns, str) or not isinstance(name, str):
            continue
        if f"{ns}/{name}" not in accounts and not allowed(config, "externalServiceAccounts", ns, name) \
                and ns not in unrendered and "*" not in unrendered:
            yield assoc, (f"Pod Identity association {assoc.name} names ServiceAccount {ns}/{name}, which the stack "
                          "does not create: create it or fix the association")
        role = _assoc_role(idx, ids, assoc)
        if role is None:
            continue
        trust = [st for st in _trust(role) if POD_IDENTITY_SERVICE in as_list(
            (st.get("Principal") or {}).get("Service") if isinstance(st.get("Principal"), Mapping) else None)]
        actions = [a for st in trust for a in as_list(st.get("Action"))]
        lacking = [a for a in ("sts:AssumeRole", "sts:TagSession") if not matches(actions, a)]
        if lacking:
            yield assoc, (f"Pod Identity association {assoc.name} ({ns}/{name}) names role {label(role)}, whose trust "
                          f"does not allow {POD_IDENTITY_SERVICE} {', '.join(lacking)}: add a statement for "
                          f"Service {POD_IDENTITY_SERVICE} with sts:AssumeRole and sts:TagSession")
            continue
        context = {"aws:requesttag/kubernetes-namespace": ns, "aws:requesttag/kubernetes-service-account": name,
                   **({"aws:requesttag/eks-cluster-name": cluster} if isinstance(cluster, str) else {})}
        if not any(condition_holds(st, context) and matches(as_list(st.get("Action")), "sts:AssumeRole")
                   for st in trust):
            yield assoc, (f"Pod Identity association {assoc.name} ({ns}/{name}) names role {label(role)}, whose "
                          f"trust's conditions (aws:RequestTag/...) do not admit namespace {ns}, ServiceAccount "
                          f"{name}{f' and cluster {cluster}' if isinstance(cluster, str) else ''}: fix the tags")


@stack_policy(
    "mlops-inv-workload-identity",
    description="Every workload role is assumable by exactly its workload: an IRSA trust names this stack's OIDC "
                "provider with :aud = sts.amazonaws.com and :sub = one ServiceAccount the stack creates (no "
                "wildcard), that ServiceAccount carries the role's ARN, an annotated ServiceAccount is one the "
                "role trusts; a Pod Identity association names an existing ServiceAccount and a role trusting "
                "pods.eks.amazonaws.com (sts:AssumeRole + sts:TagSession) with session-tag conditions that admit it.",
    severity="high", pack=PACK,
    controls=("CIS-EKS 5.2.1", "CIS-EKS 4.1.5", "SOC2 CC6.3"),
    remediation="Build the role's trust from the ServiceAccount's namespace and name and the cluster's issuer "
                "(WorkloadIdentity does), annotate the ServiceAccount with the role's ARN (IRSA) or create the "
                "association (Pod Identity); list accounts made outside the stack in externalServiceAccounts.",
    config={"externalServiceAccounts": ALLOWLIST},
)
def workload_identity(stack: Stack, config: Mapping[str, Any]) -> Iterable[Finding]:
    idx, ids = index(stack), identifiers(stack)
    yield from irsa_findings(idx, ids, config)
    yield from cluster_findings(idx, ids, {r.urn: r for r in idx.of_type(ROLE)})
    yield from provider_findings(idx, ids)
    yield from pod_identity_findings(idx, ids, config)
    yield from agent_findings(idx)
