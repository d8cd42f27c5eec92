"""Prefect's Kubernetes work pool: the base job template every flow run's Job is rendered from, and the `prefect.yaml`
users deploy to it. Pure code (the component feeds it plain values from its outputs).

The template keeps the layout of the worker's default (prefect-kubernetes 0.8.0,
`KubernetesWorker.get_default_base_job_template()`: `job_configuration` with `{{ placeholders }}` and `variables`,
a JSON schema) drops `cluster_config` (the worker runs in the cluster it launches Jobs in; no kubeconfig block) and adds the
platform's rules: non-root pod and container security contexts, requests equal to
limits, the training pools' tolerations, an optional GPU limit and node selector, the flows' ServiceAccount (bound to
an IAM role) and the platform's environment (MLflow tracking URI, feature server URL).
tests/integration/test_prefect.py renders it with the real worker's job configuration class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..blocks import pod_security

GPU_RESOURCE = "nvidia.com/gpu"
SCRATCH = "/scratch"
"""An emptyDir in the flow-run container: HOME, TMPDIR and PREFECT_HOME (the root filesystem is read-only)."""


@dataclass(frozen=True)
class JobTemplateArgs:
    namespace: str
    service_account: str
    image: str
    cpu: str
    memory: str
    uid: int
    tolerations: Sequence[Mapping[str, str]] = ()
    node_selector: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    env_secrets: Sequence[str] = ()
    """Secrets whose keys every flow run gets as env vars (`envFrom`: the MLflow credentials). Default: none."""


def _string(title: str, description: str, default: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"title": title, "description": description, "type": "string"}
    if default is not None:
        out["default"] = default
    return out


def _variables(args: JobTemplateArgs) -> dict[str, Any]:
    """The JSON schema of the job variables a deployment may set (defaults are the platform's)."""
    props: dict[str, Any] = {
        "name": _string("Name", "Name given to infrastructure created by the worker."),
        "env": {"title": "Environment Variables", "type": "object", "default": dict(args.env),
                "description": "Environment variables of the flow run (default: the platform's MLflow and feature "
                               "server URLs).", "additionalProperties": {"type": "string"}},
        "labels": {"title": "Labels", "type": "object", "additionalProperties": {"type": "string"},
                   "description": "Labels of the Job."},
        "command": _string("Command", "The command the container runs (default: the flow run's)."),
        "annotations": {"title": "Annotations", "type": "object", "additionalProperties": {"type": "string"},
                        "description": "Annotations of the Job."},
        "namespace": _string("Namespace", "The flow runs' namespace.", args.namespace),
        "image": _string("Image", "Image of the flow-run container.", args.image),
        "service_account_name": _string("Service Account Name", "The flows' ServiceAccount (its IAM role reads "
                                        "the feature store and writes model artifacts).", args.service_account),
        "image_pull_policy": {"title": "Image Pull Policy", "type": "string", "default": "IfNotPresent",
                              "enum": ["IfNotPresent", "Always", "Never"], "description": "Image pull policy."},
        "backoff_limit": {"title": "Backoff Limit", "type": "integer", "minimum": 0, "default": 0,
                          "description": "Job retries (Prefect retries flows itself)."},
        "finished_job_ttl": {"title": "Finished Job TTL", "type": "integer", "default": 3600,
                             "description": "Seconds a finished Job is kept."},
        "job_watch_timeout_seconds": {"title": "Job Watch Timeout", "type": "integer",
                                      "description": "Seconds to watch the Job (default: no limit)."},
        "pod_watch_timeout_seconds": {"title": "Pod Watch Timeout", "type": "integer", "default": 300,
                                      "description": "Seconds to wait for the pod to start."},
        "stream_output": {"title": "Stream Output", "type": "boolean", "default": True,
                          "description": "Stream the pod's output to the worker's log."},
        "cpu": _string("CPU", "CPU of the flow run (request = limit).", args.cpu),
        "memory": _string("Memory", "Memory of the flow run (request = limit).", args.memory),
        "gpu_limit": {"title": "GPUs", "type": "integer", "minimum": 1,
                      "description": "NVIDIA GPUs of the flow run (default: none)."},
        "node_selector": {"title": "Node Selector", "type": "object", "default": dict(args.node_selector),
                          "additionalProperties": {"type": "string"},
                          "description": "Node selector, e.g. {\"mlops.io/gpu-pool\": \"<pool>\"}."},
    }
    return {"type": "object", "properties": props}


def _pod_spec(args: JobTemplateArgs) -> dict[str, Any]:
    amounts = {"cpu": "{{ cpu }}", "memory": "{{ memory }}", GPU_RESOURCE: "{{ gpu_limit }}"}
    container = {
        "name": "prefect-job",
        "image": "{{ image }}",
        "imagePullPolicy": "{{ image_pull_policy }}",
        "args": "{{ command }}",
        "env": "{{ env }}",
        **({"envFrom": [{"secretRef": {"name": n}} for n in args.env_secrets]} if args.env_secrets else {}),
        "resources": {"requests": dict(amounts), "limits": dict(amounts)},
        "securityContext": pod_security.helm_container_security_context(),
        "volumeMounts": [{"name": "scratch", "mountPath": SCRATCH}],
    }
    return {
        # The worker refuses a manifest without these two (prefect-kubernetes 0.8.0 `_job_manifest_is_valid`
        # requires them at this path, as its own default template places them).
        "completions": 1,
        "parallelism": 1,
        "serviceAccountName": "{{ service_account_name }}",
        "restartPolicy": "Never",
        "securityContext": pod_security.helm_pod_security_context(args.uid),
        "tolerations": [dict(t) for t in args.tolerations],
        "nodeSelector": "{{ node_selector }}",
        "containers": [container],
        "volumes": [{"name": "scratch", "emptyDir": {}}],
    }


def base_job_template(args: JobTemplateArgs) -> dict[str, Any]:
    """The work pool's base job template (the document `prefect work-pool create --base-job-template` reads)."""
    return {
        "job_configuration": {
            "command": "{{ command }}",
            "env": "{{ env }}",
            "labels": "{{ labels }}",
            "name": "{{ name }}",
            "annotations": "{{ annotations }}",
            "namespace": "{{ namespace }}",
            "job_manifest": {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"annotations": "{{ annotations }}", "generateName": "{{ name }}-",
                             "labels": "{{ labels }}", "namespace": "{{ namespace }}"},
                "spec": {"backoffLimit": "{{ backoff_limit }}", "ttlSecondsAfterFinished": "{{ finished_job_ttl }}",
                         "template": {"spec": _pod_spec(args)}},
            },
            "job_watch_timeout_seconds": "{{ job_watch_timeout_seconds }}",
            "pod_watch_timeout_seconds": "{{ pod_watch_timeout_seconds }}",
            "stream_output": "{{ stream_output }}",
        },
        "variables": _variables(args),
    }


def platform_env(env: Mapping[str, str]) -> dict[str, str]:
    """The flow-run environment: the platform's URLs, plus HOME, TMPDIR and PREFECT_HOME on the writable emptyDir."""
    return {**dict(env), "HOME": SCRATCH, "TMPDIR": SCRATCH, "PREFECT_HOME": f"{SCRATCH}/.prefect"}


def project_yaml(*, work_pool: str, prefect_version: str, image: str, flows_dir: str = "/opt/prefect/flows",
                 deployments: Sequence[Mapping[str, Any]] = ()) -> str:
    """A `prefect.yaml` whose deployments run on the work pool (flow code baked into `image` under `flows_dir`).
    `deployments`: entries with `name` and `entrypoint` (and optional `job_variables`, `schedules`)."""
    doc = {
        "name": "mlops-flows",
        "prefect-version": prefect_version,
        "build": None,
        "push": None,
        "pull": [{"prefect.deployments.steps.set_working_directory": {"directory": flows_dir}}],
        "deployments": [
            {"name": d["name"], "entrypoint": d["entrypoint"], "schedules": list(d.get("schedules", [])),
             "work_pool": {"name": work_pool,
                           "job_variables": {"image": image, **dict(d.get("job_variables", {}))}}}
            for d in deployments
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)
