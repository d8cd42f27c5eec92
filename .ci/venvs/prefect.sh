# Prefect (tests/integration/test_prefect.py) at the version the worker, server and flow-run images run
# (PrefectConfig.version), with the Kubernetes worker package the base job template follows.
read -r prefect_version k8s_version < <(.venv/bin/python -c 'from mlops_infra.pipelines.prefect_config import PREFECT_KUBERNETES_VERSION as K, PrefectConfig as T; print(T.model_fields["version"].default, K)')
[ -x .venv-prefect/bin/python ] || python3 -m venv .venv-prefect
.venv-prefect/bin/python -m pip install --quiet "prefect==$prefect_version" "prefect-kubernetes==$k8s_version"
