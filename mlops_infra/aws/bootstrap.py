"""Prepare a Pulumi state backend: a hardened S3 bucket plus a KMS key (and alias) for the secrets provider.

Idempotent: every setting is read first and written only when it is missing. Settings the run did not
create and finds wrong are *drift*: reported, and changed only with `fix=True`. One customer key encrypts the
state bucket (SSE-KMS with a bucket key) and serves as Pulumi's `awskms://` secrets provider.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import ClientError

from .results import table
from .session import Aws, AwsOperationError, error_code

State = Literal["ok", "created", "fixed", "drift"]
TLS_SID = "DenyInsecureTransport"
_BUCKET_RE = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ALIAS_RE = re.compile(r"^alias/[A-Za-z0-9/_-]{1,250}$")


class BootstrapInputError(ValueError):
    """A bucket name or alias AWS would reject, or a bucket that lives elsewhere: bad input (exit 2)."""


def default_alias(bucket: str) -> str:
    """`alias/pulumi-<bucket>` (dots become dashes: alias names allow none)."""
    return f"alias/pulumi-{bucket.replace('.', '-')}"


def validate(bucket: str, alias: str) -> None:
    if not _BUCKET_RE.match(bucket):
        raise BootstrapInputError(f"invalid S3 bucket name {bucket!r} (3-63 characters: a-z, 0-9, '.', '-')")
    if not _ALIAS_RE.match(alias) or alias.startswith("alias/aws/"):
        raise BootstrapInputError(f"invalid KMS alias {alias!r} (alias/<name>: A-Z a-z 0-9 / _ -, not alias/aws/...)")


@dataclass(frozen=True)
class Item:
    subject: str
    control: str
    state: State
    detail: str


@dataclass
class BootstrapResult:
    bucket: str
    region: str
    account: str
    alias: str
    key_arn: str
    profile: str | None = None
    endpoint_url: str | None = None
    items: list[Item] = field(default_factory=list)

    @property
    def drift(self) -> list[Item]:
        return [i for i in self.items if i.state == "drift"]

    @property
    def changed(self) -> bool:
        return any(i.state in ("created", "fixed") for i in self.items)

    @property
    def login_command(self) -> str:
        query = f"region={self.region}&awssdk=v2" + (f"&profile={self.profile}" if self.profile else "")
        return f"pulumi login 's3://{self.bucket}?{query}'"

    @property
    def secrets_provider(self) -> str:
        return f"awskms://{self.alias}?region={self.region}"

    def render(self) -> str:
        lines = [f"Pulumi state backend s3://{self.bucket} in {self.region} (account {self.account})"]
        if self.endpoint_url:
            lines.append(f"endpoint: {self.endpoint_url} (AWS_ENDPOINT_URL)")
        lines.append(table(["RESOURCE", "SETTING", "STATE", "DETAIL"],
                           [[i.subject, i.control, i.state, i.detail] for i in self.items]))
        if self.drift:
            lines.append(f"{len(self.drift)} setting(s) drifted; re-run with --fix to correct them.")
        else:
            lines += ["", "Use it with:", f"  {self.login_command}",
                      f"  pulumi stack init <stack> --secrets-provider '{self.secrets_provider}'"]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket, "region": self.region, "account": self.account, "kmsAlias": self.alias,
            "kmsKeyArn": self.key_arn, "loginCommand": self.login_command, "secretsProvider": self.secrets_provider,
            "items": [{"subject": i.subject, "control": i.control, "state": i.state, "detail": i.detail}
                      for i in self.items],
        }


def tls_only_statement(bucket: str) -> dict[str, Any]:
    arn = f"arn:aws:s3:::{bucket}"
    return {"Sid": TLS_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def has_tls_only(policy: dict[str, Any]) -> bool:
    """True when some Deny statement for every principal and s3:* applies when aws:SecureTransport is false."""
    statements = policy.get("Statement", [])
    for st in statements if isinstance(statements, list) else [statements]:
        cond = (st.get("Condition") or {}).get("Bool") or {}
        actions = st.get("Action")
        if (st.get("Effect") == "Deny" and st.get("Principal") in ("*", {"AWS": "*"})
                and str(cond.get("aws:SecureTransport")).lower() == "false"
                and (actions == "s3:*" or (isinstance(actions, list) and "s3:*" in actions))):
            return True
    return False


@dataclass(frozen=True)
class _Setting:
    control: str
    ok: bool
    detail: str
    fix: Callable[[], object] | None
    """Writes the right value; None when it cannot be fixed automatically."""
    wanted: str


class StateBackend:
    """Checks and applies the backend's settings with one `Aws` context."""

    def __init__(self, aws: Aws, bucket: str, alias: str) -> None:
        validate(bucket, alias)
        self.aws, self.bucket, self.alias = aws, bucket, alias

    # ---- KMS key -------------------------------------------------------------------------------------------
    def _find_key(self) -> dict[str, Any] | None:
        try:
            return dict(self.aws.kms.describe_key(KeyId=self.alias)["KeyMetadata"])
        except ClientError as exc:
            if error_code(exc) == "NotFoundException":
                return None
            raise

    def _create_key(self) -> str:
        key = self.aws.kms.create_key(
            Description=f"Pulumi state and secrets for s3://{self.bucket}", KeyUsage="ENCRYPT_DECRYPT",
            KeySpec="SYMMETRIC_DEFAULT", Tags=[{"TagKey": "managed-by", "TagValue": "mlops-infra"}])["KeyMetadata"]
        self.aws.kms.create_alias(AliasName=self.alias, TargetKeyId=key["KeyId"])
        self.aws.kms.enable_key_rotation(KeyId=key["KeyId"])
        return key["Arn"]

    def _key_settings(self, meta: dict[str, Any]) -> list[_Setting]:
        key_id = str(meta["KeyId"])
        rotation = bool(self.aws.kms.get_key_rotation_status(KeyId=key_id).get("KeyRotationEnabled"))
        state = str(meta.get("KeyState"))
        return [
            _Setting("key state", state == "Enabled", state, None, "Enabled"),
            _Setting("rotation", rotation, "enabled" if rotation else "disabled",
                     lambda: self.aws.kms.enable_key_rotation(KeyId=key_id), "enabled"),
        ]

    # ---- S3 bucket -----------------------------------------------------------------------------------------
    def _bucket_exists(self) -> bool:
        try:
            self.aws.s3.head_bucket(Bucket=self.bucket)
            return True
        except ClientError as exc:
            code = error_code(exc)
            if code in ("404", "NoSuchBucket", "NotFound"):
                return False
            if code in ("403", "AccessDenied"):
                raise AwsOperationError(
                    f"s3 bucket {self.bucket!r} exists but this identity cannot access it (it may belong to another "
                    "account); choose another --bucket or check your permissions") from None
            if code in ("301", "PermanentRedirect"):
                raise BootstrapInputError(f"s3 bucket {self.bucket!r} exists in another region than "
                                          f"{self.aws.region}; pass that region with --region") from None
            raise

    def _create_bucket(self) -> None:
        if self.aws.region == "us-east-1":
            self.aws.s3.create_bucket(Bucket=self.bucket, ObjectOwnership="BucketOwnerEnforced")
        else:
            self.aws.s3.create_bucket(Bucket=self.bucket, ObjectOwnership="BucketOwnerEnforced",
                                      CreateBucketConfiguration={"LocationConstraint": self.aws.region})  # type: ignore[typeddict-item]
        self.aws.s3.get_waiter("bucket_exists").wait(Bucket=self.bucket)
        self.aws.s3.put_bucket_tagging(Bucket=self.bucket, Tagging={"TagSet": [
            {"Key": "managed-by", "Value": "mlops-infra"}, {"Key": "purpose", "Value": "pulumi-state"}]})

    def _check_region(self) -> None:
        location = self.aws.s3.get_bucket_location(Bucket=self.bucket).get("LocationConstraint") or "us-east-1"
        if location == "EU":  # the legacy name of eu-west-1
            location = "eu-west-1"
        if location != self.aws.region:
            raise BootstrapInputError(
                f"s3 bucket {self.bucket!r} is in {location}, not {self.aws.region}; pass --region {location}")

    def _missing(self, call: Callable[[], Any], *codes: str) -> Any:
        """The call's response, or None when AWS answers that the configuration does not exist."""
        try:
            return call()
        except ClientError as exc:
            if error_code(exc) in codes:
                return None
            raise

    def _bucket_settings(self, key_arn: str, key_id: str) -> list[_Setting]:
        s3, b = self.aws.s3, self.bucket
        out: list[_Setting] = []

        status = s3.get_bucket_versioning(Bucket=b).get("Status", "never enabled")
        out.append(_Setting("versioning", status == "Enabled", status, lambda: s3.put_bucket_versioning(
            Bucket=b, VersioningConfiguration={"Status": "Enabled"}), "Enabled"))

        enc = self._missing(lambda: s3.get_bucket_encryption(Bucket=b), "ServerSideEncryptionConfigurationNotFoundError")
        rules = (enc or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
        algo, kms_id = default.get("SSEAlgorithm"), default.get("KMSMasterKeyID", "")
        accepted = {key_arn, key_id, self.alias, key_arn.rsplit(":key/", 1)[0] + f":{self.alias}"}
        bucket_key = bool(rules and rules[0].get("BucketKeyEnabled"))
        enc_ok = algo == "aws:kms" and kms_id in accepted and bucket_key
        shown = self.alias if kms_id in accepted else kms_id
        enc_detail = "none" if not algo else f"{algo}" + (f" ({shown})" if shown else "") + (
            ", bucket key" if bucket_key else ", no bucket key")
        out.append(_Setting("encryption", enc_ok, enc_detail, lambda: s3.put_bucket_encryption(
            Bucket=b, ServerSideEncryptionConfiguration={"Rules": [{
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                "BucketKeyEnabled": True}]}), f"aws:kms ({self.alias}), bucket key"))

        pab = self._missing(lambda: s3.get_public_access_block(Bucket=b), "NoSuchPublicAccessBlockConfiguration")
        flags = dict((pab or {}).get("PublicAccessBlockConfiguration", {}))
        names = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        off = [n for n in names if not flags.get(n)]
        out.append(_Setting("public access block", not off, "all four on" if not off else "off: " + ", ".join(off),
                            lambda: s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={
                                "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                                "RestrictPublicBuckets": True}), "all four on"))

        own = self._missing(lambda: s3.get_bucket_ownership_controls(Bucket=b), "OwnershipControlsNotFoundError")
        own_rules = (own or {}).get("OwnershipControls", {}).get("Rules", [])
        ownership = own_rules[0].get("ObjectOwnership", "none") if own_rules else "none"
        out.append(_Setting("ownership", ownership == "BucketOwnerEnforced", ownership,
                            lambda: s3.put_bucket_ownership_controls(Bucket=b, OwnershipControls={
                                "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}), "BucketOwnerEnforced"))

        pol = self._missing(lambda: s3.get_bucket_policy(Bucket=b), "NoSuchBucketPolicy")
        policy: dict[str, Any] = json.loads(pol["Policy"]) if pol else {"Version": "2012-10-17", "Statement": []}
        tls = has_tls_only(policy)

        def put_tls_policy() -> None:
            statements = policy.get("Statement", [])
            statements = statements if isinstance(statements, list) else [statements]
            merged = {**policy, "Statement": [*(s for s in statements if s.get("Sid") != TLS_SID),
                                              tls_only_statement(b)]}
            s3.put_bucket_policy(Bucket=b, Policy=json.dumps(merged))

        out.append(_Setting("TLS-only policy", tls, "present" if tls else ("no policy" if not pol else "missing"),
                            put_tls_policy, "present"))
        return out

    # ---- the run -------------------------------------------------------------------------------------------
    def _apply(self, subject: str, settings: list[_Setting], *, created: bool, fix: bool, items: list[Item]) -> None:
        for s in settings:
            if s.ok:
                items.append(Item(subject, s.control, "ok", s.detail))
            elif s.fix is not None and (created or fix):
                s.fix()
                items.append(Item(subject, s.control, "created" if created else "fixed",
                                  s.wanted if created else f"{s.detail} -> {s.wanted}"))
            else:
                hint = "" if s.fix is not None else " (cannot be fixed automatically)"
                items.append(Item(subject, s.control, "drift", f"{s.detail}, want {s.wanted}{hint}"))

    def run(self, *, fix: bool = False) -> BootstrapResult:
        with self.aws.errors():
            account = self.aws.account_id()
            items: list[Item] = []
            meta = self._find_key()
            key_created = meta is None
            if meta is None:
                self._create_key()
                meta = self._find_key()
                assert meta is not None
                items.append(Item(f"kms:{self.alias}", "key", "created", str(meta["Arn"])))
            else:
                items.append(Item(f"kms:{self.alias}", "key", "ok", str(meta["Arn"])))
            self._apply(f"kms:{self.alias}", self._key_settings(meta), created=key_created, fix=fix, items=items)

            subject = f"s3:{self.bucket}"
            bucket_created = not self._bucket_exists()
            if bucket_created:
                self._create_bucket()
                items.append(Item(subject, "bucket", "created", self.aws.region))
            else:
                self._check_region()
                items.append(Item(subject, "bucket", "ok", self.aws.region))
            self._apply(subject, self._bucket_settings(str(meta["Arn"]), str(meta["KeyId"])),
                        created=bucket_created, fix=fix, items=items)
            return BootstrapResult(self.bucket, self.aws.region, account, self.alias, str(meta["Arn"]),
                                   profile=self.aws.profile, endpoint_url=self.aws.endpoint_url, items=items)


def bootstrap(aws: Aws, bucket: str, *, alias: str | None = None, fix: bool = False) -> BootstrapResult:
    """Create or verify the state backend; see the module docstring. Raises AwsOperationError/BootstrapInputError."""
    return StateBackend(aws, bucket, alias or default_alias(bucket)).run(fix=fix)
