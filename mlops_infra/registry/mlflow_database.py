"""MlflowDatabase: the MLflow backend store, RDS Postgres that only the cluster can reach (blocks/postgres.py).

The master password is RDS-managed (`manage_master_user_password`): RDS generates and rotates it in Secrets
Manager, encrypted with our key, so no password ever enters config, Pulumi state or an output. Readers get
the secret's ARN and fetch it at runtime with their own IAM permission.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..blocks import iam
from ..blocks.kms import KmsKey
from ..blocks.naming import renamed_type
from ..blocks.network_access import PrivatePlacement
from ..blocks.postgres import PARAMETERS, POSTGRES_PORT, PostgresArgs, postgres
from ..config.database import DatabaseConfig

__all__ = ["DB_NAME", "MASTER_USERNAME", "PARAMETERS", "POSTGRES_PORT", "MlflowDatabase", "MlflowDatabaseArgs"]

DB_NAME = "mlflow"
MASTER_USERNAME = "mlflow"


@dataclass(frozen=True)
class MlflowDatabaseArgs:
    config: DatabaseConfig
    placement: PrivatePlacement
    """Private subnets, admitting only the cluster security group."""
    kms_key: KmsKey
    """Encrypts storage, Performance Insights and the master-user secret."""
    tags: dict[str, str]
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the instance. Default: true."""


class MlflowDatabase(pulumi.ComponentResource):
    address: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    port: pulumi.Output[int]
    master_secret_arn: pulumi.Output[str]
    instance: aws.rds.Instance

    def __init__(self, name: str, args: MlflowDatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:registry:MlflowDatabase", name, None,
                         renamed_type(opts, "mlops:mlflow_database:MlflowDatabase"))
        self.kms_key = args.kms_key
        self.db_name = DB_NAME
        self.username = MASTER_USERNAME
        self.db = postgres(name, self, PostgresArgs(
            config=args.config, placement=args.placement, kms_key=args.kms_key, tags=args.tags, db_name=DB_NAME,
            username=MASTER_USERNAME, iam_database_authentication=True, protect=args.protect))
        self.instance = self.db.instance
        self.security_group = self.db.security_group
        self.address = self.instance.address
        self.endpoint = self.instance.endpoint
        self.port = self.instance.port
        self.master_secret_arn = self.db.master_secret_arn
        self.register_outputs({"address": self.address, "endpoint": self.endpoint,
                               "masterSecretArn": self.master_secret_arn})

    def secret_read_statements(self) -> list[iam.Statement]:
        """Read the master-user secret (and decrypt it): what the tracking server's credential sidecar needs."""
        return [iam.statement("ReadDatabaseSecret", ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
                              [self.master_secret_arn])]
