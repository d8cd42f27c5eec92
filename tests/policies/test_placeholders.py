"""mlops-no-placeholders: documentation accounts, reserved domains, emails at them and unbuilt images.

Each placeholder kind fires in a variant of a real-looking resource; the same resource with real-looking values is
silent; the shipped prod and staging stacks are marked templates (advisory), and a copy without the marker is
mandatory (no waiver covers the policy)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from mlops_policies.placeholders import TEMPLATE_KEY, is_template

from mlops_infra.cli.main import main
from mlops_infra.plan.outputs import ACCOUNT_ID
from tests.conftest import ROOT

from .cases import Case
from .helpers import R, messages, run

POLICY = "mlops-no-placeholders"
ENTRY = "aws:eks/accessEntry:AccessEntry"
SUB = "aws:sns/topicSubscription:TopicSubscription"
CRONJOB = "kubernetes:batch/v1:CronJob"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"


def cronjob(image: str) -> R:
    return R(CRONJOB, "job", {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
        {"name": "main", "image": image}]}}}}}})


REAL = [
    R(ENTRY, "admin", {"principalArn": "arn:aws:iam::406151998877:role/platform-admin"}),
    R(SUB, "mail", {"protocol": "email", "endpoint": "oncall@acme-ml.io"}),
    cronjob("406151998877.dkr.ecr.us-east-1.amazonaws.com/mlops/feast-s3:0.66.0"),
    R(INGRESS, "web", {"spec": {"rules": [{"host": "mlflow.acme-ml.io"}]}}),
    # Look-alikes that are not placeholders: a 13-digit number, a domain that merely contains "example", a .testing TLD.
    R("aws:ssm/parameter:Parameter", "p", {"value": "1234567890123 counterexample.com api.testing.io"}),
    # The nil UUID's last group is twelve zeros, not an account; an AWS-managed policy ARN names account `aws`.
    R("aws:ssm/parameter:Parameter", "u", {"value": "00000000-0000-0000-0000-000000000000"}),
    R("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a",
      {"policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"}),
    # Dotted identifiers under a reserved TLD's name, where no host stands: a Python module, a feature reference.
    R(CRONJOB, "train", {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
        {"name": "main", "image": "406151998877.dkr.ecr.us-east-1.amazonaws.com/mlops/trainer:1.0",
         "command": ["python", "-m", "pipelines.test"], "args": ["--features", "driver_stats.example"]}]}}}}}}),
]
PLACEHOLDERS: dict[str, tuple[R, str]] = {
    "account": (R(ENTRY, "admin", {"principalArn": "arn:aws:iam::123456789012:role/platform-admin"}),
                "admin: principalArn: AWS account 123456789012 is a documentation placeholder, not yours "
                "(arn:aws:iam::123456789012:role/platform-admin)"),
    "repeated-digits": (R(ENTRY, "admin", {"principalArn": "arn:aws:iam::000000000000:role/platform-admin"}),
                        "admin: principalArn: AWS account 000000000000 is a documentation placeholder, not yours "
                        "(arn:aws:iam::000000000000:role/platform-admin)"),
    "email": (R(SUB, "mail", {"protocol": "email", "endpoint": "ml-platform-oncall@example.com"}),
              "mail: endpoint: email 'ml-platform-oncall@example.com' is at a reserved example domain: nobody "
              "receives it"),
    "domain-example-tld": (R(INGRESS, "web", {"spec": {"rules": [{"host": "mlflow.corp.example"}]}}),
                           "web: spec.rules.0.host: domain 'mlflow.corp.example' is reserved for examples "
                           "(RFC 2606/6761): it never resolves to you"),
    "domain-invalid": (R(INGRESS, "web", {"spec": {"rules": [{"host": "mlflow.invalid"}]}}),
                       "web: spec.rules.0.host: domain 'mlflow.invalid' is reserved for examples (RFC 2606/6761): "
                       "it never resolves to you"),
    "domain-test": (R(INGRESS, "web", {"spec": {"rules": [{"host": "a.mlops.test"}]}}),
                    "web: spec.rules.0.host: domain 'a.mlops.test' is reserved for examples (RFC 2606/6761): it "
                    "never resolves to you"),
    "domain-test-url": (R("aws:ssm/parameter:Parameter", "p", {"value": "https://mlflow.mlops.test/api"}),
                        "p: value: domain 'mlflow.mlops.test' is reserved for examples (RFC 2606/6761): it never "
                        "resolves to you"),
    "domain-test-port": (R("aws:ssm/parameter:Parameter", "p", {"value": "redis.cache.invalid:6379"}),
                         "p: value: domain 'redis.cache.invalid' is reserved for examples (RFC 2606/6761): it never "
                         "resolves to you"),
    "domain-test-hosts": (R(INGRESS, "web", {"spec": {"tls": [{"hosts": ["a.mlops.test"]}]}}),
                          "web: spec.tls.0.hosts.0: domain 'a.mlops.test' is reserved for examples (RFC 2606/6761): "
                          "it never resolves to you"),
    "domain-example-org": (R(INGRESS, "web", {"spec": {"rules": [{"host": "mlflow.example.org"}]}}),
                           "web: spec.rules.0.host: domain 'mlflow.example.org' is reserved for examples "
                           "(RFC 2606/6761): it never resolves to you"),
    "image-account": (cronjob("123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops/feast-s3:0.66.0"),
                      "job: spec.jobTemplate.spec.template.spec.containers.0.image: image "
                      "'123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops/feast-s3:0.66.0' names account "
                      "123456789012's registry: build and push the image, then name the real one"),
    "image-template": (cronjob("<account>.dkr.ecr.<region>.amazonaws.com/mlops/metaflow-step:2.19.39-1"),
                       "job: spec.jobTemplate.spec.template.spec.containers.0.image: image "
                       "'<account>.dkr.ecr.<region>.amazonaws.com/mlops/metaflow-step:2.19.39-1' names a template "
                       "part: build and push the image, then name the real one"),
    "arn-template-account": (R(ENTRY, "admin", {"principalArn": "arn:aws:iam::${AWS_ACCOUNT_ID}:role/platform-admin"}),
                             "admin: principalArn: AWS account '${AWS_ACCOUNT_ID}' is a template part, not an "
                             "account"),
    "arn-caps-account": (R(ENTRY, "admin", {"principalArn": "arn:aws:iam::ACCOUNT_ID:role/platform-admin"}),
                         "admin: principalArn: AWS account 'ACCOUNT_ID' is a template part, not an account"),
    "ecr-template-account": (R("aws:ssm/parameter:Parameter", "p",
                               {"value": "ACCOUNT.dkr.ecr.us-east-1.amazonaws.com/mlops/feast-s3:0.66.0"}),
                             "p: value: AWS account 'ACCOUNT' is a template part, not an account"),
    "doc-access-key": (R("aws:ssm/parameter:Parameter", "p", {"value": "AKIAIOSFODNN7EXAMPLE"}),
                       "p: value: 'AKIAIOSFODNN7EXAMPLE' is a documentation or default credential, not a real one"),
    "changeme": (R("aws:ssm/parameter:Parameter", "p", {"value": "changeme"}),
                 "p: value: 'changeme' is a documentation or default credential, not a real one"),
}


CASES = [Case("real-looking", POLICY, REAL, []),
         *(Case(kind, POLICY, [resource], [expected]) for kind, (resource, expected) in sorted(PLACEHOLDERS.items()))]
"""For tests/policies/test_runner.py's census: every policy has a compliant and a violating case."""


def test_real_looking_values_are_silent() -> None:
    assert REAL
    assert messages(POLICY, REAL) == []


@pytest.mark.parametrize("kind", sorted(PLACEHOLDERS))
def test_each_placeholder_kind_fires(kind: str) -> None:
    resource, expected = PLACEHOLDERS[kind]
    assert messages(POLICY, resource) == [expected]


def test_a_long_policy_document_is_quoted_around_the_account_only() -> None:
    doc = json.dumps({"Statement": [{"Resource": "x" * 500, "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}]})
    [message] = messages(POLICY, R("aws:s3/bucketPolicy:BucketPolicy", "bp", {"policy": doc}))
    assert "111122223333" in message and len(message) < 200


def test_mandatory_outside_dev_and_waivable() -> None:
    resource, _ = PLACEHOLDERS["email"]
    assert [f.enforcement for f in run(POLICY, [resource], env="prod").findings] == ["mandatory"]
    assert [f.enforcement for f in run(POLICY, [resource], env="dev").findings] == ["advisory"]
    waived = run(POLICY, [resource], config={"waivers": [{"resource": "mail", "reason": "template",
                                                           "expires": "2099-01-01"}]})
    assert waived.findings == [] and len(waived.waived) == 1


def test_offline_the_engine_account_is_a_placeholder_only_where_the_stack_file_wrote_it() -> None:
    """Offline, every ARN the mocks hand back names ACCOUNT_ID (a documentation account): `check` passes it with the
    stack file's values, and only what the stack file wrote fires; under pulumi preview (no context) all of it."""
    assert ACCOUNT_ID == "123456789012"
    mocked = R(ENTRY, "mocked", {"principalArn": f"arn:aws:iam::{ACCOUNT_ID}:role/mlops-prod-node"})
    written = R(ENTRY, "admin", {"principalArn": f"arn:aws:iam::{ACCOUNT_ID}:role/platform-admin"})
    context = {"engineAccount": ACCOUNT_ID, "configValues": [f"arn:aws:iam::{ACCOUNT_ID}:role/platform-admin"]}
    assert [m.split(":")[0] for m in messages(POLICY, [mocked, written], config=context)] == ["admin"]
    assert sorted(m.split(":")[0] for m in messages(POLICY, [mocked, written])) == ["admin", "mocked"]
    other = R(ENTRY, "other", {"principalArn": "arn:aws:iam::111122223333:role/x"})
    assert messages(POLICY, other, config=context)  # another documentation account fires even offline


def _report(stack: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """(findings, waived) of the placeholder policy in `check --stack <stack>` (compliance pack, no rendering)."""
    main(["check", "--program", str(ROOT), "--stack", stack, "--format", "json", "--no-render", "--pack",
          "mlops-compliance", *extra])
    report = json.loads(capsys.readouterr().out)
    return ([f for f in report["findings"] if f["policy"] == POLICY],
            [w for w in report["waived"] if w["policy"] == POLICY])


def _copy_program(tmp_path: Path, stack: str, keep_marker: bool) -> Path:
    """A copy of this project (Pulumi.yaml, stacks/) whose `stack` file keeps or drops `mlops:template`."""
    program = tmp_path / "copy"
    shutil.copytree(ROOT / "stacks", program / "stacks", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "Pulumi.yaml", program / "Pulumi.yaml")
    stack_file = program / "stacks" / f"Pulumi.{stack}.yaml"
    text = stack_file.read_text()
    assert f"  {TEMPLATE_KEY}: true\n" in text
    if not keep_marker:
        stack_file.write_text(text.replace(f"  {TEMPLATE_KEY}: true\n", ""))
    return program


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_shipped_template_reports_advisory_and_a_copy_without_the_marker_is_mandatory(
        stack: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = json.loads((ROOT / "policies" / "config" / f"{stack}.json").read_text())
    assert POLICY not in config, "no waiver in policies/config covers the placeholders"
    marked, waived = _report(stack, capsys)
    assert marked, "the shipped stack holds placeholders"
    assert waived == [] and all(f["enforcement"] == "advisory" for f in marked)
    policy_config = ROOT / "policies" / "config" / f"{stack}.json"
    without, none_waived = _report(stack, capsys, "--program", str(_copy_program(tmp_path, stack, False)),
                                   "--policy-config", str(policy_config))
    assert without and none_waived == [] and all(f["enforcement"] == "mandatory" for f in without)
    assert len(without) == len(marked)
    kinds = {"account" if "AWS account" in f["message"] else f["message"].split(": ")[1].split(" ")[0]
             for f in without}
    assert {"account", "image"} <= kinds


def test_is_template_reads_the_stack_file_marker() -> None:
    assert is_template({TEMPLATE_KEY: True}) and is_template({TEMPLATE_KEY: "true"})
    assert not is_template({}) and not is_template({TEMPLATE_KEY: "false"}) and not is_template({TEMPLATE_KEY: False})


def test_a_copy_of_prod_with_real_values_and_no_marker_checks_clean(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """With the charts rendered (KServe's inferenceservice-config among them): once the stack file's placeholders are
    replaced and the marker dropped, nothing is left, so no waiver is needed (serving.ingressDomain is set)."""
    program = _copy_program(tmp_path, "prod", False)
    stack_file = program / "stacks" / "Pulumi.prod.yaml"
    text = stack_file.read_text()
    assert "123456789012" in text and "@example.com" in text
    stack_file.write_text(text.replace("123456789012", "246813579024").replace("@example.com", "@acme-corp.io"))
    main(["check", "--program", str(program), "--stack", "prod", "--format", "json", "--pack", "mlops-compliance",
          "--policy-config", str(ROOT / "policies" / "config" / "prod.json")])
    report = json.loads(capsys.readouterr().out)
    assert report["summary"], "the check ran"
    assert [f for f in report["findings"] if f["policy"] == POLICY] == []
