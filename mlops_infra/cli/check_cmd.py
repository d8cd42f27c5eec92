"""`mlops-infra check`: plan a program offline, then evaluate the policy packs with the packs' own validate functions.

Exit codes: 0 no mandatory violation; 1 a mandatory violation (or a program failure); 2 bad input or usage.
Environment: the stack's `mlops:platform` environment when present, else `--environment`, else the stack name.
Policy config (levels, per-policy settings, waivers): `--policy-config FILE`, default `policies/config/<stack>.json`
under the program directory; the same file is what `pulumi preview --policy-pack-config` takes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlops_infra

if TYPE_CHECKING:
    from mlops_policies.runner import Report

    from ..plan import Inventory

from .common import dump_json, fail, load_stack_refs, local_ref_resolver, progress, project_root, run_guarded

FORMATS = ("text", "json", "sarif")


def register(sub: Any) -> None:
    p = sub.add_parser("check", help="evaluate the policy packs against an offline plan",
                       description="Plan a Pulumi Python program offline and evaluate the mlops policy packs on it.")
    p.add_argument("--stack", "-s", help="stack name: reads Pulumi.<stack>.yaml (required unless --list-policies)")
    p.add_argument("--program", type=Path, default=None,
                   help="program directory (default: the project found at or above the current directory)")
    p.add_argument("--stack-refs", type=Path, default=None, metavar="FILE",
                   help="JSON/YAML mapping of stack name -> outputs for StackReferences")
    p.add_argument("--environment", default=None,
                   help="environment when the stack has no mlops:platform config (default: the stack name)")
    p.add_argument("--policy-config", type=Path, default=None, metavar="FILE",
                   help="policy pack config JSON (default: <program>/policies/config/<stack>.json if present)")
    p.add_argument("--pack", action="append", default=None, metavar="NAME",
                   help="only this pack (repeatable; default: every pack: mlops-security, mlops-compliance, "
                        "mlops-cost, mlops-invariants)")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    p.add_argument("--no-render", dest="render", action="store_false",
                   help="do not render Helm releases and kustomize bases: only what the program registers is judged, "
                        "and mlops-helm-release-rendered does not apply")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress lines on stderr (they are printed only when stderr is a terminal)")
    p.add_argument("--list-policies", action="store_true",
                   help="list every policy (resource policies and stack invariants) with pack, severity, strictness "
                        "and framework controls; --format json adds kind, description and remediation")


def run(args: argparse.Namespace) -> int:
    from mlops_policies.cost import with_platform_budget
    from mlops_policies.enforcement import PolicyConfigError, resolve_environment
    from mlops_policies.packs import PACKS
    from mlops_policies.placeholders import with_plan_context
    from mlops_policies.runner import evaluate, list_policies, load_policy_config

    if args.list_policies:
        print(list_policies("json" if args.format == "json" else "text"))
        return 0
    if not args.stack:
        return fail("check: --stack is required (or use --list-policies)")
    unknown = [p for p in args.pack or [] if p not in PACKS]
    if unknown:
        return fail(f"check: unknown pack {unknown[0]!r} (known: {', '.join(PACKS)})")

    def body() -> int:
        from ..plan import plan_program
        from ..plan.outputs import ACCOUNT_ID
        from ..plan.program import find_program, read_stack_config

        root = project_root()
        program = (args.program or root).resolve()
        if args.policy_config is not None and not args.policy_config.exists():
            return fail(f"{args.policy_config}: no such policy config file")
        found = find_program(program)
        stack_values = read_stack_config(found, args.stack).values
        environment = resolve_environment(stack_values, args.environment, args.stack)
        config_path = args.policy_config or _policy_config_file(program, args.stack, environment)
        try:
            policy_config = load_policy_config(config_path)
        except PolicyConfigError as exc:
            return fail(str(exc))
        policy_config = with_platform_budget(policy_config, stack_values)  # the stack's `budget` ceilings
        policy_config = with_plan_context(policy_config, ACCOUNT_ID, stack_values)  # the mocks' account (placeholders)
        progress(args, f"planning stack {args.stack}" + (" and rendering its charts" if args.render else "") + " ...")
        inventory = plan_program(program, args.stack, stack_refs=load_stack_refs(args.stack_refs),
                                 resolve_ref=local_ref_resolver(root), render=bool(args.render))
        progress(args, f"evaluating the policies on {len(inventory.resources)} resources ...")
        try:
            report = evaluate(inventory.to_json(), environment=environment, policy_config=policy_config,
                              packs=args.pack)
        except PolicyConfigError as exc:
            return fail(str(exc))
        _warn_unmatched(report, args.stack)
        if args.format == "json":
            dump_json(report.to_json())
        elif args.format == "sarif":
            dump_json(_sarif(report, inventory, found.stack_file(args.stack), program))
        else:
            print(report.text())
        return int(report.exit_code)

    return run_guarded(body)


def _sarif(report: Report, inventory: Inventory, stack_file: Path, program: Path) -> dict[str, Any]:
    """The SARIF log: URIs relative to the repository root (what code scanning resolves), named as `SRCROOT`."""
    from mlops_policies.sarif import to_sarif

    from .sarif_locations import locator, relative_uri, repository_root

    source_root = repository_root(program)
    uri = relative_uri(stack_file, source_root)
    return to_sarif(report, uri, tool_version=mlops_infra.__version__,
                    locate=locator(inventory, stack_file, uri, source_root),
                    source_root=source_root.as_uri().rstrip("/") + "/")


def _warn_unmatched(report: Report, stack: str) -> None:
    """A waiver that matches nothing was keyed to a name this stack does not have (a copy under another name)."""
    for w in report.unmatched_waivers:
        print(f"mlops-infra: warning: the {w.policy} waiver for {w.resource!r} matches no resource of stack {stack}: "
              "key waivers by the name after the stack's prefix (a glob such as '*-lakefs-db') so they follow a "
              "copy of the stack", file=sys.stderr)


def _policy_config_file(program: Path, stack: str, environment: str) -> Path | None:
    """`policies/config/<stack>.json`, else the environment's (`<environment>.json`): a copy of the prod stack under
    another name keeps prod's waivers and levels. Neither: a warning, and the packs' defaults."""
    folder = program / "policies" / "config"
    for candidate in (folder / f"{stack}.json", folder / f"{environment}.json"):
        if candidate.exists():
            if candidate.stem != stack:
                print(f"mlops-infra: note: no policy config for stack {stack}; using the {environment} environment's "
                      f"({candidate.relative_to(program)})", file=sys.stderr)
            return candidate
    print(f"mlops-infra: warning: no policy config for stack {stack} or environment {environment} under "
          f"{folder.relative_to(program) if folder.is_relative_to(program) else folder}: every policy runs at its "
          "default level, with no waivers", file=sys.stderr)
    return None
