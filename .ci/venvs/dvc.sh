# DVC with its S3 plugin (tests/integration/test_dvc.py) and the lakeFS Python SDK at the lakeFS server's version
# (tests/integration/test_lakefs_sdk.py): the pins live in mlops_infra/data/config.py (DVC_VERSION, DVC_S3_VERSION,
# and LakeFsConfig.imageTag, which the SDK's version follows: lakefs-sdk is generated from the server's API spec).
pins=$(.venv/bin/python -c 'from mlops_infra.data.config import DVC_VERSION as d, DVC_S3_VERSION as s, LAKEFS_IMAGE_TAG as l; print(d, s, l)')
read -r dvc_version dvc_s3_version lakefs_version <<<"$pins"
[ -x .venv-dvc/bin/python ] || python3 -m venv .venv-dvc
.venv-dvc/bin/python -m pip install --quiet "dvc==$dvc_version" "dvc-s3==$dvc_s3_version" "lakefs-sdk==$lakefs_version"
