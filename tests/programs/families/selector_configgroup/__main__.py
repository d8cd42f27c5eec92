"""Selector family, YAML text through `kubernetes.yaml.ConfigGroup`: a feature server with its Service, a
Prometheus-operator ServiceMonitor, a NetworkPolicy that admits the scraper and the ingress controller, and an
Ingress.

bad: the ServiceMonitor scrapes endpoint port `http-metrics`, a name the Service does not have (its metrics port
is named `metrics`), so Prometheus discovers no target."""

import pulumi
import pulumi_kubernetes as k8s

variant = pulumi.Config("fixture").require("variant")
scrape_port = "metrics" if variant == "good" else "http-metrics"

MANIFESTS = """
apiVersion: v1
kind: Namespace
metadata:
  name: features
  labels:
    pod-security.kubernetes.io/enforce: restricted
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: feature-server
  namespace: features
automountServiceAccountToken: false
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: feature-server
  namespace: features
  labels:
    app.kubernetes.io/name: feature-server
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: feature-server
  template:
    metadata:
      labels:
        app.kubernetes.io/name: feature-server
        app.kubernetes.io/component: online-serving
    spec:
      serviceAccountName: feature-server
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: server
          image: ghcr.io/acme/feature-server:0.40.1
          ports:
            - {name: http, containerPort: 6566}
            - {name: metrics, containerPort: 8081}
          resources:
            requests: {cpu: 500m, memory: 1Gi}
            limits: {memory: 1Gi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            capabilities: {drop: [ALL]}
            seccompProfile: {type: RuntimeDefault}
---
apiVersion: v1
kind: Service
metadata:
  name: feature-server
  namespace: features
  labels:
    app.kubernetes.io/name: feature-server
spec:
  selector:
    app.kubernetes.io/name: feature-server
  ports:
    - {name: http, port: 80, targetPort: http}
    - {name: metrics, port: 8081, targetPort: metrics}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: feature-server-metrics
  namespace: features
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: feature-server
  endpoints:
    - port: SCRAPE_PORT
      path: /metrics
      interval: 30s
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: feature-server-ingress
  namespace: features
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: feature-server
  policyTypes: [Ingress]
  ingress:
    - from:
        - namespaceSelector:
            matchLabels: {kubernetes.io/metadata.name: ingress-nginx}
      ports:
        - {protocol: TCP, port: 6566}
    - from:
        - namespaceSelector:
            matchLabels: {kubernetes.io/metadata.name: monitoring}
      ports:
        - {protocol: TCP, port: metrics}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: feature-server
  namespace: features
spec:
  ingressClassName: nginx
  rules:
    - host: features.example.test
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: feature-server
                port: {name: http}
"""

k8s.yaml.ConfigGroup("feature-server", yaml=[MANIFESTS.replace("SCRAPE_PORT", scrape_port)])
