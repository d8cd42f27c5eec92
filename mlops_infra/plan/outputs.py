"""Realistic provider outputs for the mock engine, so programs that chain outputs run to the end.

Only outputs the engine would compute (ids, ARNs, endpoints, generated names) are added; inputs are
echoed back unchanged, as a real provider does.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable
from typing import Any

from .names import aws_auto_name, k8s_auto_name

ACCOUNT_ID = "123456789012"

State = dict[str, Any]


def short_hash(seed: str, length: int = 17) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


class Ctx:
    """What an output generator may use: the resource's name, inputs, mock id and the region."""

    def __init__(self, typ: str, name: str, inputs: State, rid: str, region: str) -> None:
        self.typ, self.name, self.inputs, self.id, self.region = typ, name, inputs, rid, region

    def arn(self, service: str, resource: str, *, regional: bool = True, account: bool = True) -> str:
        region = self.region if regional else ""
        acct = ACCOUNT_ID if account else ""
        return f"arn:{self.partition}:{service}:{region}:{acct}:{resource}"

    @property
    def partition(self) -> str:
        """The ARN partition of the provider's region (`aws`, `aws-us-gov`, `aws-cn`)."""
        return str(_partition(self.region)["partition"])

    def physical_name(self, key: str = "name") -> str:
        """An explicit name input, else the name the provider generates (names.py: its own auto-name table, or the
        Terraform provider's suffix after a `<key>Prefix`). Never cut: a name over its limit is refused by the
        engine's checks (names.name_problems), as the provider or the API would refuse it."""
        given = self.inputs.get(key)
        if isinstance(given, str) and given:
            return given
        return aws_auto_name(self.typ, key, self.name, self.inputs)[0]


def _bucket(c: Ctx) -> State:
    bucket = c.physical_name("bucket")
    return {"bucket": bucket, "arn": f"arn:{c.partition}:s3:::{bucket}", "region": c.region,
            "bucketDomainName": f"{bucket}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{bucket}.s3.{c.region}.amazonaws.com"}


def _eks_cluster(c: Ctx) -> State:
    name = c.physical_name()
    oidc_id = short_hash(name, 32).upper()
    ca = base64.b64encode(f"-----BEGIN CERTIFICATE-----\nmock-ca-{name}\n-----END CERTIFICATE-----\n".encode()).decode()
    vpc = dict(c.inputs.get("vpcConfig") or {})
    vpc.setdefault("clusterSecurityGroupId", f"sg-{short_hash(name + 'cluster-sg')}")
    vpc.setdefault("vpcId", f"vpc-{short_hash(name + 'vpc')}")
    return {
        "name": name,
        "arn": c.arn("eks", f"cluster/{name}"),
        "endpoint": f"https://{oidc_id}.gr7.{c.region}.eks.amazonaws.com",
        "certificateAuthority": {"data": ca},
        "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{c.region}.amazonaws.com/id/{oidc_id}"}]}],
        "platformVersion": "eks.1",
        "status": "ACTIVE",
        "version": c.inputs.get("version", "1.35"),
        "vpcConfig": vpc,
        # EKS fills serviceIpv4Cidr when none is given: 172.20.0.0/16 for a VPC in 10.0.0.0/8 (the platform's), else
        # 10.100.0.0/16 (EKS API reference, KubernetesNetworkConfigRequest.serviceIpv4Cidr).
        "kubernetesNetworkConfig": {"ipFamily": "ipv4", "serviceIpv4Cidr": "172.20.0.0/16",
                                    **dict(c.inputs.get("kubernetesNetworkConfig") or {})},
    }


def _iam_role(c: Ctx) -> State:
    name = c.physical_name()
    path = c.inputs.get("path", "/")
    return {"name": name, "arn": f"arn:{c.partition}:iam::{ACCOUNT_ID}:role{path}{name}", "uniqueId": "AROA" + short_hash(name, 17).upper()}


def _iam_policy(c: Ctx) -> State:
    name = c.physical_name()
    return {"name": name, "arn": f"arn:{c.partition}:iam::{ACCOUNT_ID}:policy/{name}", "policyId": "ANPA" + short_hash(name).upper()}


def _oidc_provider(c: Ctx) -> State:
    url = str(c.inputs.get("url", "")).removeprefix("https://")
    return {"arn": f"arn:{c.partition}:iam::{ACCOUNT_ID}:oidc-provider/{url}"}


def _kms_key(c: Ctx) -> State:
    key_id = f"{short_hash(c.name, 8)}-{short_hash(c.name + '1', 4)}-{short_hash(c.name + '2', 4)}-" \
             f"{short_hash(c.name + '3', 4)}-{short_hash(c.name + '4', 12)}"
    return {"keyId": key_id, "arn": c.arn("kms", f"key/{key_id}")}


def _rds_instance(c: Ctx) -> State:
    ident = c.physical_name("identifier")
    port = c.inputs.get("port", 5432)
    address = f"{ident}.{short_hash(ident, 12)}.{c.region}.rds.amazonaws.com"
    out: State = {"identifier": ident, "address": address, "port": port, "endpoint": f"{address}:{port}",
                  "arn": c.arn("rds", f"db:{ident}"), "resourceId": "db-" + short_hash(ident, 26).upper(),
                  "hostedZoneId": "Z2R2ITUGPM61AM"}
    if c.inputs.get("manageMasterUserPassword"):
        out["masterUserSecrets"] = [{"secretArn": c.arn("secretsmanager", f"secret:rds!{ident}-AbCdEf"),
                                     "kmsKeyId": c.inputs.get("masterUserSecretKmsKeyId", ""),
                                     "secretStatus": "active"}]
    return out


def _named_arn(service: str, fmt: str, key: str = "name") -> Callable[[Ctx], State]:
    def gen(c: Ctx) -> State:
        name = c.physical_name(key)
        return {key: name, "arn": c.arn(service, fmt.format(name=name, id=c.id))}
    return gen


def _with(gen: Callable[[Ctx], State], extra: Callable[[Ctx], State]) -> Callable[[Ctx], State]:
    return lambda c: {**gen(c), **extra(c)}


def _vpc(c: Ctx) -> State:
    return {"arn": c.arn("ec2", f"vpc/{c.id}"), "defaultSecurityGroupId": f"sg-{short_hash(c.id + 'default')}",
            "defaultNetworkAclId": f"acl-{short_hash(c.id + 'acl')}", "mainRouteTableId": f"rtb-{short_hash(c.id)}",
            "ownerId": ACCOUNT_ID}


def _redis(c: Ctx) -> State:
    rg = c.physical_name("replicationGroupId")
    host = f"master.{rg}.{short_hash(rg, 6)}.use1.cache.amazonaws.com"
    return {"replicationGroupId": rg, "arn": c.arn("elasticache", f"replicationgroup:{rg}"),
            "primaryEndpointAddress": host, "readerEndpointAddress": host.replace("master.", "replica."),
            "port": c.inputs.get("port", 6379)}


def _k8s_meta(c: Ctx) -> State:
    meta = dict(c.inputs.get("metadata") or {})
    if not meta.get("name"):
        meta["name"] = k8s_auto_name(c.typ, c.name)
    meta.setdefault("uid", short_hash(c.id, 32))
    return {"metadata": meta}


def _helm_release(c: Ctx) -> State:
    name = c.inputs.get("name") or k8s_auto_name(c.typ, c.name)
    return {"name": name, "status": {"name": name, "namespace": c.inputs.get("namespace", "default"),
                                     "status": "deployed", "version": c.inputs.get("version", ""), "revision": 1}}


GENERATORS: dict[str, Callable[[Ctx], State]] = {
    "aws:s3/bucket:Bucket": _bucket,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:iam/role:Role": _iam_role,
    "aws:iam/policy:Policy": _iam_policy,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc_provider,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _named_arn("kms", "{name}"),
    "aws:rds/instance:Instance": _rds_instance,
    "aws:rds/subnetGroup:SubnetGroup": _named_arn("rds", "subgrp:{name}"),
    "aws:rds/parameterGroup:ParameterGroup": _named_arn("rds", "pg:{name}"),
    "aws:ec2/vpc:Vpc": _vpc,
    "aws:ec2/subnet:Subnet": lambda c: {"arn": c.arn("ec2", f"subnet/{c.id}"), "ownerId": ACCOUNT_ID},
    "aws:ec2/securityGroup:SecurityGroup": _with(_named_arn("ec2", "security-group/{id}"),
                                                 lambda c: {"ownerId": ACCOUNT_ID}),
    "aws:ec2/launchTemplate:LaunchTemplate": _with(_named_arn("ec2", "launch-template/{id}"),
                                                   lambda c: {"latestVersion": 1, "defaultVersion": 1}),
    "aws:ec2/natGateway:NatGateway": lambda c: {"publicIp": "198.51.100.10", "networkInterfaceId": f"eni-{short_hash(c.id)}"},
    "aws:ec2/eip:Eip": lambda c: {"publicIp": "198.51.100.10", "allocationId": f"eipalloc-{short_hash(c.id)}"},
    "aws:ec2/vpcEndpoint:VpcEndpoint": lambda c: {"arn": c.arn("ec2", f"vpc-endpoint/{c.id}"),
                                                  "prefixListId": f"pl-{short_hash(c.id, 8)}"},
    "aws:ec2/placementGroup:PlacementGroup": _named_arn("ec2", "placement-group/{name}"),
    "aws:eks/nodeGroup:NodeGroup": _with(_named_arn("eks", "nodegroup/{name}", key="nodeGroupName"),
                                         lambda c: {"status": "ACTIVE"}),
    "aws:eks/addon:Addon": lambda c: {"arn": c.arn("eks", f"addon/{c.inputs.get('clusterName', '')}/{c.inputs.get('addonName', '')}")},
    "aws:dynamodb/table:Table": _with(_named_arn("dynamodb", "table/{name}"),
                                      lambda c: {"streamArn": ""}),
    "aws:elasticache/replicationGroup:ReplicationGroup": _redis,
    "aws:elasticache/subnetGroup:SubnetGroup": _named_arn("elasticache", "subnetgroup:{name}"),
    "aws:sns/topic:Topic": _named_arn("sns", "{name}"),
    "aws:sqs/queue:Queue": _with(_named_arn("sqs", "{name}"),
                                 lambda c: {"url": f"https://sqs.{c.region}.amazonaws.com/{ACCOUNT_ID}/{c.physical_name()}"}),
    "aws:cloudwatch/logGroup:LogGroup": _named_arn("logs", "log-group:{name}"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _named_arn("cloudwatch", "alarm:{name}"),
    "aws:cloudwatch/eventRule:EventRule": _named_arn("events", "rule/{name}"),
    "aws:secretsmanager/secret:Secret": _named_arn("secretsmanager", "secret:{name}-AbCdEf"),
    "aws:cloudtrail/trail:Trail": _named_arn("cloudtrail", "trail/{name}"),
    "aws:guardduty/detector:Detector": lambda c: {"arn": c.arn("guardduty", f"detector/{c.id}"), "accountId": ACCOUNT_ID},
    "aws:accessanalyzer/analyzer:Analyzer": _named_arn("access-analyzer", "analyzer/{name}", key="analyzerName"),
    "aws:glue/catalogDatabase:CatalogDatabase": _named_arn("glue", "database/{name}"),
    "aws:athena/workgroup:Workgroup": _named_arn("athena", "workgroup/{name}"),
    "aws:sagemaker/featureGroup:FeatureGroup": _named_arn("sagemaker", "feature-group/{name}", key="featureGroupName"),
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": _named_arn(
        "sagemaker", "model-package-group/{name}", key="modelPackageGroupName"),
    "aws:amp/workspace:Workspace": lambda c: {"arn": c.arn("aps", f"workspace/ws-{c.id}"),
                                              "prometheusEndpoint": f"https://aps-workspaces.{c.region}.amazonaws.com/workspaces/ws-{c.id}/"},
    "random:index/randomPassword:RandomPassword": lambda c: {"result": "mock-" + short_hash(c.name, 24)},
    "random:index/randomId:RandomId": lambda c: {"hex": short_hash(c.name, 16), "b64Url": short_hash(c.name, 11)},
    "kubernetes:helm.sh/v3:Release": _helm_release,
}


def mock_id(typ: str, urn: str) -> str:
    """A stable id in the shape AWS uses for the type (vpc-..., subnet-..., sg-...)."""
    prefixes = {"aws:ec2/vpc:Vpc": "vpc-", "aws:ec2/subnet:Subnet": "subnet-", "aws:ec2/securityGroup:SecurityGroup": "sg-",
                "aws:ec2/natGateway:NatGateway": "nat-", "aws:ec2/internetGateway:InternetGateway": "igw-",
                "aws:ec2/routeTable:RouteTable": "rtb-", "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce-",
                "aws:ec2/launchTemplate:LaunchTemplate": "lt-", "aws:ec2/eip:Eip": "eipalloc-"}
    return prefixes.get(typ, "id-") + short_hash(urn)


# Types whose AWS id is one of their own outputs (a bucket's id is its name, a topic's its ARN).
ID_OUTPUT: dict[str, str] = {
    "aws:s3/bucket:Bucket": "bucket", "aws:iam/role:Role": "name", "aws:iam/policy:Policy": "arn",
    "aws:eks/cluster:Cluster": "name", "aws:cloudwatch/logGroup:LogGroup": "name", "aws:dynamodb/table:Table": "name",
    "aws:sns/topic:Topic": "arn", "aws:kms/key:Key": "keyId", "aws:kms/alias:Alias": "name",
    "aws:rds/subnetGroup:SubnetGroup": "name", "aws:elasticache/replicationGroup:ReplicationGroup": "replicationGroupId",
    "aws:secretsmanager/secret:Secret": "arn", "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "arn",
    "aws:glue/catalogDatabase:CatalogDatabase": "name", "aws:athena/workgroup:Workgroup": "name",
}


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def outputs_for(typ: str, name: str, inputs: State, rid: str, region: str) -> State:
    """Inputs echoed back plus the computed outputs for `typ`; every AWS resource gets an `arn` and `tagsAll`."""
    inputs = _whole_numbers(inputs)  # the wire carries every number as a float; ports and sizes are ints
    ctx = Ctx(typ, name, inputs, rid, region)
    state: State = dict(inputs)
    gen = GENERATORS.get(typ)
    if gen is None and typ.startswith("kubernetes:") and not typ.startswith("kubernetes:helm"):
        gen = _k8s_meta
    if gen is not None:
        state.update(gen(ctx))
    if typ.startswith("aws:"):
        service = typ.split(":")[1].split("/")[0]
        state.setdefault("arn", ctx.arn(service, f"{typ.rsplit(':', 1)[-1].lower()}/{rid}"))
        if "tags" in inputs:
            state.setdefault("tagsAll", inputs["tags"])
    return state


def _yaml_decode(text: str) -> State:
    """`kubernetes:yaml:decode` (what `kubernetes.yaml.ConfigFile`/`ConfigGroup` v1 call): every document of the
    text that has a kind and an apiVersion, in order (pulumi-kubernetes provider/pkg/provider/invoke_decode_yaml.go
    skips the others). Without it the SDK registers no object of the manifest."""
    from mlops_infra.plan.render_cache import _load_all

    # Parsed as the provider does (apimachinery YAMLOrJSONDecoder → sigs.k8s.io/yaml → JSON): an unquoted timestamp
    # stays a string, not a date (render_cache's go-yaml-like loader)
    docs = _load_all(text)
    return {"result": [d for d in docs if isinstance(d, dict) and d.get("kind") and d.get("apiVersion")]}


def _strings(values: Any) -> Any:
    """A set of strings as the Terraform data source writes it: one value as a string, more in reverse order
    (terraform-provider-aws internal/service/iam policy_model.go policyDecodeConfigStrings), `&{` as `${`."""
    out = sorted((str(v).replace("&{", "${") for v in values), reverse=True)
    return out[0] if len(out) == 1 else out


def _merge_statements(into: list[State], new: list[State], merged: State | None = None, doc: State | None = None) -> None:
    """iamPolicyDoc.Merge: a statement replaces the one with its Sid, or is appended; the merged document adopts
    the new one's Id (when set) and the higher Version (policy_model.go)."""
    if merged is not None and doc is not None:
        if doc.get("Id"):
            merged["Id"] = doc["Id"]
        if str(doc.get("Version") or "") > str(merged.get("Version") or ""):
            merged["Version"] = doc["Version"]
    for stmt in new:
        same = [i for i, old in enumerate(into) if stmt.get("Sid") and old.get("Sid") == stmt.get("Sid")]
        if same:
            into[same[0]] = stmt
        else:
            into.append(stmt)


def _policy_document(args: State) -> State:
    """`aws.iam.get_policy_document`: the document the Terraform data source builds (policy_document_data_source.go:
    source documents, then the statements, then override documents, merged by Sid; Effect defaults to Allow)."""
    import json

    statements: list[State] = []
    head: State = {}
    for source in args.get("sourcePolicyDocuments") or []:
        source_doc = json.loads(source)
        _merge_statements(statements, source_doc.get("Statement") or [], head, source_doc)
    own: list[State] = []
    for cfg in args.get("statements") or []:
        stmt: State = {"Sid": cfg.get("sid") or "", "Effect": cfg.get("effect") or "Allow"}
        for key, out in (("actions", "Action"), ("notActions", "NotAction"), ("resources", "Resource"),
                         ("notResources", "NotResource")):
            if cfg.get(key):
                stmt[out] = _strings(cfg[key])
        for key, out in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            if cfg.get(key):
                ids: dict[str, list[Any]] = {}
                for principal in cfg[key]:  # blocks of one type add up (iamPolicyStatementPrincipalSet)
                    ids.setdefault(principal["type"], []).extend(principal["identifiers"])
                stmt[out] = {t: _strings(v) for t, v in sorted(ids.items())}  # Go marshals map keys sorted
                if stmt[out] == {"*": "*"}:
                    stmt[out] = "*"
        conditions: dict[str, dict[str, list[str]]] = {}
        for cond in cfg.get("conditions") or []:  # blocks of one test and variable add up, in order
            values = [str(v).replace("&{", "${") for v in cond.get("values") or []]  # (iamPolicyStatementConditionSet)
            conditions.setdefault(cond["test"], {}).setdefault(cond["variable"], []).extend(values)
        if conditions:
            stmt["Condition"] = {t: {k: x[0] if len(x) == 1 else x for k, x in sorted(v.items())}
                                 for t, v in sorted(conditions.items())}
        own.append({k: v for k, v in stmt.items() if v != ""})
    _merge_statements(statements, own, head, {"Version": args.get("version") or "2012-10-17",
                                              "Id": args.get("policyId") or ""})
    for override in args.get("overridePolicyDocuments") or []:
        override_doc = json.loads(override)
        _merge_statements(statements, override_doc.get("Statement") or [], head, override_doc)
    doc: State = {"Version": head["Version"]}
    if head.get("Id"):
        doc["Id"] = head["Id"]
    doc["Statement"] = statements
    text = json.dumps(doc, indent=2)
    return {"json": text, "minifiedJson": json.dumps(doc, separators=(",", ":")), "id": str(zlib.crc32(text.encode())),
            "statements": args.get("statements") or [], "version": doc["Version"]}


def invoke_result(token: str, args: State, region: str) -> State:
    """Results of the data-source invokes a program may call."""
    if token == "kubernetes:yaml:decode":
        return _yaml_decode(str(args.get("text") or ""))
    if token == "aws:iam/getPolicyDocument:getPolicyDocument":
        return _policy_document(args)
    results: dict[str, State] = {
        "aws:index/getCallerIdentity:getCallerIdentity": {
            "accountId": ACCOUNT_ID, "arn": f"arn:{_partition(region)['partition']}:iam::{ACCOUNT_ID}:user/plan",
            "userId": "AIDAPLAN", "id": ACCOUNT_ID},
        "aws:index/getRegion:getRegion": {"name": region, "region": region, "id": region,
                                          "endpoint": f"ec2.{region}.amazonaws.com", "description": region},
        "aws:index/getPartition:getPartition": _partition(region),
        "aws:index/getAvailabilityZones:getAvailabilityZones": {
            "names": [f"{region}{s}" for s in "abcdef"], "zoneIds": [f"use1-az{i}" for i in range(1, 7)],
            "id": region, "groupNames": [region]},
        "aws:ec2/getPrefixList:getPrefixList": _prefix_list(str(args.get("name", "")), region),
    }
    return results.get(token, {})


# Representative S3 prefix-list entries (`aws ec2 get-managed-prefix-list-entries`, us-east-1 and eu-west-1).
_S3_PREFIX_LISTS: dict[str, tuple[str, list[str]]] = {
    "us-east-1": ("pl-63a5400a", ["16.182.0.0/16", "3.5.0.0/19", "52.216.0.0/15", "54.231.0.0/16"]),
    "eu-west-1": ("pl-6da54004", ["3.5.64.0/21", "52.218.0.0/17", "52.92.0.0/17"]),
}


def _partition(region: str) -> State:
    """`aws.get_partition()`: the partition of the provider's region (GovCloud `us-gov-*`, China `cn-*`)."""
    if region.startswith("us-gov-"):
        return {"partition": "aws-us-gov", "dnsSuffix": "amazonaws.com", "id": "aws-us-gov",
                "reverseDnsPrefix": "com.amazonaws"}
    if region.startswith("cn-"):
        return {"partition": "aws-cn", "dnsSuffix": "amazonaws.com.cn", "id": "aws-cn",
                "reverseDnsPrefix": "cn.com.amazonaws"}
    return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws", "reverseDnsPrefix": "com.amazonaws"}


# Any other gateway service (DynamoDB): a documentation-range placeholder, not AWS's list (the deployed program reads
# the real one); distinct from S3's so a policy that admits only S3 is told apart.
_OTHER_PREFIX_LIST = ("pl-0planother", ["192.0.2.0/24"])


def _prefix_list(name: str, region: str) -> State:
    """`aws.ec2.get_prefix_list(name="com.amazonaws.<region>.<service>")`: the region's S3 CIDRs, or a placeholder
    for another service."""
    if name and not name.endswith(".s3"):
        pl_id, cidrs = _OTHER_PREFIX_LIST
    else:
        pl_id, cidrs = _S3_PREFIX_LISTS.get(region, ("pl-0s3plan", ["52.95.0.0/20"]))
    return {"id": pl_id, "prefixListId": pl_id, "name": name or f"com.amazonaws.{region}.s3", "cidrBlocks": cidrs}
