"""tools/gen_autonames.py reads pulumi-aws's resource table as the bridge applies it (issue 26)."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from mlops_infra.plan.names import autoname_table
from tests.conftest import ROOT


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_autonames", ROOT / "tools" / "gen_autonames.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The shapes of provider/resource_overrides.go (tabs as gofmt writes them).
SOURCE = '''func resourceOverrides(p shim.Provider) map[string]*tfbridge.ResourceInfo {
\treturn map[string]*tfbridge.ResourceInfo{
\t\t"aws_iam_role": {
\t\t\tFields: map[string]*tfbridge.SchemaInfo{
\t\t\t\t"name": tfbridge.AutoName("name", 64, "-"),
\t\t\t\t"assume_role_policy": {
\t\t\t\t\tType:      "string",
\t\t\t\t},
\t\t\t},
\t\t},
\t\t"aws_elasticache_replication_group": {
\t\t\tFields: map[string]*tfbridge.SchemaInfo{
\t\t\t\t"replication_group_id": tfbridge.AutoNameTransform("replicationGroupId", 40, strings.ToLower),
\t\t\t},
\t\t},
\t\t"aws_key_pair": {
\t\t\tTok: awsResource(ec2Mod, "KeyPair"),
\t\t\tFields: map[string]*tfbridge.SchemaInfo{
\t\t\t\t"key_name": tfbridge.AutoName("keyName", 255, "-"),
\t\t\t},
\t\t},
\t\t"aws_sqs_queue": {
\t\t\tFields: map[string]*tfbridge.SchemaInfo{
\t\t\t\t"name": tfbridge.AutoNameWithCustomOptions("name", tfbridge.AutoNameOptions{
\t\t\t\t\tSeparator: "-",
\t\t\t\t\tMaxlen:    80,
\t\t\t\t\tRandlen:   7,
\t\t\t\t\tPostTransform: func(res *tfbridge.PulumiResource, name string) (string, error) {
\t\t\t\t\t\treturn name + ".fifo", nil
\t\t\t\t\t},
\t\t\t\t}),
\t\t\t},
\t\t},
\t\t"aws_cloudtrail": {Tok: awsResource(cloudtrailMod, "Trail")},
\t}
}
'''


def test_the_tool_reads_each_auto_name_form_with_its_token() -> None:
    table = _tool().parse_overrides(SOURCE)
    assert table == {
        "aws:iam/role:Role": {"name": {"separator": "-", "randomLength": 7, "maxLength": 64}},
        "aws:elasticache/replicationGroup:ReplicationGroup": {
            "replicationGroupId": {"separator": "-", "randomLength": 7, "maxLength": 40, "lowercase": True}},
        "aws:ec2/keyPair:KeyPair": {"keyName": {"separator": "-", "randomLength": 7, "maxLength": 255}},
        "aws:sqs/queue:Queue": {"name": {"separator": "-", "randomLength": 7, "maxLength": 80, "fifoSuffix": ".fifo"}},
    }


def test_the_committed_table_cites_its_source_and_holds_the_issues_examples() -> None:
    table = autoname_table()
    assert table["source"]["repository"] == "pulumi/pulumi-aws" and table["source"]["ref"]
    assert "provider/autonaming.go" in table["source"]["files"]
    resources = table["resources"]
    assert resources["aws:s3/bucket:Bucket"]["bucket"]["maxLength"] == 63
    assert resources["aws:elasticache/replicationGroup:ReplicationGroup"]["replicationGroupId"]["maxLength"] == 40
    assert resources["aws:sqs/queue:Queue"]["name"]["maxLength"] == 80
