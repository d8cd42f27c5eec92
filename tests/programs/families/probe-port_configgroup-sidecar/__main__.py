"""Probe-port family, YAML text through `kubernetes.yaml.ConfigGroup`: a model server with a metrics-exporter
sidecar. The server declares port `http` (8080); the exporter declares port `metrics` (9400) and has a liveness
probe.

bad: the exporter's liveness probe names port `http`, the model server's port. A named probe port is resolved
among the probed container's own ports (kubelet `findPortByName` on that container), not the pod's: the exporter has
no `http`, its probe errors on every period ("port \\"http\\" not found" / strconv.Atoi) and never succeeds."""

import pulumi
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
exporter_probe_port = "metrics" if variant == "good" else "http"

MANIFESTS = """
apiVersion: v1
kind: Namespace
metadata:
  name: serving
  labels:
    pod-security.kubernetes.io/enforce: restricted
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: ranker
  namespace: serving
automountServiceAccountToken: false
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ranker
  namespace: serving
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: ranker
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ranker
    spec:
      serviceAccountName: ranker
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: server
          image: ghcr.io/acme/ranker:3.2.1
          ports:
            - {name: http, containerPort: 8080}
          readinessProbe:
            httpGet: {path: /v2/health/ready, port: http}
          resources:
            requests: {cpu: "1", memory: 2Gi}
            limits: {memory: 2Gi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            capabilities: {drop: [ALL]}
        - name: exporter
          image: ghcr.io/acme/metrics-exporter:0.9.0
          ports:
            - {name: metrics, containerPort: 9400}
          livenessProbe:
            httpGet: {path: /healthz, port: PROBE_PORT}
            periodSeconds: 20
          resources:
            requests: {cpu: 50m, memory: 64Mi}
            limits: {memory: 64Mi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            capabilities: {drop: [ALL]}
"""

k8s.yaml.ConfigGroup("ranker", yaml=[MANIFESTS.replace("PROBE_PORT", exporter_probe_port)])
