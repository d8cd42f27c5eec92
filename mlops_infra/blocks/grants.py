"""Grants like CDK's: `grant_read(role)` attaches the owner's managed `read` policy to the role, once per role.

An owner (a component: a bucket, the feature store, the model registry, or a component that uses another stack's
bucket through `BucketRefs`) keeps one `Grants`. Each grant (`read`, `write`, `log-models`...) is ONE customer
managed policy, `<owner>-<grant>-policy`, holding every statement the grant needs, KMS key included; granting it
to a role attaches that policy (`<owner>-<grant>-<role>`, an `aws.iam.RolePolicyAttachment`). The document never
depends on the principal, so every role granted `read` shares the one policy, and the same policy is what the
platform exports for roles in other stacks (e.g. `featureStoreReadPolicyArn`): in-stack and cross-stack grants
cannot drift apart.

Idempotent per principal: granting the same thing to the same role again returns the first grant instead of
registering a second resource under the same URN (which `pulumi up` rejects). Roles are told apart by their Pulumi
resource name (`Resource.pulumi_resource_name`), never by private attributes; two different Role objects with
one name are an error.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from . import iam
from .naming import child, child_options

StatementsFn = Callable[[], Sequence[iam.Statement | pulumi.Output[iam.Statement]]]

# IAM CreatePolicy: PolicyName is 1-128 characters of [\w+=,.@-], where \w is ASCII only ("upper and lowercase
# alphanumeric characters with no spaces", plus _+=,.@-: the IAM API reference); Python's \w also matches other
# letters, hence re.ASCII. Pulumi autonaming appends `-` and 7 random characters and fails when the result is longer
# than 128; the provider's `name_prefix` appends 26 characters.
POLICY_NAME_MAX = 128
AUTONAME_SUFFIX = 8
NAME_PREFIX_SUFFIX = 26
_POLICY_NAME = re.compile(r"[\w+=,.@-]+", re.ASCII)  # fullmatch: `$` would admit a trailing newline


def policy_name_prefix(resource_name: str) -> str | None:
    """None when Pulumi's autoname of `resource_name` is a valid IAM policy name; otherwise a `name_prefix` for
    the provider: `resource_name` sanitized, cut, and kept unique by a hash of the full name."""
    if _POLICY_NAME.fullmatch(resource_name) and len(resource_name) + AUTONAME_SUFFIX <= POLICY_NAME_MAX:
        return None
    digest = hashlib.sha256(resource_name.encode()).hexdigest()[:8]
    keep = POLICY_NAME_MAX - NAME_PREFIX_SUFFIX - len(digest) - 2
    clean = re.sub(r"[^\w+=,.@-]", "-", resource_name, flags=re.ASCII)[:keep]
    return f"{clean}-{digest}-"


def planned_policy_name(resource_name: str, inputs: Mapping[str, object]) -> str:
    """The longest name IAM will see for a policy planned with these inputs (tests check it is valid)."""
    if inputs.get("name"):
        return str(inputs["name"])
    if inputs.get("namePrefix") or inputs.get("name_prefix"):
        return str(inputs.get("namePrefix") or inputs.get("name_prefix")) + "x" * NAME_PREFIX_SUFFIX
    return resource_name + "-" + "x" * (AUTONAME_SUFFIX - 1)


def valid_policy_name(name: str) -> bool:
    return bool(_POLICY_NAME.fullmatch(name)) and len(name) <= POLICY_NAME_MAX


class CallablePolicy(aws.iam.Policy):
    """A grant's managed policy that can also be called: `store.read_policy()` and `registry.log_models_policy()`
    were methods before issue 29 and are attributes now; calling one still returns the policy (deprecated, for one
    release: see CHANGELOG.md and docs/upgrades.md)."""

    def __call__(self) -> aws.iam.Policy:
        warnings.warn(f"{self.pulumi_resource_name}: the grant policy is an attribute now; drop the call `()` (deprecated, removed "
                      "in the next release)", DeprecationWarning, stacklevel=2)
        return self


@dataclass(frozen=True)
class Grant:
    """What `grant` made: the shared managed policy and this principal's attachment (depend on the attachment
    when something must not start before the role may act)."""

    policy: aws.iam.Policy
    attachment: aws.iam.RolePolicyAttachment


class Grants:
    """The managed policies an owner grants and the roles it granted them to."""

    def __init__(self, owner: pulumi.Resource, owner_name: str, tags: Mapping[str, str] | None = None) -> None:
        self._owner, self._owner_name = owner, owner_name
        self._tags = dict(tags) if tags else None
        self._policies: dict[str, CallablePolicy] = {}
        self._granted: dict[tuple[str, str], tuple[aws.iam.Role, Grant]] = {}

    def policy(self, grant: str, statements: StatementsFn, description: str | None = None) -> CallablePolicy:
        """The managed policy of `grant`, `<owner>-<grant>-policy`, created on first use (IAM replaces a policy
        whose description changes: the first caller's description stays)."""
        if grant not in self._policies:
            resource_name = child(self._owner_name, f"{grant}-policy")
            self._policies[grant] = CallablePolicy(
                resource_name, description=description or f"{self._owner_name}: {grant}",
                policy=iam.document(list(statements())), tags=self._tags, name_prefix=policy_name_prefix(resource_name),
                opts=child_options(self._owner))
        return self._policies[grant]

    def grant(self, principal: aws.iam.Role, grant: str, statements: StatementsFn,
              description: str | None = None) -> Grant:
        """Attach `grant`'s policy to `principal`; the first grant of it to this principal, every time."""
        role_name = principal.pulumi_resource_name
        key = (grant, role_name)
        if key in self._granted:
            granted_role, done = self._granted[key]
            if granted_role is not principal:
                raise ValueError(f"{self._owner_name}: two different roles are named {role_name!r}; "
                                 f"grant {grant} to roles with distinct Pulumi names")
            return done
        policy = self.policy(grant, statements, description)
        attachment = aws.iam.RolePolicyAttachment(
            child(self._owner_name, f"{grant}-{role_name}"), role=principal.name, policy_arn=policy.arn,
            opts=child_options(self._owner))
        done = Grant(policy=policy, attachment=attachment)
        self._granted[key] = (principal, done)
        return done
