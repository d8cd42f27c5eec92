"""Feast online stores: DynamoDB tables (one per feature view, as Feast reads them) or an ElastiCache Redis group.

Feast's DynamoDB store keeps one table per feature view, named by `table_name_template`. The platform creates
those tables itself, so each gets KMS, PITR and deletion protection, and Feast's role needs no CreateTable
(Feast skips creation when DescribeTable finds the table: `DynamoDBOnlineStore.update`, feast 0.66.0).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from ..blocks import iam
from ..blocks.kms import KmsKey
from ..blocks.naming import child, child_options, name_within
from ..blocks.network_access import PrivatePlacement, cluster_only_security_group
from ..blocks.refs import known_len
from . import feast_config
from .config import OnlineStoreConfig

REDIS_PORT = 6379
REPLICATION_GROUP_ID_LIMIT = 40  # ElastiCache CreateReplicationGroup ReplicationGroupId
# The calls Feast 0.66.0 makes (feast/infra/online_stores/dynamodb.py: batch_get_item, get_item, describe_table;
# batch_writer, put_item, update_item on materialization). Table creation is skipped: tables exist.
DYNAMODB_READ = ["dynamodb:BatchGetItem", "dynamodb:DescribeTable", "dynamodb:GetItem"]
DYNAMODB_WRITE = ["dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]


@dataclass(frozen=True)
class DynamoDbOnlineStoreArgs:
    config: OnlineStoreConfig
    project: str
    table_prefix: str
    """Tables are `<table_prefix>.<project>.<feature view>`, the names Feast derives from the template."""
    kms_key: KmsKey
    tags: dict[str, str]
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on every table. Default: true."""


class DynamoDbOnlineStore(pulumi.ComponentResource):
    """One on-demand table per configured feature view."""

    table_arns: list[pulumi.Output[str]]
    table_names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: DynamoDbOnlineStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:feature_store_online:DynamoDbOnlineStore", name, None, opts)
        cfg = args.config
        tables = [
            aws.dynamodb.Table(
                child(name, view.replace("_", "-")),
                name=feast_config.dynamodb_table_name(args.table_prefix, args.project, view),
                billing_mode="PAY_PER_REQUEST",
                hash_key="entity_id",
                attributes=[{"name": "entity_id", "type": "S"}],
                point_in_time_recovery={"enabled": True},
                server_side_encryption={"enabled": True, "kms_key_arn": args.kms_key.arn},
                deletion_protection_enabled=cfg.deletion_protection,
                tags=args.tags,
                opts=child_options(self, stateful=True, protect=args.protect),
            )
            for view in cfg.feature_views
        ]
        self.table_arns = [t.arn for t in tables]
        self.table_names = pulumi.Output.all(*[t.name for t in tables]).apply(lambda names: [str(n) for n in names])
        self.register_outputs({"tableNames": self.table_names})

    def statements(self, *, write: bool) -> list[iam.Statement]:
        """Read (or read and write) items of exactly these tables; the caller adds the key's statement."""
        if not self.table_arns:
            return []
        actions = DYNAMODB_READ + (DYNAMODB_WRITE if write else [])
        return [iam.statement("OnlineTables" + ("Write" if write else "Read"), actions, list(self.table_arns))]


@dataclass(frozen=True)
class RedisOnlineStoreArgs:
    config: OnlineStoreConfig
    placement: PrivatePlacement
    """Private subnets, admitting only the cluster security group."""
    kms_key: KmsKey
    tags: dict[str, str]
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the replication group. Default: true."""


class RedisOnlineStore(pulumi.ComponentResource):
    """Encrypted at rest and in transit, token-authenticated; the token is generated here and stays secret."""

    endpoint: pulumi.Output[str]
    auth_token: pulumi.Output[str]

    def __init__(self, name: str, args: RedisOnlineStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:feature_store_online:RedisOnlineStore", name, None, opts)
        cfg = args.config
        if known_len(args.placement.subnet_ids) == 0:
            raise ValueError(f"{name}: redis needs private subnets, and the network has none")
        subnets = aws.elasticache.SubnetGroup(
            child(name, "subnets"), description=f"{name}: private subnets", subnet_ids=args.placement.subnet_ids,
            tags=args.tags, opts=child_options(self))
        sg = cluster_only_security_group(name, self, args.placement, port=REDIS_PORT, service="Redis", tags=args.tags)
        # ElastiCache tokens: 16-128 printable characters without @ " / or spaces; alphanumerics are always valid.
        token = random.RandomPassword(child(name, "auth-token"), length=64, special=False, opts=child_options(self))
        self.auth_token = pulumi.Output.secret(token.result)
        group = aws.elasticache.ReplicationGroup(
            name,
            # Replication group ids are at most 40 characters: a longer `<name>-<7 random>` gets an explicit id.
            replication_group_id=name_within(name.lower(), REPLICATION_GROUP_ID_LIMIT),
            description=f"{name}: Feast online store",
            engine="redis",
            engine_version=cfg.redis_engine_version,
            node_type=cfg.redis_node_type,
            port=REDIS_PORT,
            num_cache_clusters=2 if cfg.multi_az else 1,
            automatic_failover_enabled=cfg.multi_az,
            multi_az_enabled=cfg.multi_az,
            at_rest_encryption_enabled=True,
            kms_key_id=args.kms_key.arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=self.auth_token,
            auth_token_update_strategy="ROTATE",
            subnet_group_name=subnets.name,
            security_group_ids=[sg.id],
            snapshot_retention_limit=cfg.redis_snapshot_retention_days,
            auto_minor_version_upgrade=True,
            tags=args.tags,
            opts=child_options(self, stateful=True, protect=args.protect),
        )
        self.security_group_id = sg.id
        self.endpoint = pulumi.Output.concat(group.primary_endpoint_address, ":", group.port.apply(str))
        self.register_outputs({"endpoint": self.endpoint})
