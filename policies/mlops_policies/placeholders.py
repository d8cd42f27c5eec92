"""Placeholders left in a stack: documentation accounts, reserved domains, emails at them, images nobody built.

The shipped stacks are templates: `123456789012` in the admin role ARNs, `ml-platform-oncall@example.com` as the alert
receiver, an ECR image in account `123456789012` for Feast's materialization. `pulumi up` accepts every one of them
and the platform then pages nobody, admits no admin and pulls no image. This rule finds them on every resource input:
- accounts: the documentation accounts (AWS's 123456789012, 111122223333, 444455556666 and friends, 012345678901,
  210987654321) and any twelve repeated digits, as a whole 12-digit token (an ARN, an ECR host, an account field);
- domains reserved for examples and tests (RFC 2606 / RFC 6761): example.com, example.org, example.net and
  anything under them anywhere, and names under the .example, .invalid, .test and .localhost top-level domains where
  a host stands: a host-like input key (`host`, `hosts`, `domain`, `url`, `endpoint`...), after `://` or `@`, or
  before a `:port`. Elsewhere `pipelines.test` or `features.example` is a dotted identifier (a Python module, a
  feature reference), not a host;
- emails at those domains;
- images (a container's or values' `image`) in a placeholder account's ECR, at a reserved domain, or still holding a
  `<...>` template part (images/README.md writes `<account>.dkr.ecr.<region>.amazonaws.com/...`).
CustomResourceDefinitions and ConfigMaps' `_example` keys are not judged: they quote example domains as documentation.
Offline, the plan engine's mocks report the documentation account 123456789012 as the caller's, so every ARN they
hand back names it: `mlops-infra check` passes that account (`engineAccount`) and the stack file's values
(`configValues`), and an ARN or host in the engine's account is a placeholder only where the stack file wrote it.
Under `pulumi preview` the engine reports the real account, and every documentation account is a placeholder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .core import Resource, Stack, stack_policy

PLACEHOLDER_ACCOUNTS = frozenset({
    "123456789012", "012345678901", "210987654321", "111122223333", "444455556666", "555566667777",
    "777788889999", "123412341234", "999988887777",
    *(d * 12 for d in "0123456789"),
})
# Not the last group of a UUID (the nil UUID 00000000-0000-0000-0000-000000000000 is no account).
_ACCOUNT = re.compile(r"(?<![0-9a-fA-F]{4}-)(?<!\d)(\d{12})(?!\d)")
_ACCOUNT_TEMPLATE = r"(?:<[a-z_-]+>|\$\{[A-Za-z_]+\}|[A-Z][A-Z0-9_]*)"
_TEMPLATE_ACCOUNT = re.compile(rf"arn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:({_ACCOUNT_TEMPLATE}):"
                               rf"|(?<![\w.-])({_ACCOUNT_TEMPLATE})\.dkr\.ecr\.")
"""An account left as a template part: `<account-id>`, `${AWS_ACCOUNT_ID}`, `ACCOUNT_ID` in an ARN or an ECR host."""
_DOC_SECRETS = re.compile(r"(?<![A-Za-z0-9])(AKIAIOSFODNN7EXAMPLE|wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY|changeme)"
                          r"(?![A-Za-z0-9])", re.IGNORECASE)
"""AWS's documentation access key pair and the `changeme` default."""
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_EXAMPLE_DOMAIN = re.compile(rf"(?<![a-z0-9.-])((?:{_LABEL}\.)*example\.(?:com|org|net))(?![a-z0-9-])", re.IGNORECASE)
_RESERVED_TLD = re.compile(rf"(?<![a-z0-9.-])((?:{_LABEL}\.)+(?:example|invalid|test|localhost))(?![a-z0-9-]|\.[a-z0-9])",
                           re.IGNORECASE)
"""The reserved name must end the host (a trailing root dot allowed): in `mlflow.test.svc.cluster.local` the label
`test` is a namespace, not a TLD."""
_HOST_BEFORE = ("://", "@")
_PORT_AFTER = re.compile(r":\d")
HOST_KEYS = frozenset({"host", "hosts", "hostname", "domain", "domains", "domainname", "fqdn", "server", "servername",
                       "address", "url", "uri", "endpoint", "origin"})
"""Input keys whose values are hosts (or URLs): a reserved-TLD name there is a domain, wherever it sits."""
_EMAIL = re.compile(rf"[a-z0-9._%+-]+@((?:{_LABEL}\.)+{_LABEL})", re.IGNORECASE)
_TEMPLATE = re.compile(r"<[a-z_-]+>", re.IGNORECASE)
DOCUMENTATION_KEY = "_example"
"""A ConfigMap key Knative and KServe charts fill with commented documentation (inferenceservice-config): skipped."""
SKIPPED_TYPES = frozenset({"kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"})
_QUICK = re.compile(r"\d{12}|example|\.invalid|\.test|\.localhost|<|arn:|dkr\.ecr|changeme", re.IGNORECASE)


def _strings(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(v, (*path, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, str(i)))


def placeholder_domain(text: str, host: bool = False) -> str | None:
    """The first reserved example/test domain named in `text`, else None: example.com/org/net anywhere; a name under
    .example, .invalid, .test or .localhost only where a host stands (`host`: the whole value is one; else after
    `://` or `@`, or before `:port`), so a dotted identifier such as `pipelines.test` is none."""
    m = _EXAMPLE_DOMAIN.search(text)
    if m:
        return m.group(1).lower()
    for m in _RESERVED_TLD.finditer(text):
        if host or text[:m.start()].endswith(_HOST_BEFORE) or _PORT_AFTER.match(text, m.end()):
            return m.group(1).lower()
    return None


def _key(path: tuple[str, ...]) -> str:
    """The input key a value sits under: the last path part that is not a list index (`hosts` for `hosts.0`)."""
    return next((part for part in reversed(path) if not part.isdigit()), "")


def placeholder_account(text: str) -> str | None:
    """The first documentation account (a whole 12-digit token) in `text`, else None."""
    return next((a for a in _ACCOUNT.findall(text) if a in PLACEHOLDER_ACCOUNTS), None)


CONTEXT_CONFIG: dict[str, dict[str, Any]] = {
    "engineAccount": {"type": ["string", "null"], "default": None,
                      "description": "Set by `mlops-infra check`: the account the offline engine's mocks report."},
    "configValues": {"type": "array", "items": {"type": "string"}, "default": [],
                     "description": "Set by `mlops-infra check`: the stack file's string values."},
}


def with_plan_context(policy_config: Mapping[str, Any], engine_account: str | None,
                      stack_values: Mapping[str, Any]) -> dict[str, Any]:
    """The policy config with the offline engine's account (None under the real engine) and the stack file's strings
    filled in; a template stack (`mlops:template: true`) gets the policy advisory."""
    strings: set[str] = set()
    for raw in stack_values.values():
        try:
            value = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            value = raw
        strings.update(text for _, text in _strings(value))
    entry = policy_config.get(POLICY)
    own = {"enforcementLevel": entry} if isinstance(entry, str) else dict(entry) if isinstance(entry, Mapping) else {}
    if is_template(stack_values):  # the stack file says it is a template: report, the program refuses `pulumi up`
        own["enforcementLevel"] = "advisory"
    return {**policy_config, POLICY: {"engineAccount": engine_account, "configValues": sorted(strings), **own}}


TEMPLATE_KEY = "mlops:template"
"""The stack-file marker of a template stack (docs/deploying.md, *Template stacks*)."""


def is_template(stack_values: Mapping[str, Any]) -> bool:
    """Whether the stack file sets `mlops:template: true` (the raw value may be a YAML bool or its string)."""
    raw = stack_values.get(TEMPLATE_KEY)
    return raw is True or (isinstance(raw, str) and raw.strip().lower() == "true")


def config_placeholders(stack_values: Mapping[str, Any]) -> list[str]:
    """The placeholders in the stack file's values, as `key: message` lines (what the template marker stands for)."""
    out: list[str] = []
    for name, raw in sorted(stack_values.items()):
        try:
            value = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            value = raw
        for path, text in _strings(value):
            for message in findings(text, _key(path)):
                out.append(f"{'.'.join((name, *path))}: {message}")
    return out


_TOKEN = re.compile(r"[^\s\"',()\[\]{}]*(?<!\d)\d{12}(?!\d)[^\s\"',()\[\]{}]*")


def _account(text: str, engine: str | None, written: frozenset[str]) -> tuple[str, str] | None:
    """(account, the token holding it) for a placeholder account in `text`; the engine's own account only in a token
    (or a whole value) the stack file wrote."""
    for token in _TOKEN.findall(text):
        for account in _ACCOUNT.findall(token):
            if account in PLACEHOLDER_ACCOUNTS and (account != engine or token in written or text in written):
                return account, token
    return None


def findings(text: str, key: str, engine: str | None = None, written: frozenset[str] = frozenset()) -> list[str]:
    """What in one string value (under input `key`) is a placeholder, as message fragments."""
    if not _QUICK.search(text):
        return []
    found, domain = _account(text, engine, written), placeholder_domain(text, key.lower() in HOST_KEYS or key == "image")
    account, token = found if found else (None, "")
    if key == "image" and (account or domain or _TEMPLATE.search(text)):
        why = (f"account {account}'s registry" if account else f"the reserved domain {domain}" if domain
               else "a template part")
        return [f"image {text!r} names {why}: build and push the image, then name the real one"]
    out: list[str] = []
    email = _EMAIL.search(text)
    if email and placeholder_domain(email.group(1), host=True):
        out.append(f"email {email.group(0)!r} is at a reserved example domain: nobody receives it")
    elif domain:
        out.append(f"domain {domain!r} is reserved for examples (RFC 2606/6761): it never resolves to you")
    if account:
        out.append(f"AWS account {account} is a documentation placeholder, not yours ({token})")
    template = _TEMPLATE_ACCOUNT.search(text)
    if template:
        out.append(f"AWS account {template.group(1) or template.group(2)!r} is a template part, not an account")
    secret = _DOC_SECRETS.search(text)
    if secret:
        out.append(f"{secret.group(1)!r} is a documentation or default credential, not a real one")
    return out


POLICY = "mlops-no-placeholders"


@stack_policy(
    POLICY,
    description="No resource input holds a placeholder left from the shipped stacks: a documentation AWS account "
                "(123456789012, 111122223333, twelve repeated digits...), a reserved example domain (example.com, "
                "*.example, *.invalid, *.test) or an email at one, or an image nobody built.",
    severity="high", pack="mlops-compliance",
    controls=("SOC2 CC8.1",),
    config=CONTEXT_CONFIG,
    remediation="Replace the value in the stack config (README: Deploying for real) with your account's role ARNs, "
                "a mailbox someone reads and the image you pushed, and drop `mlops:template`. A template stack that is "
                "only planned says so in its stack file (`mlops:template: true`): the finding is then advisory and "
                "the program refuses `pulumi up`. No waiver covers this policy.",
)
def no_placeholders(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    engine = config.get("engineAccount")
    written = frozenset(str(v) for v in config.get("configValues") or [])
    for res in stack.resources:
        if res.type in SKIPPED_TYPES:
            continue
        seen: set[str] = set()
        for path, text in _strings(res.props):
            if DOCUMENTATION_KEY in path:
                continue
            for message in findings(text, _key(path), engine, written):
                where = ".".join(path) or "(value)"
                if message not in seen:
                    seen.add(message)
                    yield res, f"{where}: {message}"
