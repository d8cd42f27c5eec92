"""What every component checks against the platform's facts before it registers a namespace or a bucket.

A component used alone (examples/<component>, a consumer stack) gets the platform stack's facts from its refs:
`ClusterRefs.occupied_namespaces` (the platform's `platformNamespaces` output) and
`NetworkRefs.s3_endpoint_bucket_prefixes` (its `consumerBucketPrefixes` output). Inside the platform's own
composition both are empty/None (it owns its namespaces and its endpoint policy admits its own buckets), so these
checks never fire there.

- a namespace another stack's components own is neither created again nor shared: the component would register
  the namespace, or its fixed-name objects (ServiceAccounts, Roles, Secrets, the rotation restarter...), a second
  time, which the API server refuses (AlreadyExists);
- a client namespace another stack holds to default-deny egress (`ClusterRefs.egress_guarded_namespaces`, the
  platform's `egressGuardedNamespaces`) reaches the component's Service only on a port that stack admits
  (`ClusterRefs.consumer_service_ports`, its `consumerServicePorts`): a grant it cannot use is refused;
- on a VPC whose S3 gateway endpoint is guarded, a bucket the component's pods use must be named under an admitted
  prefix, or the endpoint policy denies every request those pods make to it.

Each returns a message (None: no problem), for `refs.refuse` or a component's own error, so one error lists every
problem of a component.
"""

from __future__ import annotations

from collections.abc import Iterable

from .endpoints import ServicePort
from .refs import ClusterRefs, NetworkRefs


def occupied_namespace_problem(namespace: str, cluster: ClusterRefs) -> str | None:
    """`namespace` belongs to the platform stack the cluster came from, or None."""
    if namespace not in cluster.occupied_namespaces:
        return None
    return (f"namespace {namespace!r} already belongs to the platform stack (its `platformNamespaces` output): this "
            "component would create it, or its fixed-name objects (the rotation restarter's ServiceAccount, Role and "
            "Deployment...), a second time, which the API server refuses (AlreadyExists); give the component a "
            "namespace of its own")


def occupied_namespace_problems(namespaces: Iterable[str], cluster: ClusterRefs) -> list[str]:
    """`occupied_namespace_problem` for each namespace a component creates."""
    return [p for p in (occupied_namespace_problem(ns, cluster) for ns in namespaces) if p]


def guarded_bucket_problem(bucket: str, network: NetworkRefs | None) -> str | None:
    """`bucket` (its Pulumi name: S3 autonames `<name>-<random>`) is one a guarded S3 gateway endpoint denies, or
    None (no guarded endpoint known: `network` None or its `s3_endpoint_bucket_prefixes` None)."""
    prefixes = None if network is None else network.s3_endpoint_bucket_prefixes
    if prefixes is None or any(bucket.startswith(f"{prefix}-") for prefix in prefixes):
        return None
    admitted = ", ".join(f"`{p}-*`" for p in prefixes) or "none"
    return (f"bucket {bucket!r} (autonamed `{bucket}-<random>`) is outside the names the VPC's guarded S3 gateway "
            f"endpoint admits for consumer stacks ({admitted}: the platform's `consumerBucketPrefixes` output), so "
            "every request its pods make to it would be denied: add a prefix of this name to the platform's "
            "securityBaseline.consumerBucketPrefixes, or name the component under an admitted prefix")


def guarded_bucket_problems(buckets: Iterable[str], network: NetworkRefs | None) -> list[str]:
    """`guarded_bucket_problem` for each bucket a component's pods use."""
    return [p for p in (guarded_bucket_problem(b, network) for b in buckets) if p]


def guarded_client_problems(clients: Iterable[object], ports: Iterable[ServicePort],
                            cluster: ClusterRefs) -> list[str]:
    """Each client namespace granted the component's `ports` (each its pod's port, what a NetworkPolicy judges)
    whose pods another stack holds to default-deny egress without admitting that port: the grant would admit
    traffic that never leaves the client's pods. A client given as an Output is not known now and is not judged
    (the platform's own composition passes its namespaces so; its guard admits its own components)."""
    guarded = sorted({c for c in clients if isinstance(c, str) and c in cluster.egress_guarded_namespaces})
    missing = sorted({p for p in ports if p not in cluster.consumer_service_ports})
    if not guarded or not missing:
        return []
    fix = ", ".join(f"`{{namespace: {p.namespace}, port: {p.port}}}`" for p in missing)
    return [f"client namespace {ns!r} is held to default-deny egress by the platform's exfiltration guards (its "
            f"`egressGuardedNamespaces` output; NetworkPolicy `allow-platform-egress`), which admit other stacks' "
            f"Services only on the ports its `consumerServicePorts` output lists, so its pods could not reach this "
            f"component: add {fix} to the platform's securityBaseline.consumerServicePorts and run `pulumi up` on "
            f"{_guard_writer(ns, cluster)}, or grant a namespace it does not guard" for ns in guarded]


def _guard_writer(namespace: str, cluster: ClusterRefs) -> str:
    """Where `pulumi up` rewrites `namespace`'s guard: the platform stack for its teams; for a team workspace (the
    platform's `egressGuardedWorkspaces` output), the platform stack and then the workspace stack, which writes its
    namespace's guard from the platform's `teamWorkspace.egressRules`."""
    if namespace in cluster.egress_guarded_workspaces:
        return (f"the platform stack, then on the team workspace stack of namespace {namespace!r} (it writes that "
                "namespace's guard from the platform's `teamWorkspace.egressRules`; its pods stay blocked until its "
                "next `pulumi up`)")
    return "the platform stack (it writes that namespace's guard)"
