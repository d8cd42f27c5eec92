"""MlopsPlatform: composes the platform's components from one validated config."""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..blocks.bucket import HardenedBucket, HardenedBucketArgs, LifecycleRule, VpcEndpointGuard
from ..blocks.kms import KmsKey, KmsKeyArgs
from ..blocks.naming import child
from ..blocks.refs import ClusterRefs
from ..compute.cluster import TrainingCluster, TrainingClusterArgs
from ..compute.cluster_autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs
from ..compute.cluster_autoscaler import needed as autoscaler_needed
from ..compute.gpu_pool import GpuNodePool, GpuNodePoolArgs
from ..compute.gpu_software import GpuSoftware, GpuSoftwareArgs
from ..compute.karpenter import Karpenter, KarpenterArgs
from ..config import PlatformConfig
from ..config.platform import effective_deployer_role_arns
from ..features.feature_store import FeatureStore, FeatureStoreArgs
from ..features.feature_store_registry import SqlRegistry
from ..network.network import Network, NetworkArgs
from ..observability.monitoring import PUSHGATEWAY_SERVICE_PORT, MonitoringStack, MonitoringStackArgs
from ..observability.monitoring_rules import CronJobTarget, MonitoredTargets, ScrapeTarget
from ..registry.model_registry import ModelRegistry, ModelRegistryArgs
from ..security.exfiltration_guards import data_bucket_guard
from ..security.security_baseline import SecurityBaseline, SecurityBaselineArgs, ServicePort
from ..stack import secret_config
from .addons import PlatformContext, build_add_ons


def _item(values: pulumi.Output[list[str]], index: int) -> pulumi.Output[str]:
    return values.apply(lambda names: names[index])


def _secret(key: str | None) -> pulumi.Output[str] | None:
    return secret_config(key) if key else None


class MlopsPlatform(pulumi.ComponentResource):
    """The whole platform for one environment. Its outputs are the contract consumer stacks rely on
    (`mlops_infra.outputs.CONTRACT`). Order: network, cluster, GPU capacity, monitoring (it installs the CRDs
    the others' ServiceMonitors need), feature store, model registry, security baseline."""

    feature_store: FeatureStore | None
    model_registry: ModelRegistry | None
    monitoring: MonitoringStack | None
    security: SecurityBaseline | None

    def __init__(self, name: str, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:platform:MlopsPlatform", name, None, opts)
        self._name, self.config = name, config
        self.tags = tags = config.resource_tags
        protect = config.protect_stateful
        child_opts = pulumi.ResourceOptions(parent=self)

        self.network = Network(child(name, "net"), NetworkArgs(
            config=config.network, region=config.region, cluster_name=name, tags=tags,
            private_cluster=not config.cluster.endpoint_public_access, protect=protect), child_opts)
        self.cluster = TrainingCluster(child(name, "eks"), TrainingClusterArgs(
            config=config.cluster, network=self.network.refs, region=config.region, tags=tags,
            protect=protect, cluster_name=name), child_opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, providers={"kubernetes": self.cluster.provider})
        self._compute(config, child_opts, k8s_opts)
        cluster_refs = self._with_service_namespaces(k8s_opts)

        self.data_key = KmsKey(child(name, "data-key"), KmsKeyArgs(
            description=f"{name} platform data", tags=tags, protect=protect), child_opts)
        self.shared_bucket = HardenedBucket(child(name, "shared"), HardenedBucketArgs(
            kms_key=self.data_key, tags=tags, protect=protect,
            lifecycle=[LifecycleRule(id="expire-scratch", prefix="scratch/", expiration_days=30)]), child_opts)

        deployers = effective_deployer_role_arns(config.security_baseline, config.cluster)
        guard = data_bucket_guard(config.security_baseline, self.network.refs, deployers)
        self.monitoring = self._monitoring(cluster_refs, k8s_opts) if config.monitoring.enabled else None
        crds = [self.monitoring.prometheus_release] if self.monitoring else []
        fs, reg = config.feature_store, config.model_registry
        self.feature_store = FeatureStore(child(name, "features"), FeatureStoreArgs(
            config=fs, tags=tags, network=self.network.refs, cluster=cluster_refs, protect=protect,
            kms_key=self.data_key, bucket_guard=guard), k8s_opts) if fs.enabled else None
        self.model_registry = ModelRegistry(child(name, "registry"), ModelRegistryArgs(
            config=reg, tags=tags, network=self.network.refs, cluster=cluster_refs, protect=protect,
            monitoring=self.monitoring is not None, crd_dependencies=crds,
            oidc_client_secret=_secret(reg.ingress.oidc_client_secret),
            name_prefix=f"{config.name}-{config.environment}", bucket_guard=guard,
            # The tracking server's NetworkPolicy admits the platform's namespaces (teams, Feast) and Prometheus.
            client_namespaces=sorted({t.name for t in config.cluster.teams}
                                     | ({fs.namespace} if fs.enabled and fs.engine == "feast" else set())),
            # With MLflow basic auth (prod) each team gets an MLflow user and credentials in its namespace.
            team_namespaces=sorted({t.name for t in config.cluster.teams}),
            prometheus_namespace=config.monitoring.namespace if self.monitoring else None), k8s_opts) \
            if reg.enabled else None
        if self.monitoring is not None:
            self._alarms_for_data_stores()
        self.security = self._security(cluster_refs, k8s_opts) if config.security_baseline.enabled else None
        self.add_on_outputs = build_add_ons(self._context(cluster_refs, k8s_opts, guard))

        self.outputs = {**self._outputs(), **self.add_on_outputs}
        self.register_outputs(dict(self.outputs))

    def _compute(self, config: PlatformConfig, child_opts: pulumi.ResourceOptions,
                 k8s_opts: pulumi.ResourceOptions) -> None:
        """GPU capacity: managed node groups per pool, or Karpenter; then the NVIDIA software on it."""
        name, tags = self._name, self.tags
        if config.gpu.provisioner == "karpenter":
            Karpenter(child(name, "karpenter"), KarpenterArgs(
                config=config.gpu, pools=config.gpu_pools, cluster=self.cluster.refs, node_role=self.cluster.node_role,
                subnet_ids=self.network.refs.private_subnet_ids, kms_key_arn=self.cluster.kms_key.arn,
                region=config.region, tags=tags, node_role_policies=self.cluster.node_role_policies), k8s_opts)
        else:
            for pool in config.gpu_pools:
                GpuNodePool(child(name, f"gpu-{pool.name}"), GpuNodePoolArgs(
                    config=pool, cluster_name=self.cluster.cluster.name, node_role_arn=self.cluster.node_role.arn,
                    subnet_ids=self.network.refs.private_subnet_ids,
                    cluster_security_group_id=self.cluster.refs.cluster_security_group_id,
                    kms_key_arn=self.cluster.kms_key.arn, tags=tags,
                    node_role_policies=self.cluster.node_role_policies), child_opts)
        if config.gpu_pools:
            GpuSoftware(child(name, "gpu-software"), GpuSoftwareArgs(config=config.gpu, pools=config.gpu_pools), k8s_opts)
        if autoscaler_needed(config.cluster.system_nodes, config.gpu, config.gpu_pools):
            ClusterAutoscaler(child(name, "autoscaler"), ClusterAutoscalerArgs(
                cluster=self.cluster.refs, region=config.region, tags=tags,
                chart_version=config.gpu.cluster_autoscaler_version), k8s_opts)

    def _with_service_namespaces(self, k8s_opts: pulumi.ResourceOptions) -> ClusterRefs:
        """The feature store's and MLflow's namespaces, created once here (restricted pod security) and handed to
        every component that uses them."""
        config, namespaces = self.config, dict(self.cluster.refs.namespaces)
        wanted = []
        if config.feature_store.enabled and config.feature_store.engine == "feast":
            wanted.append(config.feature_store.namespace)
        if config.model_registry.enabled and config.model_registry.engine == "mlflow":
            wanted.append(config.model_registry.namespace)
        for ns in wanted:
            if ns not in namespaces:
                created = k8s.core.v1.Namespace(child(self._name, f"ns-{ns}"), metadata={
                    "name": ns, "labels": {"pod-security.kubernetes.io/enforce": "restricted",
                                           "app.kubernetes.io/part-of": "mlops-platform"}}, opts=k8s_opts)
                namespaces[ns] = created.metadata.apply(lambda m: str(m["name"] if isinstance(m, dict) else m.name))
        return dataclasses.replace(self.cluster.refs, namespaces=namespaces)

    def _monitoring(self, cluster_refs: ClusterRefs, k8s_opts: pulumi.ResourceOptions) -> MonitoringStack:
        config, name = self.config, self._name
        fs, reg = config.feature_store, config.model_registry
        feast = fs.enabled and fs.engine == "feast"
        mlflow = reg.enabled and reg.engine == "mlflow"
        features = child(name, "features")
        targets = MonitoredTargets(
            ml_namespaces=sorted({t.name for t in config.cluster.teams}
                                 | ({fs.namespace} if feast else set()) | ({reg.namespace} if mlflow else set())),
            # Service and CronJob names derive from the component names (see FeatureServer, Materialization, MlflowServer).
            model_registry=ScrapeTarget(reg.namespace, child(child(name, "registry"), "mlflow")) if mlflow else None,
            # The feature server image serves no Prometheus metrics yet (`feast serve --metrics` needs Feast >= 0.61
            # and a ServiceMonitor): a target here would make FeatureServerDown fire forever.
            feature_server=None,
            materialization=CronJobTarget(fs.namespace, child(features, "materialize")) if feast else None,
        )
        recv = config.monitoring.receivers
        return MonitoringStack(child(name, "monitoring"), MonitoringStackArgs(
            config=config.monitoring, cluster=cluster_refs, region=config.region, tags=self.tags,
            protect=config.protect_stateful, slack_webhook_url=_secret(recv.slack_webhook_secret),
            pagerduty_routing_key=_secret(recv.pagerduty_key_secret), targets=targets,
            gpu_taint_keys=sorted({p.taint.key for p in config.gpu_pools if p.taint} or {"nvidia.com/gpu"}),
            gpu_instance_types=sorted({t for p in config.gpu_pools for t in p.instance_types}),
            nat_gateway_ids=self.network.nat_gateway_ids), k8s_opts)

    def _alarms_for_data_stores(self) -> None:
        """CloudWatch alarms on the data stores, once they exist (the monitoring stack is built before them)."""
        assert self.monitoring is not None
        rds = self.model_registry.database if self.model_registry and self.model_registry.database else None
        tables = self.feature_store.dynamodb.table_names if self.feature_store and self.feature_store.dynamodb else None
        sql_registry: SqlRegistry | None = getattr(self.feature_store, "sql_registry", None)  # feast engine only
        self.monitoring.add_data_store_alarms(
            rds_instance_id=rds.instance.identifier if rds else None,
            # The Feast SQL registry is the same Postgres block as MLflow's database: the same alarms.
            extra_rds_instances={"feast-registry": sql_registry.identifier} if sql_registry else None,
            dynamodb_table_names=[_item(tables, i) for i in range(len(self.config.feature_store.online.feature_views))]
            if tables else [])

    def _security(self, cluster_refs: ClusterRefs, k8s_opts: pulumi.ResourceOptions) -> SecurityBaseline:
        config, sb = self.config, self.config.security_baseline
        data_buckets = [c.arn for c in (self.feature_store.bucket if self.feature_store else None,
                                        self.model_registry.artifacts if self.model_registry else None) if c]
        return SecurityBaseline(child(self._name, "security"), SecurityBaselineArgs(
            config=sb, region=config.region, tags=self.tags, network=self.network.refs, cluster=cluster_refs,
            protect=config.protect_stateful,
            alert_topic_arn=self.monitoring.alert_topic_arn if self.monitoring else None,
            data_bucket_arns=data_buckets, platform_bucket_arns=[self.shared_bucket.arn],
            ml_namespaces=[t.name for t in config.cluster.teams],
            service_namespaces=[ns for ns, on in ((config.feature_store.namespace, config.feature_store.enabled),
                                                  (config.model_registry.namespace, config.model_registry.enabled)) if on],
            # Training jobs push metrics to the Pushgateway (MonitoringStack.pushgateway_url).
            service_ports=[ServicePort(config.monitoring.namespace, PUSHGATEWAY_SERVICE_PORT)]
            if self.monitoring is not None else [],
            secret_values={s.config_key: secret_config(s.config_key) for s in sb.integration_secrets},
            deployer_role_arns=effective_deployer_role_arns(sb, config.cluster)), k8s_opts)

    def _context(self, cluster_refs: ClusterRefs, k8s_opts: pulumi.ResourceOptions,
                 guard: VpcEndpointGuard | None) -> PlatformContext:
        fs, reg = self.feature_store, self.model_registry
        return PlatformContext(
            name=self._name, parent=self, config=self.config, tags=self.tags, protect=self.config.protect_stateful,
            network=self.network.refs, cluster=cluster_refs, k8s_opts=k8s_opts, data_key=self.data_key,
            shared_bucket=self.shared_bucket, bucket_guard=guard,
            monitoring=self.monitoring.refs if self.monitoring else None,
            artifacts=reg.artifacts.refs if reg else None,
            artifact_write_policy_arn=reg.log_models_policy().arn if reg else None,
            feature_read_policy_arn=fs.read_policy().arn if fs else None,
            offline_store=fs.bucket.refs if fs else None,
            mlflow_tracking_uri=reg.tracking_uri if reg else None,
            feature_server_url=getattr(fs, "feature_server_url", None) if fs else None)

    def _outputs(self) -> dict[str, Any]:
        config = self.config
        out: dict[str, Any] = {
            "environment": config.environment,
            "clusterName": self.cluster.cluster.name,
            "clusterEndpoint": self.cluster.cluster.endpoint,
            "kubeconfig": self.cluster.kubeconfig,
            "oidcProviderArn": self.cluster.oidc_provider_arn,
            "oidcIssuer": self.cluster.refs.identity.oidc_issuer,
            "workloadIdentity": config.cluster.workload_identity,
            "vpcId": self.network.refs.vpc_id,
            "privateSubnetIds": list(self.network.refs.private_subnet_ids),
            "clusterSecurityGroupId": self.cluster.refs.cluster_security_group_id,
            "nodeRoleArn": self.cluster.node_role.arn,
            "clusterKmsKeyArn": self.cluster.kms_key.arn,
            "sharedBucketName": self.shared_bucket.bucket_name,
            "dataKeyArn": self.data_key.arn,
        }
        if self.feature_store is not None:
            out.update({f"featureStore{k[0].upper()}{k[1:]}": v for k, v in self.feature_store.outputs.items()})
            out["featureStoreReadPolicyArn"] = self.feature_store.read_policy().arn
        if self.model_registry is not None:
            out["modelArtifactBucket"] = self.model_registry.artifact_bucket_name
            out["modelArtifactWritePolicyArn"] = self.model_registry.log_models_policy().arn
            if self.model_registry.tracking_uri is not None:
                out["mlflowTrackingUri"] = self.model_registry.tracking_uri
                out["modelRegistryDbEndpoint"] = self.model_registry.database_endpoint
        if self.monitoring is not None:
            out["alertTopicArn"] = self.monitoring.alert_topic_arn
            out["pushgatewayUrl"] = self.monitoring.pushgateway_url
        if self.security is not None:
            out.update({k: v for k, v in {"auditTrailArn": self.security.trail_arn,
                                          "guardDutyDetectorId": self.security.detector_id}.items() if v is not None})
        return {k: v for k, v in out.items() if v is not None}

    def export(self) -> None:
        """Export the platform's documented stack outputs."""
        for key, value in self.outputs.items():
            pulumi.export(key, value)
