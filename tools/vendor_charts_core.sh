#!/usr/bin/env bash
# Vendor the core platform's Helm charts (monitoring, GPU software, autoscaling, training operators, load balancer
# controller) into the chart store ($MLOPS_INFRA_CHART_STORE, default ~/.cache/mlops-infra/charts; recorded in mlops_infra/charts/lock.json), each at the version a Release pins
# (mlops_infra/config/versions.py, the concern configs' defaults) from its upstream source at the release ref.
# MIRROR holds bare clones named <owner>+<name>/repo (the `fetch` tool's layout; `git clone --bare` works too).
# Refs are those tools/regenerate_chart_values.sh verified; each tool run re-checks Chart.yaml's version at the ref
# and that every dependency Chart.yaml declares is under charts/ at the version it asks for.
# When a pin moves, change its line here and rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
M=${MIRROR:?set MIRROR to a folder of bare clones named <owner>+<name>/repo}
V() { python tools/vendor_chart.py "$@"; }
PC=https://prometheus-community.github.io/helm-charts

# kube-prometheus-stack 82.1.0: Chart.yaml's dependencies at the tag (no Chart.lock is committed; the release job
# runs `helm dependency build`): crds 0.0.0 is in the tree; kube-state-metrics 7.1.0, prometheus-node-exporter 4.51.1
# and grafana 11.1.7 are exact pins; prometheus-windows-exporter `0.12.*` resolved to 0.12.3, the newest 0.12 tag when
# 82.1.0 was tagged (2026-02-17; 0.12.3 2026-01-31 is an ancestor of the tag, 0.12.4 2026-03-20 is not).
V --chart kube-prometheus-stack --repo $PC --version 82.1.0 --source prometheus-community/helm-charts \
  --git-dir "$M/prometheus-community+helm-charts/repo" --ref kube-prometheus-stack-82.1.0 --chart-dir charts/kube-prometheus-stack \
  --subchart "grafana=$M/grafana-community+helm-charts/repo:grafana-11.1.7:charts/grafana:grafana-community/helm-charts" \
  --subchart "kube-state-metrics=$M/prometheus-community+helm-charts/repo:kube-state-metrics-7.1.0:charts/kube-state-metrics:prometheus-community/helm-charts" \
  --subchart "prometheus-node-exporter=$M/prometheus-community+helm-charts/repo:prometheus-node-exporter-4.51.1:charts/prometheus-node-exporter:prometheus-community/helm-charts" \
  --subchart "prometheus-windows-exporter=$M/prometheus-community+helm-charts/repo:prometheus-windows-exporter-0.12.3:charts/prometheus-windows-exporter:prometheus-community/helm-charts" \
  --note "no Chart.lock at the tag: prometheus-windows-exporter 0.12.* resolved to 0.12.3, the newest 0.12 release tagged before kube-prometheus-stack-82.1.0 (inferred from tag dates, not read from the published package)"

V --chart dcgm-exporter --repo https://nvidia.github.io/dcgm-exporter/helm-charts --version 4.8.0 --source NVIDIA/dcgm-exporter \
  --git-dir "$M/NVIDIA+dcgm-exporter/repo" --ref 4.5.1-4.8.0 --chart-dir deployment \
  --note "tag 4.5.1-4.8.0 = DCGM 4.5.1, exporter and chart 4.8.0 (deployment/Chart.yaml version 4.8.0)"

# nvidia-device-plugin 0.18.2 declares node-feature-discovery 0.17.3 (condition nfd.enabled,gfd.enabled, off by
# default); the tag carries it packaged (charts/node-feature-discovery-chart-0.17.3.tgz), which the tool unpacks.
V --chart nvidia-device-plugin --repo https://nvidia.github.io/k8s-device-plugin --version 0.18.2 --source NVIDIA/k8s-device-plugin \
  --git-dir "$M/NVIDIA+k8s-device-plugin/repo" --ref v0.18.2 --chart-dir deployments/helm/nvidia-device-plugin \
  --note "subchart node-feature-discovery 0.17.3 unpacked from the package the tag carries under charts/"

# gpu-operator v25.10.1: Chart.yaml at the tag reads version v1.0.0-devel and appVersion main-latest; the package
# NVIDIA published (gh-pages stable/gpu-operator-v25.10.1.tgz) differs from the tag's tree only in Chart.yaml, with
# version and appVersion v25.10.1 (the operator and validator image tags default to appVersion). Its
# node-feature-discovery 0.18.2 subchart is in the tree.
V --chart gpu-operator --repo https://helm.ngc.nvidia.com/nvidia --version v25.10.1 --source NVIDIA/gpu-operator \
  --git-dir "$M/NVIDIA+gpu-operator/repo" --ref v25.10.1 --chart-dir deployments/gpu-operator \
  --stamp-version --stamp-app-version v25.10.1 \
  --note "Chart.yaml at the tag reads v1.0.0-devel / appVersion main-latest: NVIDIA's release job stamps both to v25.10.1 (checked against the published gpu-operator-v25.10.1.tgz on the repo's gh-pages branch, identical otherwise)"

# 0.5.30 (image v0.5.20): its nodeAffinity lists p5.4xlarge, p6-b200.48xlarge and g7e.8-48xlarge (0.5.6 lists none of them).
V --chart aws-efa-k8s-device-plugin --repo https://aws.github.io/eks-charts --version 0.5.30 --source aws/eks-charts \
  --git-dir "$M/aws+eks-charts/repo" --ref gh-pages --chart-dir aws-efa-k8s-device-plugin-v0.5.30.tgz --package \
  --note "the package eks-charts published (gh-pages aws-efa-k8s-device-plugin-v0.5.30.tgz, sha256 43b3d666... as index.yaml lists it; chart v0.5.30, appVersion v0.5.20; Helm matches --version 0.5.30 to v0.5.30)"

V --chart oci://public.ecr.aws/karpenter/karpenter --repo '' --version 1.9.0 --source aws/karpenter-provider-aws \
  --git-dir "$M/aws+karpenter-provider-aws/repo" --ref 7a4d49527 --chart-dir charts/karpenter \
  --note "7a4d49527 'chore: Release v1.9.0' stamps Chart.yaml 1.9.0 (tag v1.9.0 still reads 1.8.1; values differ only in image tag/digest)"

# kubeflow-trainer 2.3.0 declares jobset 0.12.0 (jobset.install, true by default) and lws 0.8.0
# (dataCache.enabled, false by default); its publish workflow runs `helm dependency build`, so the package carries
# both as registry.k8s.io publishes them. Their release scripts (jobset hack/helm-chart-package.sh, lws
# hack/push-chart.sh, at the tags) rewrite values.yaml's image repository/tag/pullPolicy and the chart version and
# appVersion before `helm package`; the stamps below repeat exactly those edits.
V --chart oci://ghcr.io/kubeflow/charts/kubeflow-trainer --repo '' --version 2.3.0 --source kubeflow/trainer \
  --git-dir "$M/kubeflow+trainer/repo" --ref v2.3.0 --chart-dir charts/kubeflow-trainer \
  --subchart "jobset=$M/kubernetes-sigs+jobset/repo:v0.12.0:charts/jobset:kubernetes-sigs/jobset" \
  --subchart "lws=$M/kubernetes-sigs+lws/repo:v0.8.0:charts/lws:kubernetes-sigs/lws" \
  --stamp "charts/jobset/values.yaml:image.repository=registry.k8s.io/jobset/jobset" \
  --stamp "charts/jobset/values.yaml:image.tag=v0.12.0" \
  --stamp "charts/jobset/values.yaml:image.pullPolicy=IfNotPresent" \
  --stamp "charts/jobset/Chart.yaml:appVersion=v0.12.0" \
  --stamp "charts/lws/values.yaml:image.manager.repository=registry.k8s.io/lws/lws" \
  --stamp "charts/lws/values.yaml:image.manager.tag=v0.8.0" \
  --stamp "charts/lws/values.yaml:image.manager.pullPolicy=IfNotPresent" \
  --stamp "charts/lws/Chart.yaml:version=0.8.0" \
  --stamp "charts/lws/Chart.yaml:appVersion=v0.8.0" \
  --note "subcharts jobset v0.12.0 and lws v0.8.0 assembled from their tags with the edits their release scripts make before packaging (see stamps); not read from the published OCI packages"

# compute/config.py TrainingOperatorConfig: kind kuberay installs versions.KUBERAY.
V --chart kuberay-operator --repo https://ray-project.github.io/kuberay-helm/ --version 1.5.1 --source ray-project/kuberay \
  --git-dir "$M/ray-project+kuberay/repo" --ref v1.5.1 --chart-dir helm-chart/kuberay-operator

V --chart cluster-autoscaler --repo https://kubernetes.github.io/autoscaler --version 9.59.0 --source kubernetes/autoscaler \
  --git-dir "$M/kubernetes+autoscaler/repo" --ref cluster-autoscaler-chart-9.59.0 --chart-dir cluster-autoscaler/charts/cluster-autoscaler

V --chart aws-load-balancer-controller --repo https://aws.github.io/eks-charts --version 3.5.0 \
  --source kubernetes-sigs/aws-load-balancer-controller \
  --git-dir "$M/kubernetes-sigs+aws-load-balancer-controller/repo" --ref v3.5.0 --chart-dir helm/aws-load-balancer-controller \
  --note "the chart eks-charts publishes (stable/aws-load-balancer-controller @ 5239609, 'v3.5.0 (#1354)') is copied from this tag's helm/"

# prometheus-pushgateway 3.8.0: the MonitoringCore's Pushgateway (observability/config.py default).
V --chart prometheus-pushgateway --repo $PC --version 3.8.0 --source prometheus-community/helm-charts \
  --git-dir "$M/prometheus-community+helm-charts/repo" --ref prometheus-pushgateway-3.8.0 --chart-dir charts/prometheus-pushgateway
