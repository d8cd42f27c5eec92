#!/usr/bin/env bash
# Vendor the add-ons' Helm charts into the chart store ($MLOPS_INFRA_CHART_STORE, default ~/.cache/mlops-infra/charts;
# recorded in mlops_infra/charts/lock.json), each at the version the library pins (security/, serving/, pipelines/,
# data/ config defaults) from its upstream source at the release ref; and the KFP kustomize bases (last line).
# MIRROR holds bare clones named <owner>+<name>/repo (the `fetch` tool's layout; `git clone --bare` works too).
# --chart/--repo are exactly what the library's Release passes (PinnedChart(chart, repo, version)).
# When a pin moves, change its line here and rerun. Each run re-checks Chart.yaml's version at the ref and that every
# dependency Chart.yaml declares is under charts/ (Helm refuses to install a chart missing one, enabled or not).
set -euo pipefail
cd "$(dirname "$0")/.."
M=${MIRROR:?set MIRROR to a folder of bare clones named <owner>+<name>/repo}
V() { python tools/vendor_chart.py "$@"; }

# external-secrets 2.11.0 (security/secrets_delivery.py ESO_CHART/ESO_REPO, security/config.py): NOT VENDORED.
# The external-secrets snapshot ends at cc5bfbc22 'chore: release helm chart for 2.9.0' (Aug 2026): no 2.11.0 tag,
# release commit or gh-pages package. When a snapshot has it, vendor the release commit that stamps 2.11.0:
#   V --chart external-secrets --repo https://charts.external-secrets.io --version 2.11.0 \
#     --source external-secrets/external-secrets --git-dir "$M/external-secrets+external-secrets/repo" \
#     --ref helm-chart-2.11.0 --chart-dir deploy/charts/external-secrets
# plus --subchart for its bitwarden-sdk-server dependency (declared in Chart.yaml, so Helm wants it under charts/).

# cert-manager v1.21.1 (serving/model_serving.py): the tag's Chart.yaml reads version/appVersion v0.0.0. The release
# (make/manifests.mk at v1.21.1) packages a copy of the chart folder whose Chart.yaml yq rewrites: .version and
# .appVersion = VERSION (v1.21.1; the images' default tag is .Chart.AppVersion), plus the Artifact Hub annotations
# signKey and prerelease (metadata no template reads: not added here). The package holds only Chart.yaml,
# values.yaml, values.schema.json, templates/, .helmignore and a README made from README.template.md, so the folder's
# build inputs signkey_annotation.txt and values.linter.exceptions are dropped (.helmignore drops the rest).
V --chart cert-manager --repo https://charts.jetstack.io --version v1.21.1 --source cert-manager/cert-manager \
  --git-dir "$M/cert-manager+cert-manager/repo" --ref v1.21.1 --chart-dir deploy/charts/cert-manager \
  --stamp-version --stamp-app-version v1.21.1 --drop signkey_annotation.txt --drop values.linter.exceptions \
  --note "assembled as make/manifests.mk at v1.21.1 packages it: Chart.yaml version and appVersion v0.0.0 -> v1.21.1 (images default to appVersion); build inputs signkey_annotation.txt and values.linter.exceptions dropped; Artifact Hub annotations signKey/prerelease (not read by templates) not added"

# kserve-crd / kserve-resources v0.20.0 (oci://ghcr.io/kserve/charts, repo ''): .github/workflows/helm-publish.yml at
# v0.20.0 runs `helm package` on each charts/<name>/ of the tag as it is; Chart.yaml there reads v0.20.0.
for c in kserve-crd kserve-resources; do
  V --chart oci://ghcr.io/kserve/charts/$c --repo '' --version v0.20.0 --source kserve/kserve \
    --git-dir "$M/kserve+kserve/repo" --ref v0.20.0 --chart-dir charts/$c
done

# airflow 1.19.0 (pipelines/airflow.py CHART/CHART_REPO): NOT VENDORED. The apache/airflow snapshot (1.27 GB) is over
# the fetch limit (500 MiB), and the code index keeps one version per file at unrelated commits (chart/Chart.yaml
# there reads 1.15.0), so the tree at helm-chart/1.19.0 cannot be assembled file by file either. With a clone, the
# line below vendors it; Chart.yaml declares bitnami postgresql (disabled by pipelines/airflow_values.py, but Helm
# still wants it under charts/): add --subchart postgresql=<bitnami/charts clone>:<tag of the version it pins>:...
if [ -d "$M/apache+airflow/repo" ]; then
  V --chart airflow --repo https://airflow.apache.org --version 1.19.0 --source apache/airflow \
    --git-dir "$M/apache+airflow/repo" --ref helm-chart/1.19.0 --chart-dir chart
fi

# metaflow-service 0.2.2 (pipelines/metaflow_config.py): chart-releaser's tag metaflow-service-0.2.2 = f99cd23 'Cut a
# new metaflow helm chart release' (the gh-pages index lists 0.2.2 as released from it).
V --chart metaflow-service --repo https://outerbounds.github.io/metaflow-tools --version 0.2.2 \
  --source outerbounds/metaflow-tools --git-dir "$M/outerbounds+metaflow-tools/repo" --ref metaflow-service-0.2.2 \
  --chart-dir charts/metaflow/charts/metaflow-service

# prefect-server / prefect-worker 2026.8.18172642 (pipelines/prefect.py, prefect_config.py): the release job
# (.github/workflows/helm-release.yaml) stamps version, appVersion (3.8.3, the newest Prefect 3 tag then) and
# values.yaml prefectTag (3.8.3-python3.11[-kubernetes]) and packages the dependencies, so the tag's Chart.yaml
# (0.0.0, 3-latest) is not what Helm installs. The published packages are on gh-pages at 16b9671 'Release
# 2026.8.18172642' (sha256 equal to their signed .prov); their templates equal the tag's (75b0c27). Taken whole:
# bitnami common 2.41.0 (both), and for the server postgresql 12.12.10 and redis 28.0.5, which the platform's values
# disable (postgresql.enabled false; redis off by default) but Chart.yaml declares, so Helm wants them present.
for c in prefect-server prefect-worker; do
  V --chart $c --repo https://prefecthq.github.io/prefect-helm --version 2026.8.18172642 \
    --source PrefectHQ/prefect-helm --git-dir "$M/PrefectHQ+prefect-helm/repo" \
    --ref 16b9671b8a198478bce04283182a0297003ca2a2 --chart-dir charts/$c-2026.8.18172642.tgz --package \
    --note "the published package (gh-pages 16b9671; release tag 2026.8.18172642 = 75b0c27): the tag's chart plus the release job's stamps (version, appVersion 3.8.3, prefectTag 3.8.3-python3.11) and its dependencies as packaged"
done

# lakefs 1.12.16 (data/config.py): chart-releaser tag lakefs-1.12.16; Chart.yaml there reads 1.12.16.
V --chart lakefs --repo https://charts.lakefs.io --version 1.12.16 --source treeverse/charts \
  --git-dir "$M/treeverse+charts/repo" --ref lakefs-1.12.16 --chart-dir charts/lakefs

# qdrant 1.19.0 (data/qdrant_config.py): chart-releaser tag qdrant-1.19.0; Chart.yaml there reads 1.19.0.
V --chart qdrant --repo https://qdrant.github.io/qdrant-helm --version 1.19.0 --source qdrant/qdrant-helm \
  --git-dir "$M/qdrant+qdrant-helm/repo" --ref qdrant-1.19.0 --chart-dir charts/qdrant

# Kubeflow Pipelines 2.17.0 (pipelines/config.py KFP_VERSION): pipelines/kfp.py applies kustomize Directories over
# pipelines/kfp_manifests/, whose kustomizations name these seven upstream bases by URL at ?ref=2.17.0. Only the files
# they reach are stored, in the upstream layout, under <store>/kustomize/kubeflow-pipelines-2.17.0/. KFP's own argo
# bases name argoproj/argo-workflows manifests at v4.0.5 (third-party/argo/base, installs/namespace,
# installs/namespace/cluster-scoped): those come from that tag into remote/argoproj/argo-workflows/v4.0.5/ and the
# three URLs are rewritten to relative paths (STORE.json lists them). mlops_infra.charts.localize() points the
# library's URLs at the stored tree for an offline `kubectl kustomize`.
python tools/vendor_kustomize.py --name kubeflow-pipelines-2.17.0 --source kubeflow/pipelines \
  --url https://github.com/kubeflow/pipelines --git-dir "$M/kubeflow+pipelines/repo" --ref 2.17.0 \
  --root manifests/kustomize/base/installs/generic/postgres \
  --root manifests/kustomize/base/metadata/overlays/postgres \
  --root manifests/kustomize/third-party/argo/installs/namespace \
  --root manifests/kustomize/third-party/application/cluster-scoped \
  --root manifests/kustomize/third-party/argo/installs/namespace/cluster-scoped \
  --root manifests/kustomize/base/pipeline/cluster-scoped \
  --root manifests/kustomize/base/cache-deployer/cluster-scoped \
  --remote "https://github.com/argoproj/argo-workflows=$M/argoproj+argo-workflows/repo:argoproj/argo-workflows" \
  --note "the bases mlops_infra/pipelines/kfp_manifests/ (and its cluster-scoped/) name, at 2.17.0"
