# Feast (tests/integration/test_feast.py), at the feature-server image's version, with the extras the
# platform's stores use and s3fs at the installed fsspec's version (as images/feast/Dockerfile adds it).
feast_version=$(.venv/bin/python -c 'from mlops_infra.features.config import FeatureServerConfig as T; print(T.model_fields["image"].default.rsplit(":", 1)[1])')
[ -x .venv-feast/bin/python ] || python3 -m venv .venv-feast
.venv-feast/bin/python -m pip install --quiet "feast[aws,redis,postgres]==$feast_version" boto3
.venv-feast/bin/python -m pip install --quiet "s3fs==$(.venv-feast/bin/python -c 'import fsspec; print(fsspec.__version__)')"
