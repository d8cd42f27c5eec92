"""A SageMaker model registry whose `<prefix>-<model>` group name is longer than 63 characters and would end in
`-` if cut at 63 (issue #31)."""

from mlops_infra.registry.sagemaker_registry import SageMakerRegistry, SageMakerRegistryArgs

PREFIX = "p" * 62  # `<prefix>-<model>`: character 63 is the `-`
SageMakerRegistry("reg", SageMakerRegistryArgs(model_names=["ranker"], name_prefix=PREFIX, tags={"owner": "o"}))
