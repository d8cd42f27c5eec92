"""What each orchestration engine checks against the cluster and VPC it is handed, before it registers anything.

The platform validates its whole config up front (`platform/config.py`: `orchestration_problems`,
`namespace_problems`); an engine used alone (examples/<engine>, a consumer stack) gets its facts from `ClusterRefs`
and `NetworkRefs` instead, read from the platform stack's outputs. The same rules hold in both, so each engine runs
these checks itself: one `ConfigError` lists every problem, named by the config path the engine was given.

- `ui.ingress` needs the AWS Load Balancer Controller: an Ingress of class `alb` that no controller serves never
  gets an address, and pulumi-kubernetes waits for `status.loadBalancer` until it times out (a chart's Ingress just
  never gets an ALB);
- a namespace another stack's components own (`ClusterRefs.occupied_namespaces`, the platform's
  `platformNamespaces` output) is neither created again nor shared: the engine would register the namespace and its
  fixed-name objects (the rotation restarter's ServiceAccount, Role, Deployment...) a second time, which the API
  server refuses (AlreadyExists);
- on a VPC whose S3 gateway endpoint is guarded (`NetworkRefs.s3_endpoint_bucket_prefixes`, the platform's
  `consumerBucketPrefixes` output), a bucket the engine creates must be named under an admitted prefix, or the
  endpoint policy denies every request its pods make to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..blocks.refs import ClusterRefs, NetworkRefs
from ..config.base import Problem
from ..config.errors import ConfigError
from .config import UiConfig
from .refs import EngineRefs

INGRESS_CLASS = "alb"
LOAD_BALANCER_NEEDED = (
    f"the UI's Ingress has class `{INGRESS_CLASS}`, which only the AWS Load Balancer Controller serves, and the "
    "cluster runs none (ClusterRefs.load_balancer_controller is false: the platform's `loadBalancerController` "
    "output, set by cluster.loadBalancerController); without it the Ingress never gets an address and "
    "`pulumi up` times out waiting for one: set ui.ingress false (port-forward the ClusterIP Service) or run the "
    "controller on the cluster")


def ui_problems(ui: UiConfig, cluster: ClusterRefs) -> Iterable[Problem]:
    """`ui.ingress` on a cluster without the AWS Load Balancer Controller (paths relative to the engine's config)."""
    if ui.ingress and not cluster.load_balancer_controller:
        yield "ui.ingress", LOAD_BALANCER_NEEDED


def namespace_problems(namespace: str, cluster: ClusterRefs) -> Iterable[Problem]:
    """The engine's namespace is another stack's (the platform's engines, teams, services)."""
    if namespace in cluster.occupied_namespaces:
        yield "namespace", (
            f"namespace {namespace!r} already belongs to the platform stack (its `platformNamespaces` output): this "
            "engine would create it, or its fixed-name objects (the rotation restarter's ServiceAccount, Role and "
            "Deployment...), a second time, which the API server refuses (AlreadyExists); give the engine a "
            "namespace of its own")


def bucket_problems(bucket_names: Sequence[str], network: NetworkRefs) -> Iterable[Problem]:
    """Buckets (their Pulumi names: S3 autonames `<name>-<random>`) that a guarded S3 gateway endpoint denies."""
    prefixes = network.s3_endpoint_bucket_prefixes
    if prefixes is None:
        return
    for bucket in bucket_names:
        if not any(bucket.startswith(f"{prefix}-") for prefix in prefixes):
            admitted = ", ".join(f"`{p}-*`" for p in prefixes) or "none"
            yield "", (
                f"bucket {bucket!r} (autonamed `{bucket}-<random>`) is outside the names the VPC's guarded S3 gateway "
                f"endpoint admits for consumer stacks ({admitted}: the platform's `consumerBucketPrefixes` output), "
                "so every request its pods make to it would be denied: add a prefix of this name to the platform's "
                "securityBaseline.consumerBucketPrefixes, or name the engine under an admitted prefix")


def engine_problems(refs: EngineRefs, namespace: str, ui: UiConfig | None = None,
                    buckets: Sequence[str] = ()) -> list[Problem]:
    """Every check above for one engine: its namespace, its UI (None: it has no Ingress) and its buckets' names."""
    return [*(ui_problems(ui, refs.cluster) if ui is not None else ()), *namespace_problems(namespace, refs.cluster),
            *bucket_problems(buckets, refs.network)]


def refuse(source: str, path: str, problems: Iterable[Problem]) -> None:
    """Raise one `ConfigError` (`source`: the component's name) listing `problems` under `path`, if any."""
    lines = [f"{path}.{p}: {message}" if p else f"{path}: {message}" for p, message in problems]
    if lines:
        raise ConfigError(lines, source=source)
