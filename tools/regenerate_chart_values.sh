#!/usr/bin/env bash
# Rebuild every Helm values-contract fixture (tests/data/chart-values/) from the charts' own sources.
# MIRROR holds bare clones named <owner>+<name>/repo (the `fetch` tool's layout; `git clone --bare` works too).
# When a pin moves (mlops_infra/config/versions.py, config defaults), change its line here and rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
M=${MIRROR:?set MIRROR to a folder of bare clones named <owner>+<name>/repo}
D=tests/data/chart-values
G() { python tools/chart_values_fixture.py "$@"; }
G --chart kube-prometheus-stack --version 82.1.0 --source prometheus-community/helm-charts \
  --git-dir "$M/prometheus-community+helm-charts/repo" --ref kube-prometheus-stack-82.1.0 --chart-dir charts/kube-prometheus-stack \
  --subchart "grafana=$M/grafana-community+helm-charts/repo:grafana-11.1.7:charts/grafana:grafana-community/helm-charts" \
  --subchart "kube-state-metrics=$M/prometheus-community+helm-charts/repo:kube-state-metrics-7.1.0:charts/kube-state-metrics:prometheus-community/helm-charts" \
  --subchart "prometheus-node-exporter=$M/prometheus-community+helm-charts/repo:prometheus-node-exporter-4.51.1:charts/prometheus-node-exporter:prometheus-community/helm-charts" \
  --note "subcharts grafana 11.1.7, kube-state-metrics 7.1.0 and prometheus-node-exporter 4.51.1 (kube-prometheus-stack 82.1.0 Chart.yaml dependencies); the library sets no other subchart's values" \
  --out $D/kube-prometheus-stack-82.1.0.yaml
G --chart prometheus-pushgateway --version 3.8.0 --source prometheus-community/helm-charts \
  --git-dir "$M/prometheus-community+helm-charts/repo" --ref prometheus-pushgateway-3.8.0 --chart-dir charts/prometheus-pushgateway \
  --out $D/prometheus-pushgateway-3.8.0.yaml
G --chart dcgm-exporter --version 4.8.0 --source NVIDIA/dcgm-exporter \
  --git-dir "$M/NVIDIA+dcgm-exporter/repo" --ref 4.5.1-4.8.0 --chart-dir deployment \
  --note "tag 4.5.1-4.8.0 = DCGM 4.5.1, exporter and chart 4.8.0 (deployment/Chart.yaml version 4.8.0)" \
  --out $D/dcgm-exporter-4.8.0.yaml
G --chart nvidia-device-plugin --version 0.18.2 --source NVIDIA/k8s-device-plugin \
  --git-dir "$M/NVIDIA+k8s-device-plugin/repo" --ref v0.18.2 --chart-dir deployments/helm/nvidia-device-plugin \
  --out $D/nvidia-device-plugin-0.18.2.yaml
G --chart gpu-operator --version v25.10.1 --source NVIDIA/gpu-operator \
  --git-dir "$M/NVIDIA+gpu-operator/repo" --ref v25.10.1 --chart-dir deployments/gpu-operator \
  --note "Chart.yaml at the tag reads v1.0.0-devel: NVIDIA's release job stamps the version when it packages the tag" \
  --out $D/gpu-operator-v25.10.1.yaml
G --chart aws-efa-k8s-device-plugin --version 0.5.30 --source aws/eks-charts \
  --git-dir "$M/aws+eks-charts/repo" --ref bfe91c4 --chart-dir stable/aws-efa-k8s-device-plugin \
  --note "eks-charts has no per-chart tags: bfe91c4 is the last commit whose Chart.yaml reads version v0.5.30 (Helm matches --version 0.5.30 to v0.5.30); its chart folder equals the published package's but for Chart.yaml key order" \
  --out $D/aws-efa-k8s-device-plugin-0.5.30.yaml
G --chart karpenter --version 1.9.0 --source aws/karpenter-provider-aws \
  --git-dir "$M/aws+karpenter-provider-aws/repo" --ref 7a4d49527 --chart-dir charts/karpenter \
  --note "7a4d49527 'chore: Release v1.9.0' stamps Chart.yaml 1.9.0 (tag v1.9.0 still reads 1.8.1; values differ only in image tag/digest)" \
  --out $D/karpenter-1.9.0.yaml
G --chart kubeflow-trainer --version 2.3.0 --source kubeflow/trainer \
  --git-dir "$M/kubeflow+trainer/repo" --ref v2.3.0 --chart-dir charts/kubeflow-trainer \
  --out $D/kubeflow-trainer-2.3.0.yaml
G --chart kuberay-operator --version 1.5.1 --source ray-project/kuberay \
  --git-dir "$M/ray-project+kuberay/repo" --ref v1.5.1 --chart-dir helm-chart/kuberay-operator \
  --out $D/kuberay-operator-1.5.1.yaml
G --chart external-secrets --version 2.11.0 --source external-secrets/external-secrets \
  --git-dir "$M/external-secrets+external-secrets/repo" --ref cc5bfbc22 --chart-dir deploy/charts/external-secrets \
  --note "STAND-IN: 2.11.0 is not in the stored snapshot (newest there: cc5bfbc22 'release helm chart for 2.9.0', Aug 2026); built from 2.9.0, regenerate from the 2.11.0 release commit" \
  --out $D/external-secrets-2.11.0.yaml
G --chart cluster-autoscaler --version 9.59.0 --source kubernetes/autoscaler \
  --git-dir "$M/kubernetes+autoscaler/repo" --ref cluster-autoscaler-chart-9.59.0 --chart-dir cluster-autoscaler/charts/cluster-autoscaler \
  --out $D/cluster-autoscaler-9.59.0.yaml
G --chart aws-load-balancer-controller --version 3.5.0 --source kubernetes-sigs/aws-load-balancer-controller \
  --git-dir "$M/kubernetes-sigs+aws-load-balancer-controller/repo" --ref v3.5.0 --chart-dir helm/aws-load-balancer-controller \
  --note "the chart eks-charts publishes (stable/aws-load-balancer-controller @ 5239609, 'v3.5.0 (#1354)') is copied from this tag's helm/" \
  --out $D/aws-load-balancer-controller-3.5.0.yaml
G --chart lakefs --version 1.12.16 --source treeverse/charts \
  --git-dir "$M/treeverse+charts/repo" --ref lakefs-1.12.16 --chart-dir charts/lakefs \
  --out $D/lakefs-1.12.16.yaml
G --chart cert-manager --version v1.21.1 --source cert-manager/cert-manager \
  --git-dir "$M/cert-manager+cert-manager/repo" --ref v1.21.1 --chart-dir deploy/charts/cert-manager \
  --out $D/cert-manager-v1.21.1.yaml
G --chart kserve-crd --version v0.20.0 --source kserve/kserve \
  --git-dir "$M/kserve+kserve/repo" --ref v0.20.0 --chart-dir charts/kserve-crd \
  --out $D/kserve-crd-v0.20.0.yaml
G --chart kserve-resources --version v0.20.0 --source kserve/kserve \
  --git-dir "$M/kserve+kserve/repo" --ref v0.20.0 --chart-dir charts/kserve-resources \
  --out $D/kserve-resources-v0.20.0.yaml
G --chart qdrant --version 1.19.0 --source qdrant/qdrant-helm \
  --git-dir "$M/qdrant+qdrant-helm/repo" --ref qdrant-1.19.0 --chart-dir charts/qdrant \
  --out $D/qdrant-1.19.0.yaml
G --chart metaflow-service --version 0.2.2 --source outerbounds/metaflow-tools \
  --git-dir "$M/outerbounds+metaflow-tools/repo" --ref f99cd23 --chart-dir charts/metaflow/charts/metaflow-service \
  --note "f99cd23 'Cut a new metaflow helm chart release' stamps 0.2.2 (chart-releaser skip_existing: later commits with the same version were not republished)" \
  --out $D/metaflow-service-0.2.2.yaml
for c in prefect-worker prefect-server; do
  G --chart $c --version 2026.8.18172642 --source PrefectHQ/prefect-helm \
    --git-dir "$M/PrefectHQ+prefect-helm/repo" --ref 2026.8.18172642 --chart-dir charts/$c \
    --note "the release tag is the chart version (Chart.yaml reads 0.0.0; the release job stamps it); the library sets no value of the bitnami common subchart" \
    --out $D/$c-2026.8.18172642.yaml
done
# airflow 1.19.0: the committed fixture is a PARTIAL hand transcription (the apache/airflow snapshot exceeded the
# fetch limit); this line builds the full one from the chart's release tag.
G --chart airflow --version 1.19.0 --source apache/airflow \
  --git-dir "$M/apache+airflow/repo" --ref helm-chart/1.19.0 --chart-dir chart \
  --out $D/airflow-1.19.0.yaml
