"""EKS control-plane policies."""

from __future__ import annotations

import copy
from typing import Any

from mlops_policies.aws_eks import CLUSTER

from .cases import Case, check, params
from .helpers import R

GOOD: dict[str, Any] = {
    "version": "1.35",
    "vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": False, "subnetIds": ["a", "b"]},
    "encryptionConfig": {"provider": {"keyArn": "arn:aws:kms:us-east-1:1:key/x"}, "resources": ["secrets"]},
    "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
}


def cluster(**changes: Any) -> list[R]:
    inputs = copy.deepcopy(GOOD)
    for key, value in changes.items():
        if key == "vpc":
            inputs["vpcConfig"].update(value)
        elif value is None:
            inputs.pop(key)
        else:
            inputs[key] = value
    return [R(CLUSTER, "eks", inputs)]


CASES = [
    Case("private", "mlops-eks-private-endpoint", cluster(), []),
    Case("no-private", "mlops-eks-private-endpoint", cluster(vpc={"endpointPrivateAccess": False}),
         ["eks: private endpoint access is off (vpcConfig.endpointPrivateAccess)"]),
    Case("public-off", "mlops-eks-public-endpoint-restricted", cluster(), []),
    Case("public-restricted", "mlops-eks-public-endpoint-restricted",
         cluster(vpc={"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}), []),
    Case("public-default-open", "mlops-eks-public-endpoint-restricted",
         cluster(vpc={"endpointPublicAccess": None}),
         ["eks: public endpoint is open to 0.0.0.0/0 (no publicAccessCidrs)"]),
    Case("public-world", "mlops-eks-public-endpoint-restricted",
         cluster(vpc={"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}),
         ["eks: public endpoint allows 0.0.0.0/0"]),
    Case("cidrs-unknown", "mlops-eks-public-endpoint-restricted",
         cluster(vpc={"endpointPublicAccess": True, "publicAccessCidrs": "[unknown]"}), []),
    Case("encrypted", "mlops-eks-secrets-encryption", cluster(), []),
    Case("none", "mlops-eks-secrets-encryption", cluster(encryptionConfig=None),
         ["eks: secrets are not envelope-encrypted (encryptionConfig with resources ['secrets'])"]),
    Case("no-key", "mlops-eks-secrets-encryption", cluster(encryptionConfig={"resources": ["secrets"], "provider": {}}),
         ["eks: secrets encryption has no KMS key (encryptionConfig.provider.keyArn)"]),
    Case("all-five", "mlops-eks-control-plane-logging", cluster(), []),
    Case("two", "mlops-eks-control-plane-logging", cluster(enabledClusterLogTypes=["api", "audit"]),
         ["eks: control-plane log types not enabled: authenticator, controllerManager, scheduler"]),
    Case("supported", "mlops-eks-supported-version", cluster(), []),
    Case("unset-is-latest", "mlops-eks-supported-version", cluster(version=None), []),
    Case("old", "mlops-eks-supported-version", cluster(version="1.29"),
         ["eks: Kubernetes 1.29 is not in standard support (supported: 1.33, 1.34, 1.35)"]),
]


@params(CASES)
def test_eks(case: Case) -> None:
    check(case)
