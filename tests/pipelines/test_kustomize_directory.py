"""Where the engines' kustomize Directories point (review of issue 29, finding 7b): pulumi-kubernetes 4.34.2 runs
kustomize on `directory` as given, in the provider's working directory, which Pulumi makes the program's (`main`);
the string never reaches the state (kfp.kustomize_directory says why). What must hold is that, from each program's
own directory, the planned path names the package's kustomization: for the platform (`main: stacks/`) and for an
engine alone in a folder elsewhere, whose strings differ."""

from __future__ import annotations

from pathlib import Path

from mlops_infra.pipelines import kfp, metaflow
from mlops_infra.plan import Inventory
from mlops_infra.plan.program import find_program
from tests.conftest import ROOT, planned
from tests.pipelines.test_engine_checks import plan_engine

DIRECTORY = "kubernetes:kustomize/v2:Directory"
PACKAGE = {kfp.MANIFESTS, kfp.MANIFESTS / "cluster-scoped", metaflow.ARGO_MANIFESTS}


def named(inv: Inventory, program: Path) -> dict[str, Path]:
    """Each Directory's input, and the folder it names from the program's directory."""
    main = find_program(program).main_dir
    return {d.inputs["directory"]: (main / d.inputs["directory"]).resolve() for d in inv.of_type(DIRECTORY)}


def test_each_program_names_the_packages_kustomizations_from_its_own_directory(tmp_path: Path) -> None:
    assert PACKAGE and all((p / "kustomization.yaml").is_file() for p in PACKAGE)
    platform = named(planned("staging"), ROOT)  # staging runs Kubeflow Pipelines
    alone = named(plan_engine(tmp_path, "kubeflowPipelines"), tmp_path / "kubeflow_pipelines")
    assert len(platform) == 2 and len(alone) == 2
    assert set(platform.values()) == set(alone.values()) <= {p.resolve() for p in PACKAGE}
    assert not set(platform) & set(alone)  # other working directories, other strings: both right
