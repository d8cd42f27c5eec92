"""Feast online stores: DynamoDB tables (one per feature view, as Feast reads them) or an ElastiCache Redis group.

Feast's DynamoDB store keeps one table per feature view, named by `table_name_template`. The platform creates
those tables itself, so each gets KMS, PITR and deletion protection, and Feast's role needs no CreateTable
(Feast skips creation when DescribeTable finds the table: `DynamoDBOnlineStore.update`, feast 0.66.0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from ..blocks import iam
from ..blocks.kms import KmsKey
from ..blocks.naming import bounded_name, child, child_options, name_within, renamed_type
from ..blocks.network_access import PrivatePlacement, cluster_only_security_group
from ..blocks.refs import known_len
from . import feast_config
from .config import OnlineStoreConfig
from .feature_store_consumers import RegistryLogin, redis_access_string

REDIS_PORT = 6379
REPLICATION_GROUP_ID_LIMIT = 40  # ElastiCache CreateReplicationGroup ReplicationGroupId
USER_ID_LIMIT = 40
"""User and user group ids: [a-zA-Z][a-zA-Z0-9-]* (CreateUser); kept within the replication group id's limit."""
OWNER_USER = "feast"
"""The owner's ElastiCache user (server, materializer, bootstrap): every key, every command."""
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
        super().__init__("mlops:features:DynamoDbOnlineStore", name, None,
                         renamed_type(opts, "mlops:feature_store_online:DynamoDbOnlineStore"))
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
    project: str = "mlops"
    """The Feast project: consumers' users reach only its keys (`~*<project>`). Default: mlops."""
    consumers: Mapping[str, RegistryLogin] = field(default_factory=dict)
    """RBAC: a user per consumer login with a Redis user (feature_store_consumers.py). Default: none."""


class RedisOnlineStore(pulumi.ComponentResource):
    """Encrypted at rest and in transit; authenticated by RBAC users (`redisAuth: rbac`) or one AUTH token. The
    owner's password (the token's, or the `feast` user's) is generated here and stays secret.

    RBAC (ElastiCache "Role-Based Access Control" and "Migrating from AUTH to RBAC"; pulumi-aws v7 `elasticache.User`,
    `UserGroup`, `ReplicationGroup.user_group_ids`): a user group holding the owner `feast` (`on ~* +@all`), the
    `default` user every group must contain (DefaultUserRequired), here switched off, and one user per consumer.
    In-transit encryption is required for RBAC, and is on. A group that had an AUTH token is modified in place
    (ModifyReplicationGroup with the user group added and `auth_token_update_strategy` DELETE; user_group_ids is
    not a replacing property): no data is lost, and the same update rolls the server and materializer onto the
    `feast` user (their config checksum changes); until they restart, their AUTH with the old token is refused.
    """

    endpoint: pulumi.Output[str]
    auth_token: pulumi.Output[str]
    owner_user: str | None
    """The owner's ElastiCache user (RBAC), or None (AUTH token)."""

    def __init__(self, name: str, args: RedisOnlineStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:features:RedisOnlineStore", name, None,
                         renamed_type(opts, "mlops:feature_store_online:RedisOnlineStore"))
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
        rbac = cfg.redis_auth == "rbac"
        group_id, base_id = name_within(name.lower(), REPLICATION_GROUP_ID_LIMIT), name.lower()
        self.owner_user = OWNER_USER if rbac else None
        auth: dict[str, Any] = {"auth_token": self.auth_token, "auth_token_update_strategy": "ROTATE"}
        if rbac:
            users = self._users(name, base_id, args)
            user_group = aws.elasticache.UserGroup(
                child(name, "users"), user_group_id=bounded_name(f"{base_id}-users", USER_ID_LIMIT), engine="redis",
                user_ids=[u.user_id for u in users], tags=args.tags, opts=child_options(self))
            auth = {"user_group_ids": [user_group.user_group_id], "auth_token_update_strategy": "DELETE"}
        group = aws.elasticache.ReplicationGroup(
            name,
            # Replication group ids are at most 40 characters: a longer `<name>-<7 random>` gets an explicit id.
            replication_group_id=group_id,
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
            **auth,
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

    def _users(self, name: str, base_id: str, args: RedisOnlineStoreArgs) -> list[aws.elasticache.User]:
        """The owner (the token's password), a disabled `default`, a user per consumer; ids `<name>-<suffix>` (lower case),
        a consumer's suffix `<namespace>-r` or `<namespace>-w` (its role)."""
        def user(suffix: str, user_name: str, access: str, password: pulumi.Input[str]) -> aws.elasticache.User:
            return aws.elasticache.User(
                child(name, f"user-{suffix}"), user_id=bounded_name(f"{base_id}-{suffix}", USER_ID_LIMIT),
                user_name=user_name, engine="redis", access_string=access, passwords=[password], tags=args.tags,
                opts=child_options(self))

        default_password = random.RandomPassword(child(name, "default-password"), length=64, special=False,
                                                 opts=child_options(self))
        users = [user("owner", OWNER_USER, "on ~* +@all", self.auth_token),
                 user("default", "default", "off -@all", pulumi.Output.secret(default_password.result))]
        for ns, login in sorted(args.consumers.items()):
            if login.redis_user is not None and login.redis_password is not None:
                # The id (and resource name) carries the role: a reader<->writer change renames the user, which
                # ElastiCache cannot do in place; under the same id the new user (created before the old one is
                # deleted) would fail with UserAlreadyExistsFault. With `-r`/`-w` the replacement is created, the
                # group moves to it, then the old user goes; and no consumer (`owner`, `default`) can take the id
                # of the owner's or the default user.
                users.append(user(f"{ns}-{'w' if login.write else 'r'}", login.redis_user,
                                  redis_access_string(args.project, login.write), login.redis_password))
        return users

