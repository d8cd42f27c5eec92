"""DvcRemotes: one DVC remote per team, and the exact `.dvc/config` section each team commits.

`s3` backend: one hardened bucket (KMS, versioned, TLS only, guarded like the other data buckets), a prefix per
team, and two managed policies per team (read; read and write) that the team's workload role attaches. A team's
grant names only its own prefix, so team A's role cannot write (or list) team B's remote.
`lakefs` backend: the remote is a LakeFS repository named after the team, reached through LakeFS's S3 gateway
(`endpointurl`); its storage sits in LakeFS's blockstore and access is LakeFS's (its keys, its policies).

The config section uses the keys dvc-s3 reads (`url`, `region`, `endpointurl`; dvc/config_schema.py `REMOTE_SCHEMAS`
"s3") in DVC's configobj syntax (`['remote "<name>"']`), as `dvc remote add` writes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from ..blocks import iam
from ..blocks.bucket import HardenedBucket, HardenedBucketArgs, VpcEndpointGuard
from ..blocks.kms import KeyLike
from ..blocks.naming import child, child_options
from ..blocks.platform_facts import guarded_bucket_problem
from ..blocks.refs import NetworkRefs, refuse

REMOTE_NAME = "platform"
LAKEFS_BRANCH = "main"
LAKEFS_PATH = "dvc"


def remote_section(remote: Mapping[str, str], name: str = REMOTE_NAME) -> str:
    """The remote's section of `.dvc/config`, as `dvc remote add` writes it: append it to the file, then
    `dvc remote default platform` (a `[core]` section here would clash with the one `dvc init` writes)."""
    lines = [f"['remote \"{name}\"']", *(f"    {k} = {v}" for k, v in remote.items())]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class DvcRemotesArgs:
    teams: Sequence[str]
    region: str
    tags: dict[str, str]
    kms_key: KeyLike
    """Encrypts the remotes' bucket: a `KmsKey`, or a `KeyRef` to an existing key (e.g. the platform's `dataKeyArn`)."""
    backend: Literal["s3", "lakefs"] = "s3"
    lakefs_endpoint: pulumi.Input[str] | None = None
    """LakeFS's in-cluster URL: required with the `lakefs` backend (its S3 gateway)."""
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the bucket. Default: true (stateful; dev passes false)."""
    network: NetworkRefs | None = None
    """The VPC the teams' pods reach the remotes from: a bucket name its guarded S3 gateway endpoint denies
    (`s3_endpoint_bucket_prefixes`, a platform stack's `consumerBucketPrefixes`) is refused. Default: None (no
    guarded endpoint known)."""
    bucket_guard: VpcEndpointGuard | None = None
    noncurrent_version_days: int = 90


@dataclass(frozen=True)
class TeamRemote:
    remote: pulumi.Output[dict[str, str]]
    """`url`, `region` (and `endpointurl` through LakeFS): the remote's keys in `.dvc/config`."""
    config: pulumi.Output[str]
    read_policy_arn: pulumi.Output[str] | None
    write_policy_arn: pulumi.Output[str] | None

    def output(self) -> dict[str, pulumi.Input[object]]:
        out: dict[str, pulumi.Input[object]] = {"remote": self.remote, "dvcConfig": self.config}
        if self.read_policy_arn is not None and self.write_policy_arn is not None:
            out |= {"readPolicyArn": self.read_policy_arn, "writePolicyArn": self.write_policy_arn}
        return out


class DvcRemotes(pulumi.ComponentResource):
    """DVC remotes for teams: an S3 bucket (or a LakeFS repository) per team, with each team's access."""
    bucket: HardenedBucket | None
    teams: dict[str, TeamRemote]

    def __init__(self, name: str, args: DvcRemotesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:data:DvcRemotes", name, None, opts)
        self.bucket, self.teams = None, {}
        if args.backend == "lakefs":
            if args.lakefs_endpoint is None:
                raise ValueError(f"{name}: the lakefs backend needs LakeFS's endpoint")
            for team in args.teams:
                remote = pulumi.Output.from_input(args.lakefs_endpoint).apply(lambda url, t=team: {  # type: ignore[misc]
                    "url": f"s3://{t}/{LAKEFS_BRANCH}/{LAKEFS_PATH}", "region": args.region, "endpointurl": url})
                self.teams[team] = TeamRemote(remote, remote.apply(remote_section), None, None)
        else:
            refuse(name, [guarded_bucket_problem(child(name, "bucket"), args.network)])
            self.bucket = HardenedBucket(child(name, "bucket"), HardenedBucketArgs(
                kms_key=args.kms_key, tags=args.tags, protect=args.protect, vpc_endpoint_guard=args.bucket_guard,
                noncurrent_version_days=args.noncurrent_version_days), pulumi.ResourceOptions(parent=self))
            for team in args.teams:
                self.teams[team] = self._team(name, team, args, self.bucket)
        self.register_outputs({"teams": {t: r.output() for t, r in self.teams.items()}})

    def _team(self, name: str, team: str, args: DvcRemotesArgs, bucket: HardenedBucket) -> TeamRemote:
        """The team's prefix as its remote, and the managed read and write policies on exactly that prefix."""
        # missing_key_404: dvc asks s3fs whether cache objects exist (push, status -c); s3fs `_exists` takes only
        # FileNotFoundError (a 404) as missing, and without ListBucket on the bucket S3 answers 403, which raises.
        read = aws.iam.Policy(
            child(name, f"{team}-read"), description=f"Read the DVC remote of team {team}",
            policy=iam.document(bucket.read_statements(team, missing_key_404=True)), tags=args.tags,
            opts=child_options(self))
        write = aws.iam.Policy(
            child(name, f"{team}-write"), description=f"Read and write the DVC remote of team {team}",
            policy=iam.document(bucket.write_statements(team, missing_key_404=True)), tags=args.tags,
            opts=child_options(self))
        remote = bucket.bucket_name.apply(lambda b: {"url": f"s3://{b}/{team}", "region": args.region})
        return TeamRemote(remote, remote.apply(remote_section), read.arn, write.arn)
