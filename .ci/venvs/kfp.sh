# The Kubeflow Pipelines SDK (tests/integration/test_kfp.py) at the release the platform deploys
# (mlops_infra/pipelines/config.py KFP_VERSION, backend and SDK are released together), plus kfp-kubernetes
# (node selectors, tolerations, Secret env on steps).
kfp_version=$(.venv/bin/python -c 'from mlops_infra.pipelines.config import KFP_VERSION as V; print(V)')
[ -x .venv-kfp/bin/python ] || python3 -m venv .venv-kfp
.venv-kfp/bin/python -m pip install --quiet "kfp==$kfp_version" kfp-kubernetes
