"""ModelServing: KServe (Standard mode) serving registered models from the artifact bucket, read-only.

Order on the cluster: cert-manager (with its CRDs) -> kserve-crd -> kserve-resources (its webhooks need a
cert-manager Certificate) -> ServingRuntimes -> InferenceServices. The first three are the cluster's, once
(`install_controller`): a ModelServing on a cluster whose KServe another stack installed makes only its own namespace's
objects. Model servers run as one IRSA ServiceAccount whose role can only read the served models' artifact paths and
the monitoring prefix (`read_statements`) and decrypt with the bucket's key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..blocks import helm, iam
from ..blocks.cluster_add_ons import claim
from ..blocks.endpoints import ServicePort
from ..blocks.grants import Grant, Grants
from ..blocks.identity import WorkloadIdentity, WorkloadIdentityArgs
from ..blocks.namespace import namespace
from ..blocks.naming import child, child_options
from ..blocks.observability import MONITORING_API, PART_OF, MonitoringRefs, RuleGroup, dashboard, prometheus_rule
from ..blocks.platform_facts import guarded_client_problems, occupied_namespace_problems
from ..blocks.refs import BucketRefs, ClusterRefs, refuse
from ..compute.gpu_config import TaintConfig
from . import manifests, monitor_job, rules
from .config import ServingConfig
from .dashboards import model_dashboard
from .runtimes import HTTP_PORT, RUNTIME_OF, TFSERVING_GPU, TFSERVING_MONITORING_CONFIG, runtime_for, serving_runtime_spec

CERT_MANAGER_REPO = "https://charts.jetstack.io"
KSERVE_CHARTS = "oci://ghcr.io/kserve/charts"
SERVICE_ACCOUNT = "model-server"
KSERVE_NAMESPACE = "kserve"
CERT_MANAGER_NAMESPACE = "cert-manager"
READINESS_GATE_LABEL = "elbv2.k8s.aws/pod-readiness-gate-inject"
METRICS_NEEDS = ("KServe Standard mode scales each model with a HorizontalPodAutoscaler on CPU: the cluster needs "
                 "metrics-server (cluster.metricsServer)")


@dataclass(frozen=True)
class ModelServingArgs:
    config: ServingConfig
    cluster: ClusterRefs
    artifacts: BucketRefs
    """The model registry's artifact bucket: read only."""
    region: str
    """The stack's Region: KServe's storage initializer and the monitoring job reach S3 there. Required."""
    tags: dict[str, str]
    gpu_taints: Mapping[str, TaintConfig | None] = field(default_factory=dict)
    """Taint of each GPU pool by name (the pools `models[].gpuPool` names). Default: none."""
    monitoring: MonitoringRefs | None = None
    """PodMonitors, rules and dashboards need it. Default: none (no monitoring objects)."""
    pushgateway_url: pulumi.Input[str] | None = None
    """Where the example monitoring jobs push. Default: none (no jobs)."""
    client_namespaces: Sequence[str] = ()
    """Namespaces whose pods may call the models. Default: none (the serving namespace only)."""
    client_namespace_labels: Mapping[str, str] | None = None
    """Also admit namespaces carrying these labels (a team workspace's). Default: none."""
    vpc_cidr: pulumi.Input[str] | None = None
    """Admitted to the model port when an ALB (target type ip) fronts the models. Default: none."""
    feature_drift_threshold: float | None = None
    """Alert on the models' feature drift above it, when no feature store's FeatureDrift rule does (`rules.
    contract_rules`). Default: none (the platform's feature store alerts)."""
    install_controller: bool = True
    """Install the cluster's serving controllers: the `cert-manager` and `kserve` namespaces and the cert-manager,
    kserve-crd and kserve-resources releases (cluster-wide CRDs and webhooks, once per cluster). False on a cluster
    that already runs them (`ClusterRefs.kserve_installed`, e.g. a platform stack with serving on): then only this
    component's namespace, runtimes and models are made. Refused when it contradicts `ClusterRefs.kserve_installed`.
    Default: true (the cluster has no KServe yet)."""
    keep_crds_on_delete: bool = True
    """With `install_controller`: when this component's controllers are deleted (its stack destroyed, or the
    install dropped), keep the cluster's serving CRDs: the kserve-crd release is retained (Pulumi
    `retain_on_delete`: not uninstalled) and cert-manager's CRDs carry `helm.sh/resource-policy: keep`. Deleting a
    CRD deletes every object of it, so without this every InferenceService on the cluster, other stacks' included,
    would go with this stack. False: they are removed with it (docs/teardown.md, "Serving CRDs"). Default: true."""


class ModelServing(pulumi.ComponentResource):
    """Model serving on KServe: the controller, cert-manager, and InferenceServices reading models from the
    registry's bucket."""
    endpoints: dict[str, str]
    """In-cluster endpoint of each model (its API prefix on the predictor Service)."""
    identity: WorkloadIdentity
    service_ports: list[ServicePort]
    """What client pods reach: the predictors' port (8080, behind each model's port-80 Service)."""
    inference_services: dict[str, k8s.apiextensions.CustomResource]

    def __init__(self, name: str, args: ModelServingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Bound to the cluster's provider, so children without their own (the Helm releases) inherit it.
        if args.install_controller:  # a cluster runs one: refused, naming its owner, when another stack's runs, or
            claim(args.cluster, "kserve", name)  # when this program already installs it
        owned = args.cluster.add_ons is not None and "kserve" in args.cluster.add_ons  # ...by this stack, here
        refuse(name, [controller_refusal(args.install_controller, args.cluster.kserve_installed, owned_here=owned)])
        super().__init__("mlops:serving:ModelServing", name, None, args.cluster.bind(opts))
        cfg, cluster = args.config, args.cluster
        created = [cfg.namespace, *((CERT_MANAGER_NAMESPACE, KSERVE_NAMESPACE) if args.install_controller else ())]
        refuse(name, [*occupied_namespace_problems(created, cluster),
                      *guarded_client_problems(args.client_namespaces, [ServicePort(cfg.namespace, HTTP_PORT)],
                                               cluster)])
        if not cluster.metrics_server:
            raise ValueError(f"{name}: {METRICS_NEEDS}")
        if cfg.exposure.ingress and not cluster.load_balancer_controller:
            raise ValueError(f"{name}: exposure {cfg.exposure.mode} needs the AWS Load Balancer Controller")
        provider = cluster.provider
        existing = cluster.namespaces
        # target-type ip: the ALB controller's readiness gate keeps a rolling update from stopping old pods before the
        # ALB has registered the new ones healthy (aws-load-balancer-controller v3.5.0 pod_readiness_gate.md).
        gate = {READINESS_GATE_LABEL: "enabled"} if cfg.exposure.ingress else None
        self.namespace = namespace(child(name, "ns"), self, cfg.namespace, labels=gate, existing=existing,
                                   provider=provider)
        crds, kserve = self._controller(name, args) if args.install_controller else ([], [])
        self._artifacts, self._monitoring_prefix, self._grants = args.artifacts, cfg.monitoring_prefix, Grants(self, name, args.tags)
        self.identity = WorkloadIdentity(child(name, "model-server"), WorkloadIdentityArgs(
            cluster=cluster.identity, namespace=self.namespace, service_account=SERVICE_ACCOUNT, tags=args.tags,
            statements=read_statements(args.artifacts, cfg)), child_options(self, provider=provider))
        runtimes = self._runtimes(name, cfg, [*crds, *kserve], provider)
        self.inference_services = {}
        for m in cfg.models:
            taint = args.gpu_taints.get(m.gpu_pool) if m.gpu_pool else None
            if m.gpu_pool and m.gpu_pool not in args.gpu_taints:
                raise ValueError(f"{name}: model {m.name} names GPU pool {m.gpu_pool!r}, which is not given")
            body = pulumi.Output.from_input(args.artifacts.bucket_name).apply(
                lambda bucket, m=m, taint=taint: manifests.inference_service(  # type: ignore[misc]
                    m, bucket=bucket, namespace=cfg.namespace, service_account=SERVICE_ACCOUNT, gpu_taint=taint))
            self.inference_services[m.name] = k8s.apiextensions.CustomResource(
                child(name, f"isvc-{m.name}"), api_version=manifests.ISVC_API, kind="InferenceService",
                metadata=body.apply(lambda b: b["metadata"]), spec=body.apply(lambda b: b["spec"]),
                opts=child_options(self, provider=provider, depends_on=[*crds, *runtimes, self.identity]))
            self._disruption_budget(name, m.name, provider)
        self._network_policy(name, args, provider)
        if cfg.exposure.ingress:  # one Ingress per model, one ALB (IngressGroup)
            for m in cfg.models:
                k8s.networking.v1.Ingress(  # type: ignore[call-overload]
                    child(name, f"ingress-{m.name}"),
                    metadata={"name": m.name, "namespace": self.namespace, "annotations":
                              manifests.ingress_annotations(cfg.exposure, m, f"{cfg.namespace}-models")},
                    spec=manifests.ingress_spec(cfg.exposure, m),
                    opts=child_options(self, provider=provider, depends_on=[*cluster.ingress_dependencies,
                                                                            self.inference_services[m.name]]))
        if args.monitoring is not None:
            self._monitoring(name, args, args.monitoring, provider)
        self.service_ports, self.endpoints = [ServicePort(cfg.namespace, HTTP_PORT)], endpoints(cfg)
        self.register_outputs({"endpoints": self.endpoints, "roleArn": self.identity.role_arn})

    def _controller(self, name: str, args: ModelServingArgs) -> tuple[list[pulumi.Resource], list[pulumi.Resource]]:
        """cert-manager, then KServe's CRDs and controller (whose webhooks need a cert-manager Certificate), in their
        fixed namespaces: the cluster's, once. Returns ([kserve-crd], [kserve-resources])."""
        cfg, existing, provider = args.config, args.cluster.namespaces, args.cluster.provider
        cm_ns = namespace(child(name, "cert-manager-ns"), self, CERT_MANAGER_NAMESPACE, existing=existing,
                          provider=provider)
        ks_ns = namespace(child(name, "kserve-ns"), self, KSERVE_NAMESPACE, level="baseline", existing=existing,
                          provider=provider)
        cert_manager = helm.release(
            child(name, "cert-manager"), helm.PinnedChart("cert-manager", CERT_MANAGER_REPO, cfg.cert_manager_version),
            parent=self, namespace=cm_ns, values=manifests.cert_manager_values(keep_crds=args.keep_crds_on_delete))
        crds = helm.release(child(name, "kserve-crd"), helm.PinnedChart(f"{KSERVE_CHARTS}/kserve-crd", "",
                                                                         cfg.kserve_version),
                            parent=self, namespace=ks_ns, values={}, retain_on_delete=args.keep_crds_on_delete,
                            atomic=False)  # it may adopt kept CRDs: a failed atomic install would delete them
        kserve = helm.release(
            child(name, "kserve"), helm.PinnedChart(f"{KSERVE_CHARTS}/kserve-resources", "", cfg.kserve_version),
            parent=self, namespace=ks_ns, values=manifests.kserve_values(args.region, cfg.ingress_domain),
            depends_on=[cert_manager, crds])
        # The chart sets no replica count: a server-side-apply patch owns only `spec.replicas` (Helm's three-way
        # merge leaves a field neither manifest sets), and a budget keeps one webhook pod through a drain.
        controller: k8s.meta.v1.ObjectMetaArgsDict = {"name": manifests.KSERVE_CONTROLLER, "namespace": ks_ns}
        replicas: Any = {"replicas": manifests.KSERVE_CONTROLLER_REPLICAS}
        # patchForce: Helm created the Deployment client-side, so its field manager owns the defaulted
        # `spec.replicas`; without force the server-side apply conflicts on the first real `up` (pulumi-kubernetes
        # await.go patchForce; the DeploymentPatch docs).
        k8s.apps.v1.DeploymentPatch(child(name, "kserve-controller-replicas"), spec=replicas,
                                    metadata={"name": manifests.KSERVE_CONTROLLER, "namespace": ks_ns,
                                              "annotations": {"pulumi.com/patchForce": "true"}},
                                    opts=child_options(self, provider=provider, depends_on=[kserve]))
        budget: Any = manifests.disruption_budget_spec(manifests.KSERVE_CONTROLLER_SELECTOR)  # camelCase wire keys
        k8s.policy.v1.PodDisruptionBudget(child(name, "kserve-controller-pdb"), metadata=controller, spec=budget,
                                          opts=child_options(self, provider=provider, depends_on=[kserve]))
        return [crds], [kserve]

    def _disruption_budget(self, name: str, model: str, provider: k8s.Provider | None) -> None:
        """KServe makes no PodDisruptionBudget: one per model over its stable and canary pods."""
        budget: Any = manifests.disruption_budget_spec(manifests.predictor_pod_selector(model))  # camelCase wire keys
        k8s.policy.v1.PodDisruptionBudget(
            child(name, f"pdb-{model}"), metadata={"name": manifests.predictor_service(model),
                                                   "namespace": self.namespace, "labels": dict(PART_OF)},
            spec=budget, opts=child_options(self, provider=provider))

    def _runtimes(self, name: str, cfg: ServingConfig, kserve: Sequence[pulumi.Resource],
                  provider: k8s.Provider | None) -> list[pulumi.Resource]:
        """The ServingRuntimes wait for the CRDs and for KServe's webhooks (which validate them)."""
        tf_config = k8s.core.v1.ConfigMap(
            child(name, "tfserving-monitoring"),
            metadata={"name": "tfserving-monitoring", "namespace": self.namespace, "labels": dict(PART_OF)},
            data={"monitoring.config": TFSERVING_MONITORING_CONFIG}, opts=child_options(self, provider=provider))
        out: list[pulumi.Resource] = [tf_config]
        wanted = [(flavour, runtime, False) for flavour, runtime in RUNTIME_OF.items()]
        if any(runtime_for(m.flavour, m.gpus) == TFSERVING_GPU for m in cfg.models):
            wanted.append(("tensorflow", TFSERVING_GPU, True))
        for flavour, runtime, gpu in wanted:
            out.append(k8s.apiextensions.CustomResource(
                child(name, f"runtime-{runtime.name}"), api_version="serving.kserve.io/v1alpha1", kind="ServingRuntime",
                metadata={"name": runtime.name, "namespace": self.namespace, "labels": dict(PART_OF)},
                spec=serving_runtime_spec(flavour, cfg.runtimes, "tfserving-monitoring", gpu=gpu),
                opts=child_options(self, provider=provider, depends_on=[*kserve, tf_config])))
        return out

    def _network_policy(self, name: str, args: ModelServingArgs, provider: k8s.Provider | None) -> None:
        spec = manifests.network_policy_spec(
            client_namespaces=args.client_namespaces, client_namespace_labels=args.client_namespace_labels,
            prometheus_namespace=args.monitoring.prometheus_namespace if args.monitoring else None,
            vpc_cidr=args.vpc_cidr if args.config.exposure.ingress else None,
            metrics_ports=[RUNTIME_OF[m.flavour].metrics_port for m in args.config.models])
        k8s.networking.v1.NetworkPolicy(child(name, "predictors-netpol"),  # type: ignore[call-overload]
                                        metadata={"name": "predictors", "namespace": self.namespace},
                                        spec=spec, opts=child_options(self, provider=provider))

    def _monitoring(self, name: str, args: ModelServingArgs, refs: MonitoringRefs,
                    provider: k8s.Provider | None) -> None:
        cfg = args.config
        for m in cfg.models:
            rt = RUNTIME_OF[m.flavour]
            port = "metrics" if rt.metrics_port != 8080 else "http"
            k8s.apiextensions.CustomResource(
                child(name, f"podmonitor-{m.name}"), api_version=MONITORING_API, kind="PodMonitor",
                metadata={"name": m.name, "namespace": self.namespace, "labels": dict(PART_OF)},
                spec=pod_monitor_spec(m.name, port, rt.metrics_path),
                opts=child_options(self, provider=provider,
                                   depends_on=[*refs.crd_dependencies, self.inference_services[m.name]]))
            dashboard(self, name, uid=f"serving-{m.name}"[:40], namespace=refs.namespace,
                      board=model_dashboard(m.name, m.flavour, cfg.namespace), provider=provider)
        groups = [RuleGroup(g["name"], g["rules"]) for g in rules.rule_groups(cfg, cfg.namespace, args.feature_drift_threshold)]
        prometheus_rule(self, name, refs, object_name="serving", namespace=self.namespace, groups=groups,
                        provider=provider)
        if cfg.monitoring_job and args.pushgateway_url is not None:
            script = k8s.core.v1.ConfigMap(
                child(name, "monitor-script"), metadata={"name": "model-monitor", "namespace": self.namespace},
                data={monitor_job.SCRIPT_KEY: monitor_job.SCRIPT}, opts=child_options(self, provider=provider))
            for m in cfg.models:
                # Any: the spec is a plain dict (schema-checked in the unit tier); matching a lambda's result
                # against CronJob's TypedDict unions costs mypy tens of GB.
                spec: pulumi.Output[Any] = pulumi.Output.all(args.pushgateway_url, args.artifacts.bucket_name).apply(
                    lambda v, m=m: monitor_job.cron_job_spec(  # type: ignore[misc]
                        m.name, cfg.monitoring_job_image, v[0], "model-monitor",
                        fetch_image=cfg.monitoring_fetch_image, region=args.region, service_account=SERVICE_ACCOUNT,
                        inputs=monitor_job.inputs_uri(v[1], cfg.monitoring_prefix, m.name),
                        protected_attributes=list(m.protected_attributes), features=list(m.features),
                        window_days=cfg.monitoring_window_days))
                k8s.batch.v1.CronJob(child(name, f"monitor-{m.name}"),
                                     metadata={"name": f"monitor-{m.name}"[:52], "namespace": self.namespace},
                                     spec=spec, opts=child_options(self, provider=provider,
                                                                   depends_on=[script, self.identity]))


    def monitoring_write_statements(self) -> list[iam.Statement]:
        """Write (and encrypt) the monitoring job's inputs: `<monitoringPrefix>/<model>/reference.csv` and
        `predictions/<YYYY-MM-DD>/*.csv` of every model, nothing else in the artifact bucket."""
        return iam.prefixed("Monitoring", self._artifacts.write_statements(self._monitoring_prefix))

    def grant_monitoring_write(self, role: aws.iam.Role) -> Grant:
        """Let `role` write the monitoring inputs (the caller's prediction logger, or the job that puts the reference
        set). The prod artifact bucket denies requests from outside the VPC's S3 endpoint: write from the cluster
        (IRSA) or another VPC workload. Idempotent per role."""
        return self._grants.grant(role, "monitoring-write", self.monitoring_write_statements,
                                  "Write model monitoring inputs (reference and logged predictions)")


def controller_refusal(install_controller: bool, kserve_installed: bool | None, *, owned_here: bool) -> str:
    """Why `install_controller` contradicts what the cluster runs ("" when it does not; None: unknown).
    `owned_here`: the cluster's KServe is this stack's (`clusterAddOnOwners`), so `kserve_installed` is False."""
    if install_controller and kserve_installed:
        return ("the cluster already runs KServe and cert-manager (`kserve` in clusterAddOns: its platform's serving installed "
                "them): a second install would fail on their namespaces, releases, CRDs and webhooks; pass "
                "install_controller=False")
    if not install_controller and kserve_installed is False and owned_here:
        return ("install_controller=False, but this stack installed the cluster's KServe and cert-manager (the "
                "platform's `clusterAddOnOwners` names it): turning the install off makes `pulumi up` delete them; keep "
                "install_controller=True")
    if not install_controller and kserve_installed is False:
        return ("install_controller=False, but nothing installs KServe on this cluster (`kserve` not in clusterAddOns): "
                "its InferenceServices would have no CRD; pass install_controller=True")
    return ""


def model_prefixes(cfg: ServingConfig) -> list[str]:
    """The artifact bucket's key prefixes the model servers read: each served model's (and canary's) artifact path,
    and the monitoring inputs."""
    paths = [p for m in cfg.models for p in (m.artifact_path, m.canary.artifact_path if m.canary else None) if p]
    return sorted({p.strip("/") for p in [*paths, cfg.monitoring_prefix]})


def read_statements(artifacts: BucketRefs, cfg: ServingConfig) -> list[iam.Statement]:
    """Read the served models' artifact paths and the monitoring prefix (each path as an object, as KServe takes a
    single-file model, and as a prefix), and decrypt with the bucket's key; nothing else in the artifact bucket.
    ListBucket stays unconditioned: the storage initializer (kserve v0.20.0 python/storage/kserve_storage/
    kserve_storage.py `_download_s3`) sends HeadBucket before listing `Prefix=<path>`, and HeadBucket, which IAM
    authorises as s3:ListBucket, carries no `s3:prefix` (a prefix condition would refuse it); it reveals key names,
    never their contents."""
    prefixes = model_prefixes(cfg)
    objects = [arn for p in prefixes for arn in (pulumi.Output.concat(artifacts.bucket_arn, "/", p),
                                                 artifacts.objects_arn(p))]
    return [
        iam.statement("ListBucket", ["s3:ListBucket"], [artifacts.bucket_arn]),
        iam.statement("ReadModels", ["s3:GetObject", "s3:GetObjectVersion"], objects),
        iam.statement("DecryptObjects", ["kms:Decrypt", "kms:DescribeKey"], [artifacts.kms_key_arn]),
    ]


def endpoints(cfg: ServingConfig) -> dict[str, str]:
    """Each model's in-cluster endpoint: its API prefix on its predictor Service."""
    return {m.name: f"http://{manifests.predictor_service(m.name)}.{cfg.namespace}.svc.cluster.local"
                    f"{manifests.api_path(m)}" for m in cfg.models}


def pod_monitor_spec(model: str, port: str, path: str) -> dict[str, Any]:
    """Selects exactly the model's predictor pods (stable and canary) and labels every series `isvc=<model>`."""
    return {
        "selector": {"matchLabels": manifests.predictor_pod_selector(model)},
        "podMetricsEndpoints": [{
            "port": port, "path": path, "interval": "30s",
            "relabelings": [{"sourceLabels": ["__meta_kubernetes_pod_label_serving_kserve_io_inferenceservice"],
                             "targetLabel": rules.ISVC_LABEL, "action": "replace"}],
        }],
    }
