"""Kubernetes workloads: resources (GPU too), images, service-account tokens, namespaces.

Split from k8s_workloads.py (pod security); the same rules for direct objects and Helm values apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from mlops_infra.plan.kube_identity import provider_namespace

from .core import NotApplicable, Resource, dig, env_applies, is_unknown, known, resource_policy
from .k8s_workloads import (
    EXTENDED,
    HELM,
    NAMESPACED,
    POD_CONTROLS,
    SERVICE_ACCOUNT,
    WORKLOADS,
    containers,
    helm_values,
    kind_of,
    pod_spec,
    security_subjects,
    walk,
    workload_policy,
)

REQUIRED = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory")


def _missing(resources: Mapping[str, Any]) -> list[str]:
    return [k for k in REQUIRED if dig(resources, *k.split(".")) in (None, "")]


def _is_volume_claim(resources: Mapping[str, Any]) -> bool:
    """A PersistentVolumeClaim's `resources` (requests.storage) is not a container's."""
    return any(isinstance(resources.get(k), Mapping) and "storage" in resources[k] for k in ("requests", "limits"))


def _resource_mappings(values: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for parent, key, value in walk(values):
        if (key == "resources" and isinstance(value, Mapping) and (not value or {"requests", "limits"} & set(value))
                and not _is_volume_claim(value)):
            yield f"{parent}.{key}", value


@workload_policy(
    "mlops-k8s-requests-limits", helm=True,
    description="Containers set CPU and memory requests and limits.",
    severity="medium",
    controls=("CKV_K8S_10", "CKV_K8S_11", "CKV_K8S_12", "CKV_K8S_13", "SOC2 A1.1"),
    remediation="Set resources.requests and resources.limits for cpu and memory on every container.",
)
def requests_limits(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if res.type in HELM:
        for path, resources in _resource_mappings(helm_values(res)):
            missing = _missing(resources)
            if missing:
                yield f"{path} is missing {', '.join(missing)}"
        return
    for name, c in containers(pod_spec(res)):
        declared = c.get("resources")
        if is_unknown(declared):
            continue
        missing = _missing(declared if isinstance(declared, Mapping) else {})
        if missing:
            yield f"container '{name}' is missing {', '.join(missing)}"


def _extended_problems(resources: Mapping[str, Any]) -> Iterator[str]:
    raw_requests, raw_limits = resources.get("requests"), resources.get("limits")
    requests: Mapping[str, Any] = raw_requests if isinstance(raw_requests, Mapping) else {}
    limits: Mapping[str, Any] = raw_limits if isinstance(raw_limits, Mapping) else {}
    for key in EXTENDED:
        if key in requests and key not in limits:
            yield f"requests {key} without a limit"
        elif key in requests and key in limits and str(requests[key]) != str(limits[key]):
            yield f"requests {requests[key]} {key} but limits {limits[key]}"


@workload_policy(
    "mlops-k8s-gpu-limits", helm=True,
    description="GPU and other accelerator requests are matched by equal limits.",
    severity="medium",
    controls=("CKV_K8S_11", "SOC2 A1.1"),
    remediation="Set the accelerator (e.g. nvidia.com/gpu) in resources.limits, equal to the request.",
)
def gpu_limits(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if res.type in HELM:
        for path, resources in _resource_mappings(helm_values(res)):
            for problem in _extended_problems(resources):
                yield f"{path} {problem}"
        return
    for name, c in containers(pod_spec(res)):
        declared = c.get("resources")
        if isinstance(declared, Mapping):
            for problem in _extended_problems(declared):
                yield f"container '{name}' {problem}"


def _image_problem(image: str) -> str | None:
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image} has no tag"
    if last.rsplit(":", 1)[-1] == "latest":
        return f"image {image} uses the latest tag"
    return None


@workload_policy(
    "mlops-k8s-image-pinned", helm=True,
    description="Images are pinned to a version tag or digest, never latest.",
    severity="medium",
    controls=("CKV_K8S_14", "SOC2 CC8.1", "PCI-DSS 6.3.2"),
    remediation="Pin the image to a release tag (or better, a sha256 digest).",
)
def image_pinned(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if res.type in HELM:
        for parent, key, value in walk(helm_values(res)):
            if key == "image" and isinstance(value, Mapping) and value.get("tag") == "latest":
                yield f"{parent}.image.tag is latest"
            elif key == "image" and isinstance(value, str) and value.endswith(":latest"):
                yield f"{parent}.image uses the latest tag"
        return
    for name, c in containers(pod_spec(res)):
        image = c.get("image")
        if isinstance(image, str):
            problem = _image_problem(image)
            if problem:
                yield f"container '{name}' {problem}"


PROD_ONLY = {"environments": {"type": "array", "items": {"type": "string"}, "default": ["prod"],
                              "description": "Environments the rule applies in."}}


def _helm_images(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(values path, image reference) for every `image` the release's values set (`repo:tag`, or a mapping)."""
    for parent, key, value in walk(values):
        if key != "image":
            continue
        if isinstance(value, str):
            yield f"{parent}.image", value
        elif isinstance(value, Mapping) and isinstance(value.get("tag"), str):
            digest = value.get("digest")
            yield f"{parent}.image", f"{value.get('repository', '')}:{value['tag']}" + (
                f"@{digest}" if isinstance(digest, str) and digest else "")


@workload_policy(
    "mlops-k8s-image-digest", helm=True,
    description="In prod, images are pinned by sha256 digest (a tag can be moved to other bits).",
    severity="low", strictness="advisory",
    controls=("CKV_K8S_43", "SOC2 CC8.1"),
    remediation="Reference the image as <repository>:<tag>@sha256:<digest> (or set the chart's image.digest).",
    config=PROD_ONLY,
)
def image_digest(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    env_applies(config)
    images = _helm_images(helm_values(res)) if res.type in HELM else (
        (f"container '{name}' image", c.get("image")) for name, c in containers(pod_spec(res)))
    for where, image in images:
        if isinstance(image, str) and "@sha256:" not in image:
            yield f"{where} {image} is not pinned by digest"


HIGH_UID = 10000


@workload_policy(
    "mlops-k8s-high-uid", helm=True,
    description=f"In prod, containers run as a UID of {HIGH_UID} or more, clear of the node's own users.",
    severity="low", strictness="advisory",
    controls=("CKV_K8S_40", *POD_CONTROLS),
    remediation=f"Set runAsUser (and runAsGroup) to {HIGH_UID} or more, e.g. 65532, in the pod securityContext.",
    config=PROD_ONLY,
)
def high_uid(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    env_applies(config)
    for s in security_subjects(res):
        user = s.setting("runAsUser", inherit=True)
        if isinstance(user, int) and not isinstance(user, bool) and 0 < user < HIGH_UID:  # 0: run-as-non-root
            yield s.problem(f"runAsUser is {user}, under {HIGH_UID}", f"runs as UID {user}, under {HIGH_UID}")
        elif user is None and s.complete:
            yield s.problem("", "does not set runAsUser (the image's user decides)")


@resource_policy(
    "mlops-k8s-sa-token-automount",
    types=[SERVICE_ACCOUNT, *WORKLOADS],
    description="Service account tokens are mounted only where a workload declares it needs the Kubernetes API, "
                "through a dedicated service account (never the namespace's default one).",
    severity="medium", pack="mlops-security",
    controls=("CKV_K8S_38", "CIS-EKS 4.1.6", *POD_CONTROLS),
    remediation="Set automountServiceAccountToken: false on the ServiceAccount (true only for controllers that "
                "call the API), and give pods a dedicated service account.",
)
def sa_token_automount(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if res.type == SERVICE_ACCOUNT:
        automount = known(res.get("automountServiceAccountToken"), "automountServiceAccountToken")
        if res.get("metadata", "name") == "default" and automount is not False:
            # Every pod that names no account runs as `default`: a declared need there is everyone's token.
            yield (f"the namespace's default service account mounts its token into every pod that names no account "
                   f"(automountServiceAccountToken: {'true' if automount else 'unset'}); set it to false and give "
                   "the pods that call the API a dedicated ServiceAccount")
        elif automount is None:
            yield "service account does not set automountServiceAccountToken (defaults to true)"
        return
    spec = pod_spec(res)
    account = spec.get("serviceAccountName") or spec.get("serviceAccount")
    automount = spec.get("automountServiceAccountToken")
    if account not in (None, "default"):
        return
    if automount is True:
        yield ("pod mounts the token of the default service account (automountServiceAccountToken: true); a pod "
               "that needs the Kubernetes API needs a dedicated ServiceAccount")
    elif automount is None:
        yield "pod mounts the token of the default service account"


def _secret_env(spec: Mapping[str, Any]) -> Iterator[str]:
    for name, c in containers(spec):
        env, env_from = c.get("env"), c.get("envFrom")
        for e in env if isinstance(env, list) else []:
            if isinstance(e, Mapping) and isinstance(e.get("valueFrom"), Mapping) and "secretKeyRef" in e["valueFrom"]:
                yield f"container '{name}' reads Secret key into env {e.get('name')} (valueFrom.secretKeyRef)"
        for e in env_from if isinstance(env_from, list) else []:
            if isinstance(e, Mapping) and isinstance(e.get("secretRef"), Mapping):
                yield f"container '{name}' loads Secret {e['secretRef'].get('name')} into env (envFrom.secretRef)"


@workload_policy(
    "mlops-k8s-secrets-as-files", helm=True,
    description="Containers read Secrets from mounted files rather than environment variables (env is copied into "
                "crash dumps, child processes and `kubectl describe`-adjacent tooling).",
    severity="low", strictness="advisory",
    controls=("CKV_K8S_35",),
    remediation="Mount the Secret as a volume (projected, read-only) and point the application at the file "
                "(e.g. *_FILE variables); keep env for non-secret settings.",
)
def secrets_as_files(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if res.type in HELM:
        for parent, key, value in walk(helm_values(res)):
            if key == "secretKeyRef" and parent.endswith("valueFrom") and isinstance(value, Mapping):
                yield f"{parent}.secretKeyRef reads Secret {value.get('name')} into env"
            elif key == "secretRef" and "envFrom" in parent and isinstance(value, Mapping):
                yield f"{parent}.secretRef loads Secret {value.get('name')} into env"
        return
    yield from _secret_env(pod_spec(res))


BUILT_INS = frozenset({("ServiceAccount", "default"), ("Service", "kubernetes"), ("ConfigMap", "kube-root-ca.crt")})
"""Objects Kubernetes itself creates: every namespace's `default` ServiceAccount and `kube-root-ca.crt` ConfigMap
(the service-account and root-CA-publisher controllers) and the API server's `kubernetes` Service in `default`."""


def _namespace(res: Resource) -> Any:
    if res.type in HELM:
        return res.get("namespace")
    return res.get("metadata", "namespace")


def _provider_default_namespace(props: Mapping[str, Any]) -> str:
    """Where the provider puts an object that names no namespace: its `namespace`, else its kubeconfig context's
    (the same reading as the strict plan's), else `default` for the ambient kubeconfig `pulumi up` reads."""
    if is_unknown(props.get("namespace")) or is_unknown(props.get("kubeconfig")) or is_unknown(props.get("context")):
        raise NotApplicable("the provider's namespace is not known yet")
    return provider_namespace(props) or "default"


@resource_policy(
    "mlops-k8s-no-default-namespace",
    types=[*NAMESPACED, *HELM],
    description="Workloads and their objects live in a dedicated namespace, not default.",
    severity="low", pack="mlops-security",
    controls=("CKV_K8S_21", "CIS-EKS 4.6.3", "SOC2 CC6.1"),
    remediation="Set metadata.namespace (or the release's namespace) to the team's or component's namespace.",
)
def no_default_namespace(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if res.type not in HELM and (kind_of(res.type), res.get("metadata", "name")) in BUILT_INS:
        return  # Kubernetes creates it there; a program may only adopt or patch it
    namespace = known(_namespace(res), "namespace")
    if namespace is None:
        namespace = _provider_default_namespace(res.provider_props or {})
    if namespace == "default":
        yield "object is in the default namespace"
