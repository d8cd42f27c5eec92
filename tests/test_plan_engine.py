"""The plan engine on small programs: chained outputs, options, dependencies, secrets, StackReferences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_infra.plan import SECRET, PlanError, PlanInputError, plan_program
from tests.conftest import PROGRAMS
from tests.nonempty import each

CHAINED = PROGRAMS / "chained"
PLATFORM_REF = "acme/mlops-platform/dev"
REFS = {PLATFORM_REF: {"clusterName": "mlops-dev", "kubeconfig": SECRET}}


@pytest.fixture(scope="module")
def inv():  # type: ignore[no-untyped-def]
    return plan_program(CHAINED, "test", stack_refs=REFS)


def test_every_resource_is_recorded_with_type_name_and_urn(inv) -> None:  # type: ignore[no-untyped-def]
    assert sorted((r.type, r.name) for r in inv) == [
        ("aws:kms/key:Key", "data-key"),
        ("aws:s3/bucket:Bucket", "data"),
        ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "data-sse"),
        ("aws:ssm/parameter:Parameter", "token"),
        ("pulumi:pulumi:StackReference", "platform"),
    ]
    bucket = inv.named("data")
    assert bucket.urn == "urn:pulumi:test::chained::aws:s3/bucket:Bucket::data"
    assert bucket.parent is None


def test_chained_outputs_resolve_to_realistic_values(inv) -> None:  # type: ignore[no-untyped-def]
    key = inv.named("data-key")
    sse = inv.named("data-sse")
    rule = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert rule["kmsMasterKeyId"].startswith("arn:aws:kms:eu-west-1:123456789012:key/")
    assert rule["kmsMasterKeyId"].endswith(key.id)
    assert sse.inputs["bucket"] == inv.named("data").id  # a bucket's id is its name
    assert inv.outputs["bucketArn"] == f"arn:aws:s3:::{inv.named('data').id}"
    assert inv.outputs["summary"] == f"{inv.named('data').id} encrypted by {key.id}"


def test_inputs_are_camel_case_as_the_engine_sees_them(inv) -> None:  # type: ignore[no-untyped-def]
    assert inv.named("data").inputs == {"bucketPrefix": "demo-data-"}
    assert inv.named("data-key").inputs == {"enableKeyRotation": True, "description": "demo key"}


def test_options_and_property_dependencies(inv) -> None:  # type: ignore[no-untyped-def]
    sse = inv.named("data-sse")
    assert sse.options["protect"] is True and sse.options["retainOnDelete"] is True
    assert inv.named("data").options["protect"] is False
    assert sse.property_dependencies == {
        "bucket": [inv.named("data").urn],
        "rules": [inv.named("data-key").urn],
    }


def test_secret_config_stays_secret(inv) -> None:  # type: ignore[no-untyped-def]
    assert inv.named("token").inputs["value"] == SECRET
    assert inv.outputs["token"] == SECRET
    text = inv.dumps()
    assert "plan-secret" not in text and "exampleciphertext" not in text


def test_stack_reference_outputs_are_supplied_and_secrets_kept(inv) -> None:  # type: ignore[no-untyped-def]
    assert inv.outputs["clusterName"] == "mlops-dev"
    assert inv.outputs["kubeconfig"] == SECRET


def test_missing_stack_reference_is_a_clear_error() -> None:
    with pytest.raises(PlanError) as info:
        plan_program(CHAINED, "test")
    assert info.value.kind == "missing-ref"
    assert str(info.value) == (
        "no outputs supplied for stack reference 'acme/mlops-platform/dev' (supplied: none); pass them with "
        "--stack-refs FILE, e.g. the producing stack's plan, from the directory of project 'mlops-platform' (its "
        "Pulumi.yaml): `mlops-infra plan --program <that directory> --stack dev --format json > refs.json`, "
        "then `--stack-refs refs.json` (or a YAML/JSON mapping {\"acme/mlops-platform/dev\": {output: value}})")


def test_a_stack_reference_under_another_org_matches_by_project_and_stack() -> None:
    """A plan inventory is supplied as `<project>/<stack>` and `organization/...`; the program names org `acme`."""
    refs = {"organization/mlops-platform/dev": {"clusterName": "by-project-stack", "kubeconfig": "k"}}
    inv = plan_program(CHAINED, "test", stack_refs=refs)
    assert inv.outputs["clusterName"] == "by-project-stack"
    other = {"acme/other-project/dev": {"clusterName": "x", "kubeconfig": "k"}}
    with pytest.raises(PlanError) as info:
        plan_program(CHAINED, "test", stack_refs=other)
    assert info.value.kind == "missing-ref"


def test_stack_reference_resolved_by_planning_another_stack() -> None:
    asked: list[str] = []

    def resolve(name: str) -> dict[str, str]:
        asked.append(name)
        return {"clusterName": "from-resolver", "kubeconfig": "k"}

    inv = plan_program(CHAINED, "test", resolve_ref=resolve)
    assert asked == [PLATFORM_REF]
    assert inv.outputs["clusterName"] == "from-resolver"


def test_json_schema_top_level(inv) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(inv.dumps())
    assert set(data) >= {"schemaVersion", "project", "stack", "resources", "outputs"}
    for record in each(data["resources"]):
        assert set(record) >= {"urn", "type", "name", "parent", "inputs", "options"}
        if record["custom"] and not record["options"].get("read"):
            assert set(record["options"]) >= {"protect", "retainOnDelete", "dependsOn", "provider",
                                              "ignoreChanges", "aliases"}


def test_plans_are_deterministic() -> None:
    first = plan_program(CHAINED, "test", stack_refs=REFS).dumps()
    assert plan_program(CHAINED, "test", stack_refs=REFS).dumps() == first


def test_missing_stack_file() -> None:
    with pytest.raises(PlanInputError, match=r"Pulumi\.nope\.yaml: no such stack config file \(stack 'nope'\)"):
        plan_program(CHAINED, "nope")


def test_invalid_yaml_is_reported_with_its_line() -> None:
    with pytest.raises(PlanInputError) as info:
        plan_program(PROGRAMS / "bad_yaml", "bad")
    assert str(info.value).endswith("bad_yaml/Pulumi.bad.yaml: invalid YAML (line 4): expected ',' or ']', "
                                    "but got '<stream end>'")


def test_program_failure_is_one_message() -> None:
    with pytest.raises(PlanError) as info:
        plan_program(PROGRAMS / "failing", "test")
    assert info.value.kind == "input"
    assert str(info.value) == "demo:size must be positive (got -1)"


# --- As strict as the real engine --------------------------------------------------------------------------------

STRICT = PROGRAMS / "strict"


def test_a_program_the_engine_accepts_plans() -> None:
    inv = plan_program(STRICT, "ok")
    [cm] = inv.of_type("kubernetes:core/v1:ConfigMap")
    assert cm.options["provider"] == "urn:pulumi:ok::strict::pulumi:providers:kubernetes::cluster"


def test_duplicate_urn_is_one_line_naming_the_urn_and_both_registrations() -> None:
    with pytest.raises(PlanError) as info:
        plan_program(STRICT, "duplicate")
    assert info.value.kind == "input"  # exit 2
    assert str(info.value) == (
        "duplicate resource URN urn:pulumi:duplicate::strict::aws:s3/bucket:Bucket::data: "
        "registration #1 (aws:s3/bucket:Bucket under the stack) and registration #2 (aws:s3/bucket:Bucket under the "
        "stack)")


def test_duplicate_urn_numbering_does_not_depend_on_earlier_plans_in_the_process() -> None:
    plan_program(STRICT, "ok")  # registers the same explicit provider first
    with pytest.raises(PlanError) as info:
        plan_program(STRICT, "duplicate")
    assert "registration #1 (aws:s3/bucket:Bucket under the stack) and registration #2" in str(info.value)


def test_a_duplicate_provider_names_two_distinct_registrations() -> None:
    """Providers are numbered apart from the program's other resources (the SDK registers default providers
    lazily), but the two registrations of one provider URN still get distinct numbers."""
    with pytest.raises(PlanError) as info:
        plan_program(STRICT, "duplicate-provider")
    assert str(info.value) == (
        "duplicate resource URN urn:pulumi:duplicate-provider::strict::pulumi:providers:kubernetes::cluster: "
        "provider registration #1 (pulumi:providers:kubernetes under the stack) and provider registration #2 "
        "(pulumi:providers:kubernetes under the stack)")


def test_kubernetes_resource_in_our_component_without_provider_is_an_error() -> None:
    with pytest.raises(PlanError) as info:
        plan_program(STRICT, "ambient")
    assert info.value.kind == "input"
    assert str(info.value) == (
        "urn:pulumi:ambient::strict::mlops:test:Thing$kubernetes:core/v1:ConfigMap::thing-cm: Kubernetes resource "
        "inside component thing has no explicit provider (it would use the ambient kubeconfig); pass the cluster's "
        "provider in opts.providers")


def test_parent_that_is_not_a_component_is_an_error() -> None:
    with pytest.raises(PlanError, match=r"data-versioning: parent urn:pulumi:custom-parent::strict::"
                                        r"aws:s3/bucket:Bucket::data is a custom resource, not a component$"):
        plan_program(STRICT, "custom-parent")


def test_parent_that_was_never_registered_is_an_error() -> None:
    from mlops_infra.plan.inventory import ResourceRecord
    from mlops_infra.plan.strict import orphaned_parents

    child = ResourceRecord("urn:c", "aws:s3/bucket:Bucket", "c", "urn:missing", True, "id", {}, {})
    assert orphaned_parents([child]) == ["urn:c: parent urn:missing is not a registered resource"]


def test_cli_exits_2_on_a_duplicate_urn(capsys: pytest.CaptureFixture[str]) -> None:
    from mlops_infra.cli.main import main

    assert main(["plan", "--program", str(STRICT), "--stack", "duplicate"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("mlops-infra: error: duplicate resource URN ")


def test_a_cyclic_exception_chain_is_classified_not_looped_forever() -> None:
    """A failing program whose exception context points back to itself used to hang `plan` and `check`."""
    from mlops_infra.plan.engine import _classify

    first, second = ValueError("first"), KeyError("second")
    first.__context__, second.__context__ = second, first
    error = _classify(first)
    assert error.kind == "program" and "first" in str(error)


def test_a_program_exception_names_the_program_line_that_raised(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from mlops_infra.cli.main import main

    program = tmp_path / "prog"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: boom\nruntime: python\n")
    (program / "Pulumi.dev.yaml").write_text("config: {}\n")
    (program / "__main__.py").write_text("import pulumi\n\nraise ValueError('boom')\n")
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "--program", "prog", "--stack", "dev"]) == 1
    assert capsys.readouterr().err.strip() == "mlops-infra: error: ValueError: boom (at prog/__main__.py:3)"
