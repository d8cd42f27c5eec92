"""The plan engine's mocks: realistic outputs per type, data-source invokes and supplied StackReferences."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks

from .inventory import SECRET
from .outputs import ID_OUTPUT, invoke_result, mock_id, outputs_for

STACK_REFERENCE = "pulumi:pulumi:StackReference"


class MissingStackReference(Exception):
    """A StackReference was read but no outputs were supplied for it."""

    def __init__(self, stack_name: str, supplied: list[str]) -> None:
        parts = stack_name.split("/")
        stack, project = parts[-1], parts[-2] if len(parts) > 1 else "the producing project"
        super().__init__(f"no outputs supplied for stack reference {stack_name!r} "
                         f"(supplied: {', '.join(supplied) or 'none'}); pass them with --stack-refs FILE, e.g. the "
                         f"producing stack's plan, from the directory of project {project!r} (its Pulumi.yaml): "
                         f"`mlops-infra plan --program <that directory> --stack {stack} --format json > refs.json`, "
                         f"then "
                         f"`--stack-refs refs.json` (or a YAML/JSON mapping {{\"{stack_name}\": {{output: value}}}})")
        self.stack_name = stack_name


class PlanMocks(Mocks):
    """`stack_refs` maps a stack name (`org/project/stack` as the program writes it) to its outputs.

    An output whose value is `"[secret]"` (as a plan inventory prints it) is read back as a secret, and so is
    every name listed under the optional key `secretOutputNames` of a reference's mapping.
    """

    def __init__(self, project: str, stack: str, region: str, stack_refs: Mapping[str, Mapping[str, Any]]) -> None:
        self.project, self.stack, self.region = project, stack, region
        self.stack_refs = stack_refs
        self.missing_refs: list[str] = []
        self.read_refs: dict[str, dict[str, Any]] = {}
        """The outputs of every StackReference the program read, by stack name."""

    def _urn(self, args: MockResourceArgs) -> str:
        return f"urn:pulumi:{self.stack}::{self.project}::{args.typ}::{args.name}"

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ == STACK_REFERENCE:
            return self._stack_reference(args)
        rid = args.resource_id or mock_id(args.typ, self._urn(args))
        if args.typ.startswith("pulumi:providers:"):
            return rid, dict(args.inputs)
        state = outputs_for(args.typ, args.name, dict(args.inputs), rid, self.region)
        id_key = ID_OUTPUT.get(args.typ)
        if not args.resource_id and id_key and isinstance(state.get(id_key), str):
            rid = state[id_key]
        return rid, state

    def _stack_reference(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        name = str(args.inputs.get("name") or args.resource_id or args.name)
        ref = self.stack_refs.get(name)
        if ref is None:  # `<org>/<project>/<stack>` for any org: match a supplied name by project/stack
            tail = name.split("/")[-2:]
            ref = next((v for k, v in self.stack_refs.items() if len(tail) == 2 and k.split("/")[-2:] == tail), None)
        if ref is None:
            # Raising here would surface as unretrieved-future noise; record it and fail after the run.
            self.missing_refs.append(name)
            return name, {"name": name, "outputs": {}, "secretOutputNames": []}
        outputs = dict(ref["outputs"]) if isinstance(ref.get("outputs"), Mapping) else dict(ref)
        self.read_refs[name] = outputs
        secret_names = set(ref.get("secretOutputNames", [])) | {k for k, v in outputs.items() if v == SECRET}
        return name, {"name": name, "outputs": outputs, "secretOutputNames": sorted(secret_names)}

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return invoke_result(args.token, dict(args.args), self.region), []
