"""The Kubernetes objects and Helm values of model serving, as plain data (no Pulumi), read against KServe v0.20.0.

- InferenceService (serving.kserve.io/v1beta1): `serving.kserve.io/deploymentMode: Standard` (v0.20.0 renamed
  RawDeployment to Standard, pkg/constants/constants.go; a plain Deployment + Service + HPA, no Knative/Istio),
  autoscaler class hpa on CPU; `spec.canary` (Standard mode only, inference_service_validation.go).
- Predictor pods carry `serving.kserve.io/inferenceservice: <name>` and `component: predictor`
  (pkg/controller/v1beta1/inferenceservice/components/predictor.go buildObjectMeta), stable and canary alike, and
  `app: isvc.<Deployment name>` (reconcilers/deployment createRawDefaultDeployment); the Deployment is
  `<name>-predictor` (a canary's `<name>-canary-predictor`). KServe makes no PodDisruptionBudget: the component
  makes one per model over both, and the predictor's pod spec (passed through to both Deployments: MergePodSpec,
  buildCanaryPredictor copies the stable predictor) spreads the replicas over zones and nodes.
- S3 with IRSA: the credential builder (pkg/credentials/service_account_credentials.go) adds the S3 settings to the
  storage initializer when the ServiceAccount carries `eks.amazonaws.com/role-arn`; region/endpoint come from the
  `serving.kserve.io/s3-*` annotations, else from the chart's `kserve.storage.s3.*` (set below). No access keys.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..compute.gpu_config import POOL_LABEL, TaintConfig
from .config import ExposureConfig, ServedModelConfig
from .runtimes import HTTP_PORT, RUNTIME_OF, health_path, runtime_for

ISVC_API = "serving.kserve.io/v1beta1"
PREDICTOR_SELECTOR = {"component": "predictor"}
ISVC_POD_LABEL = "serving.kserve.io/inferenceservice"
REGISTERED_MODEL_ANNOTATION = "mlops.io/registered-model"
CANARY_NAME = "canary"
KSERVE_CONTROLLER = "kserve-controller-manager"
"""The Deployment kserve-resources v0.20.0 renders (files/kserve/resources.yaml); its pods run the webhooks."""
KSERVE_CONTROLLER_SELECTOR = {"control-plane": KSERVE_CONTROLLER}
KSERVE_CONTROLLER_REPLICAS = 2
"""Two controller pods: the chart has no replica value (its Deployment sets none) but starts the manager with
`--leader-elect`, so one reconciles and both serve the webhooks (controller-runtime's webhook server needs no
leadership). KServe's pod mutator is `failurePolicy: Fail`: with one pod, no predictor pod is created while it is
rescheduled in a drain."""


def storage_uri(bucket: str, artifact_path: str) -> str:
    return f"s3://{bucket}/{artifact_path}"


def tolerations(taint: TaintConfig | None) -> list[dict[str, str]]:
    """Exactly the inference pool's taint: nothing else (training pools keep their own taints)."""
    if taint is None:
        return []
    return [{"key": taint.key, "operator": "Equal", "value": taint.value, "effect": taint.k8s_effect}]


def _model(m: ServedModelConfig, uri: str) -> dict[str, Any]:
    rt = runtime_for(m.flavour, m.gpus)
    amounts = {"cpu": m.cpu, "memory": m.memory, **({"nvidia.com/gpu": str(m.gpus)} if m.gpus else {})}
    return {"modelFormat": {"name": rt.model_format}, "runtime": rt.name, "storageUri": uri,
            "resources": {"requests": dict(amounts), "limits": dict(amounts)}}


def predictor_pod_selector(model: str) -> dict[str, str]:
    """The labels KServe v0.20.0 puts on every predictor pod of `model`, stable and canary (none on other models')."""
    return {ISVC_POD_LABEL: model, **PREDICTOR_SELECTOR}


def topology_spread(model: str) -> list[dict[str, Any]]:
    """Spread the model's predictor pods over zones, then nodes: a preference (ScheduleAnyway), so a pool in one
    zone or a short node supply never leaves a replica unscheduled."""
    return [{"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": predictor_pod_selector(model)}}
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")]


def disruption_budget_spec(selector: Mapping[str, str]) -> dict[str, Any]:
    """At most one pod evicted at a time, and never a blocked drain: `maxUnavailable: 1` lets a one-replica model's
    only pod go (a `minAvailable: 1` would refuse that eviction forever), and `AlwaysAllow` lets a pod that is not
    ready go even while the budget is spent (policy/v1, Kubernetes >= 1.27 default on, GA 1.31)."""
    return {"maxUnavailable": 1, "unhealthyPodEvictionPolicy": "AlwaysAllow",
            "selector": {"matchLabels": dict(selector)}}


def inference_service(m: ServedModelConfig, *, bucket: str, namespace: str, service_account: str,
                      gpu_taint: TaintConfig | None = None) -> dict[str, Any]:
    """The whole InferenceService object for one served model."""
    annotations = {"serving.kserve.io/deploymentMode": "Standard", "serving.kserve.io/autoscalerClass": "hpa"}
    if m.registered_model:
        annotations[REGISTERED_MODEL_ANNOTATION] = m.registered_model
    predictor: dict[str, Any] = {
        "serviceAccountName": service_account,
        "minReplicas": m.min_replicas, "maxReplicas": m.max_replicas,
        "scaleMetric": "cpu", "scaleTarget": m.cpu_target_percent,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "topologySpreadConstraints": topology_spread(m.name),
        "model": _model(m, storage_uri(bucket, m.artifact_path)),
    }
    if m.gpu_pool:
        predictor["nodeSelector"] = {POOL_LABEL: m.gpu_pool}
        predictor["tolerations"] = tolerations(gpu_taint)
    spec: dict[str, Any] = {"predictor": predictor}
    if m.canary:
        # The canary's model is a container whose `name` KServe v0.20.0's CRD requires (canary[].predictor.model
        # required: [modelFormat, name]); the main predictor's defaults to kserve-container, so the canary's is too.
        spec["canary"] = [{"predictor": {"name": CANARY_NAME, "model": {
                               **_model(m, storage_uri(bucket, m.canary.artifact_path)), "name": "kserve-container"}},
                           "trafficPercent": m.canary.traffic_percent}]
    return {"apiVersion": ISVC_API, "kind": "InferenceService",
            "metadata": {"name": m.name, "namespace": namespace, "annotations": annotations,
                         "labels": {"mlops.io/model": m.name, "app.kubernetes.io/part-of": "mlops-platform"}},
            "spec": spec}


def predictor_service(model: str) -> str:
    """The Service KServe creates for the predictor in Standard mode (port 80 -> the model server's 8080)."""
    return f"{model}-predictor"


def canary_service(model: str) -> str:
    """The canary's own Deployment and Service in Standard mode: kserve v0.20.0 reconcileCanaryDeployments names
    them `constants.PredictorServiceName(isvc, canary.predictor.name)` = `<model>-<canary name>-predictor`, and the
    stable Service selects only the stable pods (`app: isvc.<model>-predictor`), so nothing reaches the canary
    unless a router in front weights the two Services."""
    return f"{model}-{CANARY_NAME}-predictor"


def kserve_replica_floors(m: ServedModelConfig) -> tuple[int, int]:
    """(stable, canary) minimum replicas as KServe v0.20.0 sets them (predictor.go canaryReplicaCount: the canary
    gets ceil(minReplicas x trafficPercent / 100); the stable HPA floor becomes max(minReplicas - that, 1))."""
    if m.canary is None:
        return m.min_replicas, 0
    canary = math.ceil(m.min_replicas * m.canary.traffic_percent / 100)
    return max(m.min_replicas - canary, 1), canary


def api_path(m: ServedModelConfig) -> str:
    """The model's own API prefix: V2 (MLServer) `/v2/models/<name>`, V1 (TF Serving) `/v1/models/<name>`."""
    return f"/{RUNTIME_OF[m.flavour].protocol}/models/{m.name}"


def split_action(model: str) -> str:
    """The Ingress backend (`port: use-annotation`) whose `actions.<name>` annotation weights stable and canary."""
    return f"{model}-split"


def ingress_annotations(exposure: ExposureConfig, m: ServedModelConfig, group: str) -> dict[str, str]:
    """aws-load-balancer-controller 3.5.0 Ingress annotations (docs/guide/ingress/annotations.md at v3.5.0). One
    Ingress per model in one IngressGroup (`group.name`: one ALB), so each model's target groups get the health check
    of its own runtime; a canary becomes a weighted forward action (`actions.<name>`, advanced schema with
    serviceName/servicePort/weight)."""
    ann = {
        "alb.ingress.kubernetes.io/group.name": group,
        "alb.ingress.kubernetes.io/scheme": "internet-facing" if exposure.mode == "public" else "internal",
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/listen-ports": '[{"HTTPS": 443}]',
        "alb.ingress.kubernetes.io/certificate-arn": exposure.certificate_arn or "",
        "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "alb.ingress.kubernetes.io/healthcheck-path": health_path(m.flavour, m.name),
    }
    if m.canary:
        weight = m.canary.traffic_percent
        ann[f"alb.ingress.kubernetes.io/actions.{split_action(m.name)}"] = json.dumps({
            "type": "forward", "forwardConfig": {"targetGroups": [
                {"serviceName": predictor_service(m.name), "servicePort": 80, "weight": 100 - weight},
                {"serviceName": canary_service(m.name), "servicePort": 80, "weight": weight}]}}, sort_keys=True)
    if exposure.waf_acl_arn:
        ann["alb.ingress.kubernetes.io/wafv2-acl-arn"] = exposure.waf_acl_arn
    if exposure.oidc:
        o = exposure.oidc
        ann["alb.ingress.kubernetes.io/auth-type"] = "oidc"
        ann["alb.ingress.kubernetes.io/auth-on-unauthenticated-request"] = "authenticate"
        ann["alb.ingress.kubernetes.io/auth-idp-oidc"] = json.dumps({
            "issuer": o.issuer, "authorizationEndpoint": o.authorization_endpoint, "tokenEndpoint": o.token_endpoint,
            "userInfoEndpoint": o.user_info_endpoint, "secretName": o.client_secret_name}, sort_keys=True)
    return ann


def ingress_paths(m: ServedModelConfig) -> list[tuple[str, str]]:
    """(path, pathType) of the model's API. Prefix `/v1/models/<m>` becomes the ALB patterns `/v1/models/<m>` and
    `/v1/models/<m>/*` (aws-load-balancer-controller v3.5.0 buildPathPatternsForPrefixPathType), which miss TF
    Serving's `/v1/models/<m>:predict`; an ImplementationSpecific path is passed through as an ALB wildcard pattern,
    so `/v1/models/<m>:*` catches the `:predict`, `:classify` and `:regress` verbs (and nothing of another model)."""
    base = api_path(m)
    return [(base, "Prefix"), *([(f"{base}:*", "ImplementationSpecific")] if m.flavour == "tensorflow" else [])]


def ingress_spec(exposure: ExposureConfig, m: ServedModelConfig) -> dict[str, Any]:
    backend: dict[str, Any] = (
        {"service": {"name": split_action(m.name), "port": {"name": "use-annotation"}}} if m.canary
        else {"service": {"name": predictor_service(m.name), "port": {"number": 80}}})
    paths = [{"path": path, "pathType": kind, "backend": backend} for path, kind in ingress_paths(m)]
    return {"ingressClassName": "alb", "tls": [{"hosts": [exposure.host]}],
            "rules": [{"host": exposure.host, "http": {"paths": paths}}]}


def network_policy_spec(*, client_namespaces: Sequence[str], prometheus_namespace: str | None,
                        vpc_cidr: object | None, metrics_ports: Sequence[int],
                        client_namespace_labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Predictor pods admit model-API calls from the serving namespace and `client_namespaces` (and the ALB's
    VPC addresses with an Ingress: `vpc_cidr`, a string or a Pulumi Input of one), and scrapes only from
    Prometheus."""
    api_from: list[dict[str, Any]] = [{"podSelector": {}}]
    api_from += [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}
                 for ns in sorted(client_namespaces)]
    if client_namespace_labels:  # e.g. team workspaces of other stacks
        api_from.append({"namespaceSelector": {"matchLabels": dict(client_namespace_labels)}})
    if vpc_cidr:
        api_from.append({"ipBlock": {"cidr": vpc_cidr}})
    ingress: list[dict[str, Any]] = [{"from": api_from, "ports": [{"protocol": "TCP", "port": HTTP_PORT}]}]
    if prometheus_namespace:
        ingress.append({"from": [{"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": prometheus_namespace}}}],
            "ports": [{"protocol": "TCP", "port": p} for p in sorted(set(metrics_ports))]})
    return {"podSelector": {"matchLabels": dict(PREDICTOR_SELECTOR)}, "policyTypes": ["Ingress"], "ingress": ingress}


def kserve_values(region: str, ingress_domain: str = "svc.cluster.local") -> dict[str, Any]:
    """kserve-resources v0.20.0 values (every key is in tests/data/chart-values/kserve-resources-v0.20.0.yaml)."""
    return {"kserve": {
        "controller": {
            "deploymentMode": "Standard",
            # Our own Ingress (ALB) instead of KServe's (istio class by default).
            # `domain` is the configmap's ingressDomain (files/common/configmap-patch.yaml): the chart's default is
            # example.com, a reserved domain (mlops-no-placeholders), so it is always set from serving.ingressDomain.
            "gateway": {"disableIngressCreation": True, "disableIstioVirtualHost": True, "domain": ingress_domain},
            "resources": {"requests": {"cpu": "100m", "memory": "300Mi"}, "limits": {"cpu": "100m", "memory": "300Mi"}},
            # The two controller pods (KSERVE_CONTROLLER_REPLICAS) on two nodes where the cluster has them: the
            # pod mutator is failurePolicy Fail, so one lost node must not take both webhook servers.
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                           "whenUnsatisfiable": "ScheduleAnyway",
                                           "labelSelector": {"matchLabels": dict(KSERVE_CONTROLLER_SELECTOR)}}],
        },
        # Region only. An endpoint here becomes AWS_ENDPOINT_URL on every storage initializer (kserve v0.20.0
        # pkg/credentials/s3/utils.go BuildS3EnvVars), which botocore applies to every service: the initializer's
        # IRSA call to sts:AssumeRoleWithWebIdentity would go to S3 (policy mlops-serving-kserve-s3-endpoint-override).
        "storage": {"s3": {"region": region, "useHttps": "1", "verifySSL": "1"}},
        "metricsaggregator": {"enableMetricAggregation": "false", "enablePrometheusScraping": "false"},
    }}


def cert_manager_values(*, keep_crds: bool) -> dict[str, Any]:
    """cert-manager v1.21.1 values: CRDs from the chart, requests on every component.

    `keep_crds` (`ModelServingArgs.keep_crds_on_delete`): `crds.keep`, the chart's `helm.sh/resource-policy: keep`
    on its CRDs, so `helm uninstall` (the owning stack destroyed, or its install dropped) leaves them and every
    Certificate and Issuer other stacks made. A kept CRD keeps its `meta.helm.sh/release-name`: Helm adopts it in a
    later install under the same release name and namespace (`mlops:helmReleaseNames: explicit`, the default) and
    refuses one under another; docs/teardown.md says how to remove them deliberately."""
    small = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "100m", "memory": "256Mi"}}
    return {"crds": {"enabled": True, "keep": keep_crds}, "resources": small,
            "webhook": {"resources": small}, "cainjector": {"resources": small},
            "startupapicheck": {"resources": small}}
