"""Each friction point a new user hit building a consumer stack (issue 29), run as the user runs it: the CLI in a
subprocess, on the README's consumer programs, asserting the exact message and exit code."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLES, ROOT, planned

PLATFORM = "organization/mlops-platform/dev"
FEATURES = EXAMPLES / "feast_feature_store"


def cli(*args: str, cwd: Path) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-m", "mlops_infra.cli.main", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)
    return done.returncode, done.stdout, done.stderr


def write_refs(path: Path, drop: tuple[str, ...] = ()) -> Path:
    """The dev platform's planned outputs as a --stack-refs file, less `drop` (each must be there to drop)."""
    outputs = dict(planned("dev").outputs)
    for key in drop:
        assert key in outputs, key
        del outputs[key]
    path.write_text(json.dumps({PLATFORM: outputs}), encoding="utf-8")
    return path


def consumer(tmp_path: Path, program: Path = FEATURES, **platform: Any) -> Path:
    """A copy of `program` whose dev stack's `mlops:platform` has `platform`'s keys set (None: removed)."""
    target = tmp_path / program.name
    shutil.copytree(program, target)
    stack_file = target / "Pulumi.dev.yaml"
    stack = yaml.safe_load(stack_file.read_text(encoding="utf-8"))
    section = stack["config"]["mlops:platform"]
    for key, value in platform.items():
        if value is None:
            section.pop(key)
        else:
            section[key] = value
    stack_file.write_text(yaml.safe_dump(stack), encoding="utf-8")
    return target


def plan(program: Path, refs: Path | None, *extra: str) -> tuple[int, str, str]:
    args = ["plan", "--stack", "dev", "--no-render", "--program", str(program)]
    return cli(*args, *(["--stack-refs", str(refs)] if refs else []), *extra, cwd=program)


def test_a_consumer_stack_configures_no_cluster_and_plans(tmp_path: Path) -> None:
    """Friction 1 fixed: the README's stand-alone program, with no `cluster` section, plans on the platform's outputs."""
    stack = yaml.safe_load((FEATURES / "Pulumi.dev.yaml").read_text(encoding="utf-8"))["config"]["mlops:platform"]
    assert "cluster" not in stack and "featureStore" in stack
    code, out, err = plan(FEATURES, write_refs(tmp_path / "refs.json"), "--format", "json")
    assert (code, err) == (0, "")
    assert json.loads(out)["outputs"]["featureStoreYaml"].startswith("project: ")


def test_a_consumer_stack_that_configures_a_cluster_is_told_where_cluster_facts_come_from(tmp_path: Path) -> None:
    program = consumer(tmp_path, cluster={"publicAccessCidrs": ["203.0.113.0/24"]}, budget={})
    code, out, err = plan(program, write_refs(tmp_path / "refs.json"))
    assert (code, out) == (2, "")
    assert err == (
        "mlops-infra: error: mlops:platform: 2 problems\n"
        "  - budget: a consumer stack does not read `budget` (it reads data, environment, featureStore, gpuPools, "
        "modelRegistry, monitoring, name, orchestration, protectStateful, region, securityBaseline, serving, tags): "
        "remove it, or set it in the platform stack\n"
        "  - cluster: a consumer stack makes no cluster: its version, workload identity and controllers come from the "
        "platform stack's outputs (ClusterRefs.from_stack_outputs); remove `cluster`\n")


@pytest.mark.parametrize(("program", "drop"), [
    (FEATURES, "clusterSecurityGroupId"),  # read by ClusterRefs.from_stack_outputs
    (ROOT / "stacks" / "team-workspace", "nodeRoleArn"),  # read by PlatformOutputs.from_stack_reference
], ids=["cluster-refs", "platform-outputs"])
def test_a_missing_output_names_the_output_the_stack_and_what_exports_it(tmp_path: Path, program: Path,
                                                                         drop: str) -> None:
    code, _, err = plan(program, write_refs(tmp_path / "refs.json", (drop,)))
    assert code == 2
    assert err == (
        f"mlops-infra: error: stack reference '{PLATFORM}' has no output '{drop}'; every platform stack of this "
        f"mlops-infra release exports it: run `pulumi up` on '{PLATFORM}' with this release (offline: add '{drop}' "
        "to the --stack-refs file, or plan that stack again)\n")


def test_a_cluster_fact_missing_from_an_older_platform_is_named(tmp_path: Path) -> None:
    """`clusterVersion` decides which resources exist: read now, and a platform stack older than the output is named."""
    code, _, err = plan(FEATURES, write_refs(tmp_path / "refs.json", ("clusterVersion",)))
    assert code == 2
    assert err.startswith(f"mlops-infra: error: stack reference '{PLATFORM}' has no output 'clusterVersion'; ")


def test_a_program_reading_a_missing_output_with_require_output_gets_the_stack_named(tmp_path: Path) -> None:
    """The offline engine's StackReference: a bare `require_output` of a missing output (the SDK's `KeyError`)."""
    program = tmp_path / "raw"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: raw-consumer\nruntime: python\n", encoding="utf-8")
    (program / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-1\n", encoding="utf-8")
    (program / "__main__.py").write_text(
        "import pulumi\nimport pulumi_aws as aws\n\n"
        f"platform = pulumi.StackReference('platform', stack_name='{PLATFORM}')\n"
        "aws.iam.RolePolicyAttachment('read-only', role=platform.require_output('nodeRoleArn'),\n"
        "                             policy_arn='arn:aws:iam::aws:policy/ReadOnlyAccess')\n", encoding="utf-8")
    code, _, err = plan(program, write_refs(tmp_path / "refs.json", ("nodeRoleArn",)))
    assert code == 2
    assert err == (
        f"mlops-infra: error: stack reference '{PLATFORM}' has no output 'nodeRoleArn' (the program requires it with "
        "require_output): export it from that stack (its config decides which outputs it exports), or add "
        "'nodeRoleArn' to the --stack-refs file\n")


def test_no_stack_refs_suggests_the_option_with_an_example(tmp_path: Path) -> None:
    program = consumer(tmp_path)  # outside the repository: the platform project cannot be planned for it
    code, _, err = plan(program, None)
    assert code == 2
    assert err == (
        f"mlops-infra: error: no outputs supplied for stack reference '{PLATFORM}' (supplied: none); pass them with "
        "--stack-refs FILE, e.g. the producing stack's plan, from the directory of project 'mlops-platform' (its "
        "Pulumi.yaml): `mlops-infra plan --program <that directory> --stack dev --format json > refs.json`, then "
        f"`--stack-refs refs.json` (or a YAML/JSON mapping {{\"{PLATFORM}\": {{output: value}}}})\n")


def test_a_missing_stack_refs_file_says_how_to_write_one(tmp_path: Path) -> None:
    code, _, err = plan(FEATURES, tmp_path / "refs.json")
    assert code == 2
    refs = tmp_path / "refs.json"
    assert err == (
        f"mlops-infra: error: --stack-refs {refs}: no such file. Write it from the referenced stack's plan, e.g. "
        f"`mlops-infra plan --program <the platform project's directory> --stack dev --format json > {refs}`, then "
        f"`mlops-infra plan --stack <this stack> --stack-refs {refs}` (or write a YAML/JSON mapping "
        "{\"<org>/<project>/<stack>\": {<output>: <value>}})\n")


@pytest.mark.parametrize("program", [FEATURES, ROOT], ids=["consumer", "platform"])
def test_region_must_equal_aws_region(tmp_path: Path, program: Path) -> None:
    target = tmp_path / "copy"
    if program == ROOT:  # the platform project: its Pulumi.yaml and the stacks/ it runs
        shutil.copytree(ROOT / "stacks", target / "stacks")
        shutil.copy(ROOT / "Pulumi.yaml", target)
    else:
        shutil.copytree(program, target)
    stack_file = target / ("stacks/Pulumi.dev.yaml" if program == ROOT else "Pulumi.dev.yaml")
    stack = yaml.safe_load(stack_file.read_text(encoding="utf-8"))
    assert stack["config"]["aws:region"] == stack["config"]["mlops:platform"]["region"] == "us-east-1"
    stack["config"]["aws:region"] = "eu-west-1"
    stack_file.write_text(yaml.safe_dump(stack), encoding="utf-8")
    code, _, err = plan(target, write_refs(tmp_path / "refs.json"))
    assert code == 2
    assert err == (
        "mlops-infra: error: mlops:platform: 1 problem\n"
        "  - region: 'us-east-1' differs from aws:region 'eu-west-1', where the AWS provider creates every resource: "
        "set both to the same Region (`region: eu-west-1` here, or `pulumi config set aws:region us-east-1`)\n")


def test_region_must_be_one_botocore_knows(tmp_path: Path) -> None:
    import botocore

    program = consumer(tmp_path, region="us-east-7")
    code, _, err = plan(program, write_refs(tmp_path / "refs.json"))
    assert code == 2
    assert err == (
        "mlops-infra: error: mlops:platform: 2 problems\n"
        f"  - region: 'us-east-7' is not an AWS Region botocore {botocore.__version__} knows (e.g. us-east-1, "
        "eu-west-1): fix the spelling, or upgrade boto3/botocore if the Region is new\n"
        "  - region: 'us-east-7' differs from aws:region 'us-east-1', where the AWS provider creates every resource: "
        "set both to the same Region (`region: us-east-1` here, or `pulumi config set aws:region us-east-7`)\n")


@pytest.mark.parametrize(("mode", "associations"), [("irsa", 0), ("podIdentity", 1)])
def test_a_team_workspace_takes_its_identity_mode_from_the_platforms_output(mode: str, associations: int) -> None:
    """`team:workspace.workloadIdentity` is no longer a copy of a cluster fact: unset, the platform's output decides
    whether the workload role is trusted through the OIDC provider or a Pod Identity association."""
    from mlops_infra.plan import plan_program

    stack = yaml.safe_load((ROOT / "stacks/team-workspace/Pulumi.dev.yaml").read_text(encoding="utf-8"))
    assert "workloadIdentity" not in stack["config"]["team:workspace"]
    outputs = {**planned("dev").outputs, "workloadIdentity": mode}
    inv = plan_program(ROOT / "stacks/team-workspace", "dev", stack_refs={PLATFORM: outputs})
    assert len(inv.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")) == associations
    (role,) = [r for r in inv.of_type("aws:iam/role:Role") if "workload" in r.name]
    assert ("AssumeRoleWithWebIdentity" in role.inputs["assumeRolePolicy"]) == (mode == "irsa")


def test_every_output_exported_only_for_some_configs_names_that_config() -> None:
    """The missing-output error names the producing config: every conditional core key carries it, and an
    unconditional one says every platform stack exports it."""
    from mlops_infra.blocks.stack_outputs import MissingStackOutput
    from mlops_infra.outputs import CONTRACT

    conditional = [k for k in CONTRACT.values() if not k.always]
    assert conditional
    assert [k.output for k in conditional if not k.producer] == []
    assert [k.output for k in CONTRACT.values() if k.always and k.producer] == []
    key = CONTRACT["feature_store_read_policy_arn"]
    assert str(MissingStackOutput(key.output, PLATFORM, key.producer)) == (
        f"stack reference '{PLATFORM}' has no output 'featureStoreReadPolicyArn'; a platform stack exports it only "
        f"with `featureStore.enabled: true` in its `mlops:platform`: set that and run `pulumi up` on '{PLATFORM}' "
        "(offline: add 'featureStoreReadPolicyArn' to the --stack-refs file, or plan that stack again)")


def test_what_the_platforms_cluster_runs_comes_from_its_outputs() -> None:
    """An MLflow Ingress needs the ALB controller: the consumer's plan follows the platform's
    `loadBalancerController` output, not a copy in the consumer's config."""
    from mlops_infra.plan import PlanError, plan_program
    from mlops_infra.registry.config import INGRESS_NEEDS

    program = EXAMPLES / "mlflow_registry"
    outputs = planned("dev").outputs
    assert outputs["loadBalancerController"] is False
    with pytest.raises(PlanError) as err:
        plan_program(program, "ingress", stack_refs={PLATFORM: outputs})
    assert INGRESS_NEEDS in str(err.value)
    inv = plan_program(program, "ingress", stack_refs={PLATFORM: {**outputs, "loadBalancerController": True}})
    ingresses = inv.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    assert [i.inputs["spec"]["ingressClassName"] for i in ingresses] == ["alb"]
