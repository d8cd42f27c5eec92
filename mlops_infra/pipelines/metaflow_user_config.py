"""The Metaflow config users put in `~/.metaflowconfig/config.json`: exactly what `metaflow configure` writes.

Key names are Metaflow's (metaflow 2.19.39, `metaflow/metaflow_config.py`: every setting is `from_conf("<NAME>")`,
read as `METAFLOW_<NAME>` from the environment, then the config file; `metaflow/cmd/configure_cmd.py` writes the file
with `json.dump(env, f, indent=4, sort_keys=True)`). Pure code: the component applies it to its outputs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MetaflowUserConfigArgs:
    bucket: str
    """The datastore bucket's name."""
    datastore_prefix: str
    datatools_prefix: str
    service_url: str
    """The metadata service, as flows and users reach it (in-cluster DNS name)."""
    namespace: str
    service_account: str
    """The flows' ServiceAccount: its IAM role reads and writes the datastore."""
    image: str
    cpu: str
    memory_mib: int
    tolerations: Sequence[Mapping[str, str]] = ()
    """Kubernetes tolerations of every step (the training pools' taints)."""
    node_selector: Mapping[str, str] = field(default_factory=dict)
    """Default node selector of every step (a training pool's label). Default: none."""
    env_secret: str | None = None
    """A Secret whose keys every step (and every Argo workflow step) gets as environment variables."""


def metaflow_user_config(args: MetaflowUserConfigArgs) -> dict[str, str]:
    """`METAFLOW_*` keys and string values (Metaflow parses TOLERATIONS as JSON and NODE_SELECTOR as `k=v,k=v`)."""
    root = f"s3://{args.bucket}"
    out: dict[str, str] = {
        "METAFLOW_DEFAULT_DATASTORE": "s3",
        "METAFLOW_DATASTORE_SYSROOT_S3": f"{root}/{args.datastore_prefix}",
        "METAFLOW_DATATOOLS_S3ROOT": f"{root}/{args.datatools_prefix}",
        "METAFLOW_DEFAULT_METADATA": "service",
        "METAFLOW_SERVICE_URL": args.service_url,
        "METAFLOW_SERVICE_INTERNAL_URL": args.service_url,
        "METAFLOW_KUBERNETES_NAMESPACE": args.namespace,
        "METAFLOW_KUBERNETES_SERVICE_ACCOUNT": args.service_account,
        "METAFLOW_KUBERNETES_CONTAINER_IMAGE": args.image,
        "METAFLOW_KUBERNETES_CPU": args.cpu,
        "METAFLOW_KUBERNETES_MEMORY": str(args.memory_mib),
        # Requests equal limits, as on every platform pod (kube_utils.qos_requests_and_limits: "guaranteed").
        "METAFLOW_KUBERNETES_QOS": "guaranteed",
    }
    # No METAFLOW_S3_SERVER_SIDE_ENCRYPTION: "aws:kms" without a key id would encrypt with the AWS-managed key;
    # the bucket's default encryption applies the platform's customer key to every object.
    if args.tolerations:
        out["METAFLOW_KUBERNETES_TOLERATIONS"] = json.dumps([dict(t) for t in args.tolerations], sort_keys=True)
    if args.node_selector:
        out["METAFLOW_KUBERNETES_NODE_SELECTOR"] = ",".join(f"{k}={v}" for k, v in sorted(args.node_selector.items()))
    if args.env_secret:
        # Both `--with kubernetes` and Argo steps read KUBERNETES_SECRETS (ARGO_WORKFLOWS_KUBERNETES_SECRETS
        # would add the same envFrom twice).
        out["METAFLOW_KUBERNETES_SECRETS"] = args.env_secret
    return out


def config_json(config: Mapping[str, Any]) -> str:
    """The file as `metaflow configure` writes it."""
    return json.dumps(dict(config), indent=4, sort_keys=True)

