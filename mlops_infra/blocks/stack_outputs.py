"""Read another stack's outputs through a StackReference, failing with an error a user can act on.

`StackReference.require_output` raises `KeyError: 'nodeRoleArn'` for a missing output, naming neither the stack nor
what would export it. These readers raise `MissingStackOutput` (a `pulumi.RunError`: the engine prints its message
without a traceback, the offline plan exits 2) naming the output, the referenced stack and the producing config.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime.sync_await import _sync_await


class MissingStackOutput(pulumi.RunError):
    """The referenced stack does not export an output this program reads."""

    def __init__(self, output: str, stack: str, producer: str = "", override: str = "") -> None:
        if override:  # an optional output, newer than some platform stacks: the caller may say it instead
            why = f"a platform stack older than that output lacks it: pass `{override}`, or run `pulumi up` on " \
                  f"{stack!r} with this release"
        elif producer:
            why = f"a platform stack exports it only with `{producer}` in its `mlops:platform`: set that and run " \
                  f"`pulumi up` on {stack!r}"
        else:
            why = f"every platform stack of this mlops-infra release exports it: run `pulumi up` on {stack!r} with " \
                  "this release"
        super().__init__(f"stack reference {stack!r} has no output {output!r}; {why} (offline: add {output!r} to "
                         "the --stack-refs file, or plan that stack again)")
        self.output, self.stack, self.producer, self.override = output, stack, producer, override


def require_output(ref: pulumi.StackReference, output: str, producer: str = "") -> pulumi.Output[Any]:
    """`ref`'s output `output` (secret when the stack marks it secret); a missing one fails the program with
    `MissingStackOutput`. `producer`: the config that exports it (see `MissingStackOutput`)."""

    def present(args: list[Any]) -> Any:
        stack, value = args
        if value is None:
            raise MissingStackOutput(output, str(stack), producer)
        return value

    return pulumi.Output.all(ref.name, ref.get_output(output)).apply(present)


def output_value(ref: pulumi.StackReference, output: str, producer: str = "", override: str = "") -> Any:
    """The plain value of `ref`'s output `output`, now, for what decides which resources exist (a StackReference's
    outputs are known in a preview too). A missing output raises `MissingStackOutput` at the line that reads it
    (`override`: the argument that would replace it, named in the error)."""
    details = _sync_await(ref.get_output_details(output))
    value = details.value if details.value is not None else details.secret_value
    if value is None:
        raise MissingStackOutput(output, str(_sync_await(ref.name.future())), producer, override)
    return value


def known_value(output: pulumi.Output[Any]) -> Any:
    """The value of an Output known while the program runs (e.g. a StackReference's output, known in a preview
    too), for what decides which resources exist."""
    return _sync_await(output.future())
