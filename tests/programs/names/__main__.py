"""A SageMaker model registry whose `<prefix>-<model>` group name is longer than 63 characters and would end in
`-` if cut at 63 (issue #31)."""

from mlops_infra.registry.model_package_groups import ModelPackageGroups, ModelPackageGroupsArgs

PREFIX = "p" * 62  # `<prefix>-<model>`: character 63 is the `-`
ModelPackageGroups("reg", ModelPackageGroupsArgs(model_names=["ranker"], name_prefix=PREFIX, tags={"owner": "o"}))
