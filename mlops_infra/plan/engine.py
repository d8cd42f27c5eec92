"""Run any Pulumi Python program under Pulumi's mock engine and return its inventory.

Nothing here knows about mlops-infra's components: a directory with `__main__.py` and a
`Pulumi.<stack>.yaml` is enough.
"""

from __future__ import annotations

import contextvars
import gc
import logging
import os
import runpy
import sys
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.mocks import set_mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from .frames import innermost_line_under, innermost_user_line
from .inventory import SECRET, UNKNOWN, Inventory
from .mocks import MissingStackReference, PlanMocks
from .monitor import RecordingMonitor
from .names import name_problems
from .policy_docs import policy_problems
from .program import PlanInputError, Program, find_program, read_stack_config
from .render import render_inventory
from .runtime_tuning import lean_runtime
from .strict import helm_ownership_conflicts, strict_problems

DEFAULT_REGION = "us-east-1"
ORGANIZATION = "organization"
"""`pulumi.get_organization()` in a plan: a self-managed backend's organization."""


class PlanError(Exception):
    """The program failed under the mock engine: a short message.

    `kind` is `"input"` when the program rejected its input with a user-facing error (`pulumi.RunError`,
    e.g. invalid config), `"missing-ref"` when a StackReference had no supplied outputs, else `"program"`.
    """

    def __init__(self, message: str, kind: str = "program", missing_ref: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.missing_ref = missing_ref


def _classify(exc: BaseException, base: Path | None = None, program: Path | None = None) -> PlanError:
    seen: BaseException | None = exc
    visited: set[int] = set()  # exception chains can be cyclic (a context that points back): walk each link once
    while seen is not None and id(seen) not in visited:
        visited.add(id(seen))
        if isinstance(seen, MissingStackReference):
            return PlanError(str(seen), "missing-ref", seen.stack_name)
        if isinstance(seen, pulumi.RunError):
            return PlanError(str(seen).strip(), "input")
        seen = seen.__cause__ or seen.__context__
    where = _where(exc, base or Path.cwd(), program)
    return PlanError(f"{type(exc).__name__}: {exc}".strip() + (f" (at {where})" if where else ""), "program")


def _where(exc: BaseException, base: Path, program: Path | None) -> str | None:
    """Where the program failed, shown relative to `base` (the caller's directory) when under it: the innermost
    traceback line that is the user's (`plan.frames`: the line that raised, or, when the stdlib, a third-party package
    or an installed mlops-infra raised, the user's line that called into it), then the program's own line that led
    there when that is another one (a checked-out component raised: `at <component line>, called from <program
    line>`)."""
    inner = innermost_user_line(exc.__traceback__)
    own = innermost_line_under(exc.__traceback__, program) if program is not None else None
    if inner is None:
        return f"{_shown(own[0], base)}:{own[1]}" if own else None
    shown = f"{_shown(inner[0], base)}:{inner[1]}"
    if own is not None and own != inner:
        shown += f", called from {_shown(own[0], base)}:{own[1]}"
    return shown


def _missing_output(exc: BaseException, read_refs: Mapping[str, Mapping[str, Any]]) -> PlanError | None:
    """`StackReference.require_output` of an output the referenced stack lacks raises a bare `KeyError: 'name'`
    (pulumi/stack_reference.py): name the output and the stack(s) that lack it, and say where outputs come from."""
    seen: BaseException | None = exc
    visited: set[int] = set()
    found: KeyError | None = None
    while seen is not None and id(seen) not in visited and found is None:
        visited.add(id(seen))
        if isinstance(seen, KeyError) and seen.args and _raised_in_stack_reference(seen):
            found = seen
        seen = seen.__cause__ or seen.__context__
    if found is None:
        return None
    output = str(found.args[0])
    lacking = [name for name, outputs in read_refs.items() if output not in outputs] or sorted(read_refs)
    stacks = " or ".join(repr(n) for n in lacking) or "(none read)"
    return PlanError(f"stack reference {stacks} has no output {output!r} (the program requires it with "
                     f"require_output): export it from that stack (its config decides which outputs it exports), or "
                     f"add {output!r} to the --stack-refs file", "input")


def _raised_in_stack_reference(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).as_posix().endswith("pulumi/stack_reference.py"):
            return True
        tb = tb.tb_next
    return False



def _shown(path: str, base: Path) -> str:
    try:
        return Path(path).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.levelname.lower()}: {record.getMessage()}")


def _plain_output(value: Any) -> Any:
    """Resolve a stack output to plain JSON, masking secrets at any depth."""
    out = pulumi.Output.from_input(value)
    if _sync_await(out.is_secret()):
        return SECRET
    if not _sync_await(out.is_known()):
        return UNKNOWN
    resolved = _sync_await(out.future())
    if isinstance(resolved, Mapping):
        return {str(k): _plain_output(v) for k, v in resolved.items()}
    if isinstance(resolved, (list, tuple)):
        return [_plain_output(v) for v in resolved]
    if isinstance(resolved, pulumi.Resource):
        return _sync_await(resolved.urn.future())
    return resolved


def plan_program(
    directory: Path | str,
    stack: str,
    *,
    stack_refs: Mapping[str, Mapping[str, Any]] | None = None,
    resolve_ref: Callable[[str], Mapping[str, Any] | None] | None = None,
    render: bool = False,
) -> Inventory:
    """Plan `directory` for `stack`. Raises `PlanInputError` for bad input, `PlanError` if the program fails.

    StackReference outputs come from `stack_refs` (stack name -> outputs); a reference missing there is asked
    of `resolve_ref` (e.g. "plan that stack too"), and the program is planned again with its outputs.
    `render`: also render every Helm release and kustomize Directory at its pin (`plan.render`) and add what the
    cluster receives to the inventory (the CLI's plan and check do; the library API leaves it to the caller).
    """
    program = find_program(Path(directory))
    config = read_stack_config(program, stack)
    region = config.values.get("aws:region", DEFAULT_REGION)
    refs = dict(stack_refs or {})
    while True:
        ctx = contextvars.copy_context()  # isolate the SDK's context-local globals between plans
        try:
            with lean_runtime():
                inventory = ctx.run(_run, program, stack, config.values, config.secret_keys, region, refs)
            if render:
                report = render_inventory(inventory, base=program.main_dir)  # the program's working directory
                inventory.rendering = [vars(r) for r in report.releases]
                # What Helm's ownership check refuses once the releases' objects are known (exit 2, as the others).
                conflicts = helm_ownership_conflicts(inventory.resources)
                if conflicts:
                    raise PlanError("\n".join(sorted(conflicts)), "input")
            return inventory
        except PlanError as err:
            if err.kind != "missing-ref" or resolve_ref is None or err.missing_ref in refs:
                raise
            _discard_abandoned_run()
            resolved = resolve_ref(err.missing_ref or "")
            if resolved is None:
                raise
            refs[err.missing_ref or ""] = resolved


def _discard_abandoned_run() -> None:
    """The aborted run (stopped at a missing StackReference) leaves output coroutines that will never be awaited;
    the SDK would warn about each when they are collected. They are expected, so say nothing of them."""
    warnings.filterwarnings("ignore", message="coroutine 'Output\\.", category=RuntimeWarning)
    gc.collect()


def _run_main(main: Path) -> None:
    runpy.run_path(str(main), run_name="__main__")


def _run(program: Program, stack: str, values: dict[str, str], secret_keys: frozenset[str], region: str,
         stack_refs: dict[str, Mapping[str, Any]]) -> Inventory:
    pulumi_settings.ROOT.set(None)
    mocks = PlanMocks(program.project, stack, region, stack_refs)
    monitor = RecordingMonitor(mocks)
    logger = logging.getLogger(f"mlops_infra.plan.{program.project}.{stack}")
    logger.propagate = False
    collector = _Collector()
    logger.handlers = [collector]
    # A plan is a preview: `pulumi.runtime.is_dry_run()` is true, as under `pulumi preview` (a template stack's
    # program refuses only a real deployment, mlops_infra.stack.refuse_template_deployment).
    # The organization a self-managed backend (the README's S3 state) reports: `pulumi.get_organization()` is
    # `organization` there, as in the StackReference names the stacks use (`organization/<project>/<stack>`).
    set_mocks(mocks, project=program.project, stack=stack, preview=True, monitor=monitor, logger=logger,
              organization=ORGANIZATION)
    set_all_config(values, sorted(secret_keys))
    pulumi_settings.SETTINGS.rpc_manager.clear()
    pulumi_settings.SETTINGS.outputs.clear()

    main = program.main_dir / "__main__.py"
    sys.path.insert(0, str(program.main_dir))
    # The program runs in its `main` directory, as under `pulumi up` (pkg/engine/project.go getPwdMain: a directory
    # `main` is the working directory; pulumi-language-python runs the program with cmd.Dir = that pwd), so relative
    # paths (FileAsset, a kustomize Directory) mean what they will mean there.
    cwd = os.getcwd()
    os.chdir(program.main_dir)
    try:
        try:
            _sync_await(run_pulumi_func(lambda: _run_main(main)))
        except Exception:
            if not mocks.missing_refs:
                raise
        if mocks.missing_refs:
            raise MissingStackReference(mocks.missing_refs[0], sorted(stack_refs))
        root = pulumi_settings.get_root_resource()
        raw_outputs = dict(getattr(root, "outputs", {}) or {})
        outputs = {k: _plain_output(v) for k, v in raw_outputs.items()}
    except PlanInputError:
        raise
    except Exception as exc:  # the program's own failure, reported as one message
        raise (_missing_output(exc, mocks.read_refs) or _classify(exc, Path(cwd), program.main_dir)) from exc
    finally:
        os.chdir(cwd)
        sys.path.remove(str(program.main_dir))
    # Sorted (by URN first): sibling resources may register in either order, the lines must not.
    problems = [*strict_problems(monitor.registrations), *sorted(name_problems(monitor.records)),
                *sorted(policy_problems(monitor.records))]
    if problems:
        # What `pulumi up` would refuse (the engine, a provider or the cloud API); exit 2 like other invalid input.
        # One line per problem.
        raise PlanError("\n".join(problems), "input")
    inventory = Inventory(program.project, stack, sorted(monitor.records, key=lambda r: r.urn), outputs)
    inventory.diagnostics = collector.messages
    return inventory
