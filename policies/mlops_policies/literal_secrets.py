"""Secret inputs written as literals in the program, on any resource (not only Kubernetes Secrets).

A provider SDK marks some inputs secret (an RDS instance's `password`, a Secrets Manager version's `secretString`,
an IAM access key's PGP key...): Pulumi encrypts them in state, but a literal is in the program's source and its
history. The offline plan records which secret inputs were literals (`plainSecretInputs`); under `pulumi preview` that
record does not exist, so this rule applies only to `mlops-infra check`. Kubernetes Secrets have their own rule
(`mlops-no-plaintext-secrets-k8s`, which knows which keys hold identities rather than secrets).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .core import Resource, Stack, stack_policy, unescape_pointer

KUBERNETES_SECRETS = ("kubernetes:core/v1:Secret", "kubernetes:core/v1:SecretPatch")
SSM_PARAMETER = "aws:ssm/parameter:Parameter"


def _declared_plain(res: Resource, pointer: str) -> bool:
    """An SSM `String`/`StringList` parameter's `value`: the SDK marks it secret, but the program declared the value
    non-secret by its type (pulumi-aws v7 offers `insecure_value` for exactly this)."""
    return res.type == SSM_PARAMETER and pointer == "/value" and res.get("type") in ("String", "StringList")


@stack_policy(
    "mlops-no-literal-secret-inputs",
    description="No secret input of any resource (database passwords, Secrets Manager values, tokens) is a literal in "
                "the program: it comes from Pulumi secret config, a generated value, or the service's own managed "
                "secret.",
    severity="critical", pack="mlops-security",
    controls=("SOC2 CC6.1", "ISO27001 A.8.12", "PCI-DSS 3.5.1"),
    remediation="Read the value with `pulumi.Config().require_secret(...)`, generate it (pulumi_random), or let the "
                "service manage it (RDS manage_master_user_password). An SSM String parameter is not judged (its "
                "type says the value is not secret): pass such a value as `insecure_value`.",
    strictness="always",
)
def literal_secret_inputs(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    for res in stack.resources:
        if res.type in KUBERNETES_SECRETS or not res.literal_secrets:
            continue
        for pointer in res.literal_secrets:
            if _declared_plain(res, pointer):
                continue
            path = ".".join(unescape_pointer(pointer)) or "(value)"
            yield res, (f"secret input {path} is a literal in the program: Pulumi encrypts it in state, but the value "
                        "is in the source and its history")
