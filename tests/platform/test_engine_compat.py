"""Programs written against the last release before the engine split (6bdba72), planned with this code.

- The released direct use of `SageMakerRegistry` (the groups alone, args `model_names`/`name_prefix`; now
  `ModelPackageGroups`), moved to the engine `SageMakerRegistry` under the same name, keeps every released URN: the
  engine's groups component aliases the released component beside the engine, its children inherit that alias
  (resolved like the engine, mlops_infra/plan/urns.py). The released class is 6bdba72's own file.
- The released test programs (tests/programs/feature_store, model_registry) need one migration, the one issue 29
  made on purpose (`ClusterRefs.provider`, CHANGELOG.md); with it they plan the same URNs as today's programs:
  callable `read_policy()`, `tracking_uri`/`model_package_group_arns` on either engine.
- The stand-alone programs export the grant policies consumer stacks attach.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import subprocess
import warnings
from pathlib import Path

import pytest
import yaml

from mlops_infra.plan import PlanError, plan_program
from mlops_infra.plan.urns import ROOT_STACK_TYPE, qualified_type, resolve_aliases
from tests.conftest import EXAMPLES, PROGRAMS, ROOT, planned
from tests.nonempty import each

RELEASE = "6bdba72"
RELEASED_GROUPS = "mlops:sagemaker_registry:SageMakerRegistry"


def released(path: str) -> str:
    """`git show 6bdba72:<path>`: the file as released (skipped where the checkout has no history)."""
    shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{RELEASE}:{path}"], capture_output=True, text=True,
                           check=False)
    if shown.returncode != 0:
        pytest.skip(f"no git history with {RELEASE} here: {shown.stderr.strip()}")
    return shown.stdout


def _program(directory: Path, main: str, stacks: dict[str, str]) -> Path:
    directory.mkdir(parents=True)
    (directory / "__main__.py").write_text(main, encoding="utf-8")
    for stack, text in stacks.items():
        (directory / f"Pulumi.{stack}.yaml").write_text(text, encoding="utf-8")
    return directory


# --- item 1: the released direct use of SageMakerRegistry ----------------------------------------------------------

_OLD_USE = """
import pulumi
from released_groups import SageMakerRegistry, SageMakerRegistryArgs  # 6bdba72's class, its own file
{parent}
registry = SageMakerRegistry("models", SageMakerRegistryArgs(
    model_names=["churn", "ranker"], name_prefix="mlops-prod", tags={{"owner": "ml"}}){opts})
pulumi.export("groupArns", registry.group_arns)
"""
_NEW_USE = """
import pulumi
from mlops_infra.registry.config import SageMakerModelRegistryConfig
from mlops_infra.registry.sagemaker_registry import SageMakerRegistry, SageMakerRegistryArgs
{parent}
registry = SageMakerRegistry("models", SageMakerRegistryArgs(
    config=SageMakerModelRegistryConfig(model_names=["churn", "ranker"]), tags={{"owner": "ml"}},
    name_prefix="mlops-prod"){opts})
pulumi.export("groupArns", registry.model_package_group_arns)
"""
_PARENT = ('class Team(pulumi.ComponentResource):\n'
           '    def __init__(self) -> None:\n'
           '        super().__init__("acme:team:Team", "team")\n'
           'team = Team()\n')


def _old_and_new(tmp_path: Path, parented: bool) -> tuple[list, list]:  # type: ignore[type-arg]
    parent, opts = (_PARENT, ", pulumi.ResourceOptions(parent=team)") if parented else ("", "")
    module = released("mlops_infra/registry/sagemaker_registry.py").replace("from ..blocks", "from mlops_infra.blocks")
    assert "class SageMakerRegistry(pulumi.ComponentResource)" in module and "model_names: Sequence[str]" in module
    old = _program(tmp_path / "old" / "models", _OLD_USE.format(parent=parent, opts=opts), {"dev": "config: {}\n"})
    (old / "released_groups.py").write_text(module, encoding="utf-8")
    new = _program(tmp_path / "new" / "models", _NEW_USE.format(parent=parent, opts=opts), {"dev": "config: {}\n"})
    return plan_program(old, "dev").resources, plan_program(new, "dev").resources


@pytest.mark.parametrize("parented", [False, True], ids=["stack", "under-a-component"])
def test_the_released_direct_sagemaker_registry_moved_to_the_engine_loses_no_urn(tmp_path: Path,
                                                                                parented: bool) -> None:
    old, new = _old_and_new(tmp_path, parented)
    before = {r.urn for r in old if qualified_type(r.urn) != ROOT_STACK_TYPE}
    groups = [r for r in old if r.type == "aws:sagemaker/modelPackageGroup:ModelPackageGroup"]
    assert len(groups) == 2 and any(r.type == RELEASED_GROUPS for r in old), "the released plan has its groups"
    resolution = resolve_aliases(new, before)
    assert sorted(before - resolution.answered()) == [], "LOST: neither planned nor aliased"
    assert resolution.problems == []
    # The groups keep their physical names (an update, not a second group under the released name).
    by_urn = {r.urn: r for r in new}
    names = {r.urn: r.inputs["modelPackageGroupName"] for r in groups}
    taken = {old_urn: by_urn[urn].inputs["modelPackageGroupName"] for urn, old_urn in resolution.matched.items()
             if old_urn in names}
    assert taken == names


def test_the_proof_fails_without_the_released_groups_alias(tmp_path: Path) -> None:
    """Without the groups component's alias to the released component, the three URNs per model's state is lost."""
    old, new = _old_and_new(tmp_path, False)
    before = {r.urn for r in old if qualified_type(r.urn) != ROOT_STACK_TYPE}
    [groups] = [r for r in new if r.type == "mlops:registry:ModelPackageGroups"]
    kept = [a for a in groups.options["aliases"] if RELEASED_GROUPS not in str(a) or "models-sagemaker" in str(a)]
    assert len(kept) < len(groups.options["aliases"]), "the alias is there to drop"
    stripped = [dataclasses.replace(r, options={**r.options, "aliases": kept}) if r is groups else r for r in new]
    lost = before - resolve_aliases(stripped, before).answered()
    assert len(lost) == 5, sorted(lost)  # the component, and a group and its policy per model


# --- item 2: the released test programs ----------------------------------------------------------------------------

_MIGRATION = "ClusterRefs(\n    provider=k8s.Provider({!r}, kubeconfig=\"{{}}\"),"
"""The one change CHANGELOG.md asks of these programs: `ClusterRefs` takes the cluster's provider (here the one the
program made for `providers=`: the same name, so the same URN)."""


def _migrate_stack(text: str) -> str:
    """The stack file's part of the migration: a private-only API (the prod profile) names whom it admits
    (`cluster.privateEndpointAccess`, CHANGELOG.md Fixed)."""
    doc = yaml.safe_load(text)
    platform = doc["config"]["mlops:platform"]
    cluster = platform.setdefault("cluster", {})
    if platform.get("environment") == "prod" and not cluster.get("endpointPublicAccess"):
        cluster["privateEndpointAccess"] = {"securityGroupIds": ["sg-0123456789abcdef0"]}
    return str(yaml.safe_dump(doc, sort_keys=False))


@pytest.mark.parametrize(("program", "stack", "provider"), [
    ("feature_store", "dev", "k8s"), ("feature_store", "sagemaker", "k8s"),
    ("model_registry", "dev", "eks"), ("model_registry", "sagemaker", "eks")])
def test_a_released_test_program_plans_the_same_urns_after_the_listed_migration(
        tmp_path: Path, program: str, stack: str, provider: str) -> None:
    main = released(f"tests/programs/{program}/__main__.py")
    stack_file = released(f"tests/programs/{program}/Pulumi.{stack}.yaml")
    verbatim = _program(tmp_path / "verbatim" / program, main, {stack: stack_file})
    # The remaining breaks these programs hit: the provider, and (prod) whom a private-only API admits.
    with pytest.raises(PlanError, match="privateEndpointAccess" if "environment: prod" in stack_file else "provider"):
        plan_program(verbatim, stack)
    assert main.count("ClusterRefs(") == 1
    migrated_main = main.replace("ClusterRefs(", _MIGRATION.format(provider), 1).replace(
        f'provider = k8s.Provider("{provider}", kubeconfig="{{}}")\n', "provider = cluster.provider\n", 1)
    assert migrated_main.count("k8s.Provider(") == 1
    migrated = _program(tmp_path / "migrated" / program, migrated_main, {stack: _migrate_stack(stack_file)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        urns = {r.urn for r in plan_program(migrated, stack).resources}
    today = {r.urn for r in planned(stack, PROGRAMS / program).resources}
    assert urns and urns == today
    if "read_policy()" in main:  # the released method still returns the policy, and says it is an attribute now
        assert [w for w in caught if issubclass(w.category, DeprecationWarning)
                and "the grant policy is an attribute now" in str(w.message)]


def test_the_released_module_constants_are_importable_where_they_were() -> None:
    from mlops_infra.features import feature_store
    from mlops_infra.registry import model_registry

    for module in (feature_store, model_registry):
        tree = ast.parse(released(module.__name__.replace(".", "/") + ".py"))
        constants = {t.id: ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                     for t in node.targets if isinstance(t, ast.Name) and t.id.isupper()}
        assert constants, module.__name__
        for name, value in constants.items():
            assert name in module.__all__ and getattr(module, name) == value, name


# --- item 5: the stand-alone programs export the grant policies ----------------------------------------------------

@pytest.mark.parametrize(("program", "key", "policy_type", "engine"), [
    ("feast_feature_store", "featureStoreReadPolicyArn", "-read-policy", "mlops:features:FeastFeatureStore"),
    ("mlflow_registry", "modelArtifactWritePolicyArn", "-log-models-policy", "mlops:registry:MlflowRegistry")])
def test_a_standalone_program_exports_the_policy_consumer_stacks_attach(program: str, key: str, policy_type: str,
                                                                       engine: str) -> None:
    """The platform's output names (`featureStoreReadPolicyArn`, `modelArtifactWritePolicyArn`) for the grant
    policies a consumer stack attaches to its roles."""
    from tests.platform.test_standalone import standalone

    inv = standalone(EXAMPLES / program)
    policies = {r.name: r for r in inv.of_type("aws:iam/policy:Policy")}
    assert policies
    exported = str(inv.outputs[key])  # the mock engine's ARN: `...:policy/<resource name>-<autoname suffix>`
    assert exported.startswith("arn:aws:iam::")
    named = policies[exported.rsplit("/", 1)[1].rsplit("-", 1)[0]]
    assert named.name.endswith(policy_type) and named.parent == next(r.urn for r in inv if r.type == engine)


# --- item 3: every renamed type token is listed with its migration ---------------------------------------------------

def _token_rows() -> dict[str, str]:
    text = (ROOT / "docs" / "upgrades.md").read_text(encoding="utf-8")
    table = text.split("#### Type tokens", 1)[1]
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| `(mlops:[^`]+)` \| (.+) \|$", table, flags=re.M)}


def test_every_type_alias_the_plans_carry_is_in_the_upgrade_notes() -> None:
    """Each `Alias(type_=<released token>)` on a planned component (the stacks, and the SageMaker engines) is a row
    `released -> now` of docs/upgrades.md, which says how long the aliases stay."""
    records = [r for stack in ("dev", "staging", "prod") for r in planned(stack).resources]
    records += [r for program in ("feature_store", "model_registry")
                for r in planned("sagemaker", PROGRAMS / program).resources]
    renamed = {(a["type"], r.type) for r in records if r.type.startswith("mlops:")
               for a in r.options.get("aliases") or [] if isinstance(a, dict) and a.get("type") not in (None, r.type)}
    assert len(renamed) >= 15, sorted(renamed)
    rows = _token_rows()
    assert len(rows) == 23  # issue 29's 22, and MonitoringCore's from before
    for old, new in each(sorted(renamed)):
        assert old in rows and f"`{new}`" in rows[old], f"{old} -> {new} is not in docs/upgrades.md"
