"""An example reads the platform's outputs through blocks.stack_outputs: a missing one fails naming the output, the
stack and the config that exports it (not `KeyError`)."""

from __future__ import annotations

import pytest

from mlops_infra.plan import PlanError, plan_program
from tests.conftest import EXAMPLES, planned
from tests.platform.test_standalone import PLATFORM_STACK


@pytest.mark.parametrize("example", ["audit_trail", "security_baseline"])
def test_a_missing_bucket_output_names_the_config_that_exports_it(example: str) -> None:
    outputs = {k: v for k, v in planned("dev").outputs.items() if k != "featureStoreOfflineBucketName"}
    assert "featureStoreOfflineBucketName" in planned("dev").outputs
    with pytest.raises(PlanError, match=r"no output 'featureStoreOfflineBucketName'.*`featureStore\.enabled: true`"):
        plan_program(EXAMPLES / example, "dev", stack_refs={PLATFORM_STACK: outputs})


def test_the_security_baseline_example_guards_the_platforms_s3_gateway_endpoint() -> None:
    """The exfiltration guards of a consumer stack, on the endpoint the platform exports (`vpcS3GatewayEndpointId`)."""
    endpoint = planned("dev").outputs["vpcS3GatewayEndpointId"]
    assert endpoint.startswith("vpce-")
    inv = plan_program(EXAMPLES / "security_baseline", "dev", stack_refs={PLATFORM_STACK: planned("dev").outputs})
    assert inv.of_type("mlops:security:ExfiltrationGuards")
    assert inv.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    assert inv.of_type("aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy") == []  # the platform's endpoint: not written


def test_the_threat_detection_topic_is_encrypted_and_admits_only_this_accounts_rules() -> None:
    import json
    inv = plan_program(EXAMPLES / "threat_detection", "dev")
    (topic,) = inv.of_type("aws:sns/topic:Topic")
    (key,) = inv.of_type("aws:kms/key:Key")
    assert key.urn in topic.property_dependencies["kmsMasterKeyId"]  # the customer key, not SNS's managed one
    key_policy = json.loads(key.inputs["policy"])
    events = [s for s in key_policy["Statement"] if s.get("Principal") == {"Service": "events.amazonaws.com"}]
    assert events and {"kms:Decrypt", "kms:GenerateDataKey*"} <= {a for s in events for a in s["Action"]}
    (policy,) = inv.of_type("aws:sns/topicPolicy:TopicPolicy")
    statements = json.loads(policy.inputs["policy"])["Statement"]
    assert statements
    for s in statements:
        assert s["Condition"]["StringEquals"]["aws:SourceAccount"]
        assert s["Condition"]["ArnLike"]["aws:SourceArn"].startswith("arn:aws:events:us-east-1:")
