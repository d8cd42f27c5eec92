"""Family `kms-users`: every encrypted resource can be used by its users. For each customer KMS key, every principal
that writes or reads something encrypted with it can use the key, through the key policy, or through its IAM
policies when the key policy delegates to the account (a statement for the account root; the default key policy).

Who needs what (each from the AWS documentation of the service):
- S3 (SSE-KMS, "Using server-side encryption with AWS KMS keys", S3 user guide): a reader (s3:GetObject on the bucket)
  needs kms:Decrypt, a writer (s3:PutObject) kms:GenerateDataKey, via s3.<region>.amazonaws.com.
- CloudWatch Logs ("Encrypt log data in CloudWatch Logs using AWS KMS"): the key policy lets
  logs.<region>.amazonaws.com Encrypt/Decrypt/GenerateDataKey, any encryption-context condition matching the group
  (folds in `mlops-inv-log-group-key-grants-logs`).
- SNS ("Enable compatibility between event sources from AWS services and encrypted topics", SNS developer guide):
  CloudWatch alarms (cloudwatch.amazonaws.com), EventBridge (events.amazonaws.com) and S3 notifications
  (s3.amazonaws.com) need kms:Decrypt and kms:GenerateDataKey* in the key policy; an IAM publisher (sns:Publish)
  needs them via sns.<region>.amazonaws.com.
- EBS through Auto Scaling ("Required AWS KMS key policy for use with encrypted volumes", EC2 Auto Scaling guide):
  the service-linked role AWSServiceRoleForAutoScaling has no access to customer keys; the key policy (or a KMS
  grant) must let it Decrypt, GenerateDataKey* and CreateGrant when a launch template of a group encrypts with it.
- EBS through the CSI driver (aws-ebs-csi-driver docs, "KMS key policy"; AmazonEBSCSIDriverPolicy grants no KMS):
  the driver's role needs kms:CreateGrant (kms:GrantIsForAWSResource), kms:Decrypt and
  kms:GenerateDataKeyWithoutPlaintext via ec2.<region> (docs/install.md's statement; kms:DescribeKey, in the EKS user
  guide's example, is not in the driver's list and not required here).
- Secrets Manager ("Secret encryption and decryption in AWS Secrets Manager"): a reader (GetSecretValue) needs
  kms:Decrypt via secretsmanager.<region>; RDS-managed master secrets likewise.
- DynamoDB ("How Amazon DynamoDB uses AWS KMS"): readers and writers need kms:Decrypt via dynamodb.<region>.
Not judged: principals outside the stack (other accounts, SSO users), RDS storage itself (RDS holds its own grant),
statements whose resources are `*` (whose user they serve is not known), Deny statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .core import NotApplicable, Resource, Stack, as_list, json_doc, stack_policy, statements
from .invariants_aws import _grants_logs, _region, alarm_senders
from .invariants_cluster import PACK
from .invariants_index import POD_IDENTITY, Index, index
from .invariants_roles import Identifiers, RoleGrants, allows, identifiers, matches, role_grants
from .invariants_workloads import trusted_subjects

KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
GRANT = "aws:kms/grant:Grant"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TOPIC = "aws:sns/topic:Topic"
NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
GROUP_USERS = ("aws:autoscaling/group:Group", "aws:eks/nodeGroup:NodeGroup")
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
SECRET = "aws:secretsmanager/secret:Secret"
TABLE = "aws:dynamodb/table:Table"
DATABASES = ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster")
EBS_CSI_ACCOUNT = "kube-system/ebs-csi-controller-sa"
ASG_ROLE = "role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
PUBLISH = ("kms:Decrypt", "kms:GenerateDataKey")
READ_S3, WRITE_S3 = ("s3:GetObject",), ("s3:PutObject",)
READ_DDB = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchGetItem", "dynamodb:PutItem",
            "dynamodb:UpdateItem", "dynamodb:BatchWriteItem")


@dataclass(frozen=True)
class Key:
    res: Resource
    doc: dict[str, Any] | None
    """The key policy (None: the default policy, which only delegates to the account's IAM)."""
    arn: str
    region: str
    account: str
    partition: str
    names: frozenset[str]
    """Every way the stack refers to the key (ARN, id)."""

    def ids(self) -> frozenset[str]:
        return self.names


def keys(idx: Index, ids: Identifiers) -> dict[str, Key]:
    """Key URN -> its model; keys whose policy is not known are left out (not judged)."""
    overrides = {u: kp for kp in idx.of_type(KEY_POLICY) for u in kp.property_dependencies.get("keyId", ())}
    found = {}
    for res in idx.of_type(KEY):
        source = overrides.get(res.urn, res)
        try:
            doc = json_doc(source.get("policy"), "key policy")
        except NotApplicable:
            continue
        arn = ids.arn(res, ":key/") or _arn_from_id(ids, res, doc)
        parts = arn.split(":") if isinstance(arn, str) else []
        if len(parts) < 6:
            continue  # no input names the key's ARN: its region and account are not known here
        found[res.urn] = Key(res, doc, str(arn), parts[3], parts[4], parts[1], frozenset(ids.of(res)))
    return found


def _arn_from_id(ids: Identifiers, res: Resource, doc: Mapping[str, Any] | None) -> str | None:
    """A key referred to by id only (`kms_master_key_id=key.id`): its ARN from that id, the account its policy's root
    statement names and the region of the stack's other ARNs (None when any is unknown)."""
    key_id = ids.name(res, "keyId")
    roots = [str(p) for st in statements(doc) for p in _principals(st, "AWS")
             if str(p).startswith("arn:") and str(p).endswith(":root")]
    regions = sorted({a.split(":")[3] for v in ids.found.values() for a in v if a.startswith("arn:")
                      and a.count(":") >= 5 and a.split(":")[3]})
    if not key_id or not roots or len(regions) != 1:
        return None
    partition, account = roots[0].split(":")[1], roots[0].split(":")[4]
    return f"arn:{partition}:kms:{regions[0]}:{account}:key/{key_id}"


def _principals(st: Mapping[str, Any], kind: str) -> list[Any]:
    principal = st.get("Principal")
    if principal == "*":
        return ["*"] if kind == "AWS" else []
    return as_list(principal.get(kind)) if isinstance(principal, Mapping) else []


def key_policy_allows(key: Key, kind: str, who: str, action: str, context: Mapping[str, str | None]) -> bool:
    """The key policy itself grants `who` (a service name or a principal ARN) `action`."""
    for st in statements(key.doc):
        if st.get("Effect") != "Allow":
            continue
        listed = _principals(st, kind)
        if kind == "AWS" and not (matches(listed, who) or "*" in listed):
            continue
        if kind == "Service" and who not in listed:
            continue
        if allows([st], action, key.arn, context):
            return True
    return False


def delegates_to_iam(key: Key, action: str) -> bool:
    """The key policy lets the account's IAM policies grant `action` (a statement for the account root)."""
    if key.doc is None:
        return True
    roots = {f"arn:{key.partition}:iam::{key.account}:root", key.account}
    return any(st.get("Effect") == "Allow" and any(p in roots for p in _principals(st, "AWS"))
               and matches(as_list(st.get("Action")), action) for st in statements(key.doc))


class Users:
    """What each principal may do with each key: key policy, IAM through delegation, and KMS grants."""

    def __init__(self, idx: Index, grants: RoleGrants, ids: Identifiers) -> None:
        self.idx, self.grants, self.ids = idx, grants, ids
        self.kms_grants: dict[str, list[Resource]] = {}
        for g in idx.of_type(GRANT):
            for urn in g.property_dependencies.get("keyId", ()):
                self.kms_grants.setdefault(urn, []).append(g)

    def missing_for_role(self, key: Key, role: Resource, actions: Iterable[str], via: str) -> list[str]:
        arn = self.role_arn(role, key)
        context = {"kms:viaservice": f"{via}.{key.region}.amazonaws.com", "aws:principalarn": arn,
                   "kms:grantisforawsresource": "true"}
        return [a for a in actions if not (
            key_policy_allows(key, "AWS", arn, a, context) or self._granted(key, arn, a)
            or (delegates_to_iam(key, a) and allows(self.grants.of(role), a, key.arn, context)))]

    def missing_for_arn(self, key: Key, arn: str, actions: Iterable[str], via: str) -> list[str]:
        context = {"kms:viaservice": f"{via}.{key.region}.amazonaws.com", "aws:principalarn": arn,
                   "kms:grantisforawsresource": "true"}
        return [a for a in actions if not (key_policy_allows(key, "AWS", arn, a, context)
                                           or self._granted(key, arn, a))]

    def missing_for_service(self, key: Key, service: str, actions: Iterable[str]) -> list[str]:
        return [a for a in actions if not key_policy_allows(key, "Service", service, a, {})]

    def role_arn(self, role: Resource, key: Key) -> str:
        """The role's ARN: as other inputs name it, else built from its name in the key's account."""
        known = self.ids.arn(role, ":role/")
        if known:
            return known
        path = role.get("path") if isinstance(role.get("path"), str) else "/"
        return f"arn:{key.partition}:iam::{key.account}:role{path}{self.ids.name(role) or role.name}"

    def _granted(self, key: Key, arn: str, action: str) -> bool:
        for g in self.kms_grants.get(key.res.urn, ()):
            ops = [f"kms:{o}" for o in as_list(g.get("operations")) if isinstance(o, str)]
            if g.get("granteePrincipal") == arn and matches(ops, action):
                return True
        return False


def _users_of(idx: Index, grants: RoleGrants, actions: tuple[str, ...], arn: str,
              exact: bool = False) -> Iterator[Resource]:
    """Roles with an Allow statement for one of `actions` on a resource naming `arn` (not `*`-wide patterns)."""
    for role in grants.roles:
        for st in grants.of(role):
            if not any(matches(as_list(st.get("Action")), a) for a in actions):
                continue
            resources = [r for r in as_list(st.get("Resource")) if isinstance(r, str)]
            if any(r == arn or (not exact and r.startswith((f"{arn}/", f"{arn}*"))) for r in resources):
                yield role
                break


def _encrypted_by(res: Resource, props: Iterable[str], key: Key) -> bool:
    """`res`'s input `prop` came from the key (a property dependency) or is its ARN or id as a literal."""
    return any(key.res.urn in res.property_dependencies.get(p, ())
               or (isinstance(res.get(p), str) and res.get(p) in key.ids()) for p in props)


Finding = tuple[Resource, str]


def _role_message(key: Key, role: Resource, verb: str, thing: Resource, missing: list[str], via: str) -> str:
    return (f"role {role.name} {verb} {thing.name}, encrypted with KMS key {key.res.name}, but neither the key "
            f"policy nor {role.name}'s IAM policies allow it {', '.join(missing)} (via {via}): grant "
            f"{', '.join(missing)} on key {key.res.name} to role {role.name}")


def s3_findings(idx: Index, users: Users, key: Key) -> Iterator[Finding]:
    buckets = {b.urn: b for b in idx.of_type(*BUCKET_TYPES)}
    for sse in idx.of_type(SSE):
        if not _encrypted_by(sse, ("rules",), key):
            continue
        for urn in sse.property_dependencies.get("bucket", ()):
            bucket = buckets.get(urn)
            name = (users.ids.name(bucket, "bucket") if bucket is not None else None) or sse.get("bucket")
            if bucket is None or not isinstance(name, str):
                continue
            arn = f"arn:{key.partition}:s3:::{name}"
            for actions, kms, verb in ((READ_S3, ("kms:Decrypt",), "reads bucket"),
                                       (WRITE_S3, ("kms:GenerateDataKey",), "writes bucket")):
                for role in _users_of(idx, users.grants, actions, arn):
                    missing = users.missing_for_role(key, role, kms, "s3")
                    if missing:
                        yield key.res, _role_message(key, role, verb, bucket, missing, "s3")


def log_findings(idx: Index, key: Key) -> Iterator[Finding]:
    for group in idx.of_type(LOG_GROUP):
        if not _encrypted_by(group, ("kmsKeyId",), key):
            continue
        region = _region(group, key.res) or key.region
        name = str(group.get("name") or group.name)
        if not any(s.get("Effect") == "Allow" and _grants_logs(s, region, name) for s in statements(key.doc)):
            yield group, (f"log group {group.name} ({name}) is encrypted with KMS key {key.res.name}, whose policy "
                          f"does not let logs.{region}.amazonaws.com Encrypt/Decrypt/GenerateDataKey for it: add "
                          f"that service statement to key {key.res.name}'s policy (condition "
                          f"kms:EncryptionContext:aws:logs:arn matching the group)")


def sns_findings(idx: Index, users: Users, key: Key) -> Iterator[Finding]:
    senders = alarm_senders(idx)
    notifications = idx.of_type(NOTIFICATION)
    for topic in idx.of_type(TOPIC):
        if not _encrypted_by(topic, ("kmsMasterKeyId",), key):
            continue
        services: dict[str, list[Resource]] = {}
        for sender in senders.get(topic.urn, ()):
            service = {"aws:cloudwatch/eventTarget:EventTarget": "events.amazonaws.com",
                       "aws:cloudwatch/metricAlarm:MetricAlarm": "cloudwatch.amazonaws.com",
                       "aws:cloudwatch/compositeAlarm:CompositeAlarm": "cloudwatch.amazonaws.com"}.get(sender.type)
            if service:
                services.setdefault(service, []).append(sender)
        services.setdefault("s3.amazonaws.com", []).extend(
            n for n in notifications if topic.urn in n.property_dependencies.get("topics", ()))
        for service, sending in sorted(services.items()):
            missing = users.missing_for_service(key, service, PUBLISH) if sending else []
            if missing:
                yield key.res, (f"{', '.join(sorted({s.name for s in sending}))} publish to SNS topic {topic.name} "
                                f"through {service}, but the policy of its KMS key {key.res.name} does not allow "
                                f"{service} {', '.join(missing)}: add a statement for Service {service} with "
                                "kms:Decrypt and kms:GenerateDataKey* to the key policy")
        arn = users.ids.arn(topic, ":sns:")
        for role in _users_of(idx, users.grants, ("sns:Publish",), str(arn), exact=True) if isinstance(arn, str) \
                else ():
            missing = users.missing_for_role(key, role, PUBLISH, "sns")
            if missing:
                yield key.res, _role_message(key, role, "publishes to topic", topic, missing, "sns")


def ebs_findings(idx: Index, users: Users, key: Key) -> Iterator[Finding]:
    """Launch templates of Auto Scaling and node groups, and StorageClasses of the EBS CSI driver."""
    slr = f"arn:{key.partition}:iam::{key.account}:{ASG_ROLE}"
    for lt in idx.of_type(LAUNCH_TEMPLATE):
        if not _encrypted_by(lt, ("blockDeviceMappings",), key):
            continue
        groups = [g for g in idx.of_type(*GROUP_USERS) if lt.urn in {
            u for p in ("launchTemplate", "mixedInstancesPolicy") for u in g.property_dependencies.get(p, ())}]
        missing = users.missing_for_arn(key, slr, ("kms:Decrypt", "kms:GenerateDataKeyWithoutPlaintext",
                                                   "kms:CreateGrant"), "ec2") if groups else []
        if missing:
            yield key.res, (f"{', '.join(g.name for g in groups)} launch instances from launch template {lt.name}, "
                            f"whose volumes are encrypted with KMS key {key.res.name}, but the key policy does not "
                            f"let AWSServiceRoleForAutoScaling {', '.join(missing)}: add the Auto Scaling "
                            "service-linked role to the key policy (or a KMS grant to it)")
    csi_roles = _csi_roles(idx, users.grants)
    for sc in idx.of_type(STORAGE_CLASS):
        params = sc.get("parameters")
        if sc.get("provisioner") != "ebs.csi.aws.com" or not isinstance(params, Mapping):
            continue
        if params.get("kmsKeyId") not in key.ids() and not _encrypted_by(sc, ("parameters",), key):
            continue
        for role in csi_roles:
            missing = users.missing_for_role(key, role, (
                "kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKeyWithoutPlaintext"), "ec2")
            if missing:
                yield key.res, _role_message(key, role, "(the EBS CSI driver) provisions volumes of StorageClass",
                                             sc, missing, "ec2")


def _csi_roles(idx: Index, grants: RoleGrants) -> list[Resource]:
    """The EBS CSI driver's roles: trusted by its controller's ServiceAccount, named by its add-on or association."""
    found = {}
    for role in grants.roles:
        try:
            if EBS_CSI_ACCOUNT in trusted_subjects(role):
                found[role.urn] = role
        except NotApplicable:
            continue
    addon = idx.addons.get("aws-ebs-csi-driver")
    linked = list(addon.property_dependencies.get("serviceAccountRoleArn", ())) if addon else []
    linked += [u for a in idx.of_type(POD_IDENTITY)
               if f"{a.get('namespace')}/{a.get('serviceAccount')}" == EBS_CSI_ACCOUNT
               for u in a.property_dependencies.get("roleArn", ())]
    for urn in linked:
        linked_role = idx.get(urn)
        if linked_role is not None and linked_role.type == "aws:iam/role:Role":
            found[urn] = linked_role
    return list(found.values())


def secret_findings(idx: Index, users: Users, key: Key) -> Iterator[Finding]:
    """Secrets Manager secrets, RDS-managed master secrets and DynamoDB tables encrypted with the key."""
    stores: list[tuple[Resource, str, tuple[str, ...], str, str]] = []
    for secret in idx.of_type(SECRET):
        arn = users.ids.arn(secret, ":secretsmanager:")
        if _encrypted_by(secret, ("kmsKeyId",), key) and arn:
            stores.append((secret, arn, ("secretsmanager:GetSecretValue",), "secretsmanager",
                           "reads secret"))
    for db in idx.of_type(*DATABASES):
        if _encrypted_by(db, ("masterUserSecretKmsKeyId",), key):
            for role in _master_secret_readers(idx, users.grants, db):
                missing = users.missing_for_role(key, role, ("kms:Decrypt",), "secretsmanager")
                if missing:
                    yield key.res, _role_message(key, role, "reads the RDS-managed master secret of", db, missing,
                                                 "secretsmanager")
    for table in idx.of_type(TABLE):
        name = users.ids.name(table)
        arn = users.ids.arn(table, ":table/") or (
            f"arn:{key.partition}:dynamodb:{key.region}:{key.account}:table/{name}" if name else None)
        if _encrypted_by(table, ("serverSideEncryption",), key) and arn:
            stores.append((table, arn, READ_DDB, "dynamodb", "reads or writes table"))
    for thing, arn, actions, via, verb in stores:
        for role in _users_of(idx, users.grants, actions, arn, exact=via == "secretsmanager"):
            missing = users.missing_for_role(key, role, ("kms:Decrypt",), via)
            if missing:
                yield key.res, _role_message(key, role, verb, thing, missing, via)


def _master_secret_readers(idx: Index, grants: RoleGrants, db: Resource) -> Iterator[Resource]:
    """Roles whose RolePolicy grants GetSecretValue on a document built from the database (its master secret's ARN
    is an output, `master_user_secrets[0].secret_arn`: the relation is the property dependency)."""
    for rp in idx.of_type("aws:iam/rolePolicy:RolePolicy"):
        if db.urn not in rp.property_dependencies.get("policy", ()):
            continue
        try:
            doc = json_doc(rp.get("policy"), "role policy")
        except NotApplicable:
            continue
        if any(matches(as_list(st.get("Action")), "secretsmanager:GetSecretValue") for st in statements(doc)
               if st.get("Effect") == "Allow"):
            yield from (r for r in grants.roles if r.urn in rp.property_dependencies.get("role", ()))


@stack_policy(
    "mlops-inv-kms-key-users",
    description="Every principal that reads or writes something encrypted with a customer KMS key can use the key "
                "(key policy, or IAM when the key policy delegates to the account, with kms:ViaService): S3 readers "
                "and writers, CloudWatch Logs for encrypted log groups, SNS publishers (CloudWatch alarms, "
                "EventBridge, S3 notifications, IAM roles), Auto Scaling and the EBS CSI driver for encrypted "
                "volumes, Secrets Manager, RDS master-secret and DynamoDB readers. Otherwise every call is "
                "AccessDenied (or, for AWS services, silently dropped).",
    severity="high", pack=PACK, strictness="always",
    controls=("CIS-AWS 3.5", "SOC2 CC6.1", "ISO27001 A.8.24"),
    remediation="Grant the missing kms actions on the key to the principal the message names: in the key policy "
                "for AWS services and service-linked roles, in the role's IAM policy (Resource the key ARN) for "
                "workload roles when the key policy delegates to the account.",
)
def kms_key_users(stack: Stack, config: Mapping[str, Any]) -> Iterable[Finding]:
    idx = index(stack)
    ids = identifiers(stack)
    found = keys(idx, ids)
    if not found:
        return
    users = Users(idx, role_grants(stack), ids)
    for key in found.values():
        yield from log_findings(idx, key)
        yield from s3_findings(idx, users, key)
        yield from sns_findings(idx, users, key)
        yield from ebs_findings(idx, users, key)
        yield from secret_findings(idx, users, key)

