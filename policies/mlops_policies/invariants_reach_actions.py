"""Which granted IAM actions make the pod call an AWS service endpoint (family `service-reach`, #30).

Not every action is an API the pod calls at `<prefix>.<region>.amazonaws.com`:
- permission-only actions authorize something else (Service Authorization Reference, "permission-only actions"):
  `iam:PassRole` (IAM user guide, "Grant a user permissions to pass a role to an AWS service": checked when another
  API call names the role); `rds-db:connect` (RDS user guide, "Connecting to your DB instance using IAM
  authentication": the SDK signs the token locally, the database checks it); `kafka-cluster:*` (MSK developer guide,
  "Semantics of IAM authorization policy actions and resources": the brokers authorize them); `es:ESHttp*`
  (OpenSearch Service developer guide, "Identity and Access Management": HTTP requests to the domain's own
  endpoint); `elasticfilesystem:Client*` (EFS user guide, "Using IAM to control access to file systems": the NFS
  mount, authorized at the mount target).
- KMS: a grant used by S3, DynamoDB, Secrets Manager and the like on the caller's behalf (forward access sessions)
  is exercised from AWS's network, not the pod's; a statement restricted by `kms:ViaService` or
  `kms:GrantIsForAWSResource`, or a role that is granted such a service, is taken as that. Otherwise the pod calls
  KMS itself (sops, Vault's awskms seal) and KMS is judged like any other service.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

PERMISSION_ONLY = ("iam:passrole", "rds-db:connect", "kafka-cluster:*", "es:eshttp*", "elasticfilesystem:client*")
"""Action patterns (lower case) that call no service endpoint of their prefix."""
KMS_ON_BEHALF = frozenset({"s3", "dynamodb", "secretsmanager", "ssm", "sqs", "sns", "logs", "kinesis", "firehose",
                           "ec2", "elasticfilesystem", "rds", "glue", "athena"})
"""Services whose calls use the caller's KMS permissions from AWS's side (KMS developer guide, "kms:ViaService")."""
KMS_SERVICE_SIDE_KEYS = ("kms:viaservice", "kms:grantisforawsresource")


def _calls(action: str) -> bool:
    """Some API the action (pattern) stands for is called at its service's endpoint."""
    # not when the action, or every action its pattern matches, is permission-only
    return not any(fnmatch.fnmatchcase(action.lower(), p) for p in PERMISSION_ONLY)


def _service_side(statement: Mapping[str, Any]) -> bool:
    keys = [str(k).lower() for block in (statement.get("Condition") or {}).values() if isinstance(block, Mapping)
            for k in block]
    return any(k in KMS_SERVICE_SIDE_KEYS for k in keys)


def services_called(allow_statements: Iterable[Mapping[str, Any]]) -> set[str]:
    """Service prefixes the pod calls, from the role's Allow statements."""
    found: set[str] = set()
    kms_direct = False
    for st in allow_statements:
        actions = st.get("Action")
        for action in actions if isinstance(actions, list) else [actions]:
            if not isinstance(action, str) or ":" not in action or not _calls(action):
                continue
            prefix = action.split(":", 1)[0].lower()
            if prefix == "kms":
                kms_direct = kms_direct or not _service_side(st)
            else:
                found.add(prefix)
    if kms_direct and not found & KMS_ON_BEHALF:
        found.add("kms")
    return found
