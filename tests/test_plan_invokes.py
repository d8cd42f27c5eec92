"""Data-source invokes the plan engine answers as the providers do, so programs that build objects from them plan
what they deploy: `kubernetes:yaml:decode` (yaml.ConfigFile/ConfigGroup v1 register no object without it) and
`aws:iam/getPolicyDocument` (a policy built with aws.iam.get_policy_document was planned without its document)."""

from __future__ import annotations

import json
from typing import Any

from mlops_infra.plan.outputs import invoke_result
from tests.conftest import PROGRAMS, planned

FAMILIES = PROGRAMS / "families"


def test_decode_keeps_documents_with_kind_and_api_version_in_order() -> None:
    text = "---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n" \
           "metadata: {name: no-kind}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n"
    result = invoke_result("kubernetes:yaml:decode", {"text": text}, "us-east-1")["result"]
    assert [(d["kind"], d["metadata"]["name"]) for d in result] == [("ConfigMap", "a"), ("Secret", "b")]


def test_a_config_group_registers_every_object_of_its_text() -> None:
    records = planned("good", FAMILIES / "selector_configgroup").to_json()["resources"]
    children = {r["type"].rsplit(":", 1)[-1] for r in records
                if (r.get("parent") or "").endswith("ConfigGroup::feature-server")}
    assert children == {"Namespace", "ServiceAccount", "Deployment", "Service", "ServiceMonitor", "NetworkPolicy",
                        "Ingress"}


def policy_document(**args: object) -> dict[str, Any]:
    result = invoke_result("aws:iam/getPolicyDocument:getPolicyDocument", dict(args), "us-east-1")
    doc: dict[str, Any] = json.loads(result["json"])
    assert json.loads(result["minifiedJson"]) == doc
    return doc


def test_a_policy_document_is_written_as_the_terraform_data_source_writes_it() -> None:
    doc = policy_document(statements=[
        {"actions": ["sts:AssumeRoleWithWebIdentity"],
         "principals": [{"type": "Federated", "identifiers": ["arn:aws:iam::1:oidc-provider/x"]}],
         "conditions": [{"test": "StringEquals", "variable": "x:sub", "values": ["system:serviceaccount:a:b"]},
                        {"test": "StringEquals", "variable": "x:aud", "values": ["sts.amazonaws.com"]}]},
        {"sid": "Deny", "effect": "Deny", "actions": ["s3:GetObject", "s3:PutObject"], "resources": ["&{aws:username}"],
         "principals": [{"type": "*", "identifiers": ["*"]}]},
    ])
    assert doc == {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
         "Principal": {"Federated": "arn:aws:iam::1:oidc-provider/x"},
         "Condition": {"StringEquals": {"x:aud": "sts.amazonaws.com", "x:sub": "system:serviceaccount:a:b"}}},
        {"Sid": "Deny", "Effect": "Deny", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "${aws:username}",
         "Principal": "*"},
    ]}


def test_statements_merge_with_source_and_override_documents_by_sid() -> None:
    source = json.dumps({"Statement": [{"Sid": "A", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"},
                                       {"Sid": "B", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    override = json.dumps({"Statement": [{"Sid": "B", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}]})
    doc = policy_document(sourcePolicyDocuments=[source],
                          overridePolicyDocuments=[override], policyId="p1",
                          statements=[{"sid": "A", "actions": ["s3:ListAllMyBuckets"], "resources": ["*"]}])
    assert doc["Id"] == "p1"
    assert [(s["Sid"], s["Effect"], s["Action"]) for s in doc["Statement"]] == [
        ("A", "Allow", "s3:ListAllMyBuckets"), ("B", "Deny", "s3:GetObject")]


def test_a_role_whose_trust_comes_from_get_policy_document_is_planned_with_it() -> None:
    records = planned("good", FAMILIES / "identity_irsa-sub").to_json()["resources"]
    [role] = [r for r in records if r["type"] == "aws:iam/role:Role" and r["name"] == "materializer-irsa"]
    [statement] = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert sorted(statement["Condition"]["StringEquals"].values()) == [
        "sts.amazonaws.com", "system:serviceaccount:features:feature-materializer"]


def test_decode_keeps_an_unquoted_timestamp_a_string_as_the_provider_does() -> None:
    # apimachinery's YAMLOrJSONDecoder goes through sigs.k8s.io/yaml to JSON: no date type (PyYAML made a date)
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {since: 2024-01-02, at: 2024-01-02T03:04:05Z}\n"
    [doc] = invoke_result("kubernetes:yaml:decode", {"text": text}, "us-east-1")["result"]
    assert doc["data"] == {"since": "2024-01-02", "at": "2024-01-02T03:04:05Z"}
    json.dumps(doc)  # what the engine hands back to the program must be JSON


def test_condition_blocks_of_one_test_and_variable_add_up_in_order() -> None:
    doc = policy_document(statements=[{"actions": ["s3:GetObject"], "resources": ["*"], "conditions": [
        {"test": "StringEquals", "variable": "aws:PrincipalTag/team", "values": ["b"]},
        {"test": "StringEquals", "variable": "aws:PrincipalTag/team", "values": ["a", "c"]},
        {"test": "StringEquals", "variable": "aws:RequestedRegion", "values": ["us-east-1"]}]}])
    assert doc["Statement"][0]["Condition"] == {"StringEquals": {
        "aws:PrincipalTag/team": ["b", "a", "c"], "aws:RequestedRegion": "us-east-1"}}


def test_the_merged_document_adopts_the_last_id_and_the_highest_version() -> None:
    source = json.dumps({"Version": "2012-10-17", "Id": "from-source", "Statement": []})
    old = json.dumps({"Version": "2008-10-17", "Id": "from-override", "Statement": []})
    doc = policy_document(sourcePolicyDocuments=[source], version="2008-10-17",
                          statements=[{"actions": ["s3:GetObject"], "resources": ["*"]}])
    assert (doc["Version"], doc["Id"]) == ("2012-10-17", "from-source")
    doc = policy_document(overridePolicyDocuments=[old], policyId="own",
                          statements=[{"actions": ["s3:GetObject"], "resources": ["*"]}])
    assert (doc["Version"], doc["Id"]) == ("2012-10-17", "from-override")
