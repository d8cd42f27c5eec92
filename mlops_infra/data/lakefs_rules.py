"""LakeFS's alert rules, from the metrics the server really emits. Pure data: no Pulumi.

Metric names read at treeverse/lakeFS tag v1.84.0 (the image the pinned chart runs), all served on the API port's
`/metrics` (pkg/api/serve.go mounts promhttp.Handler()):
- pkg/api/stats.go: `api_requests_total` (counter; labels code, method), `api_request_duration_seconds` (histogram;
  labels operation, code);
- pkg/kv/metrics.go: `kv_request_failures_total` (counter; labels type, operation): the metadata store (Postgres);
- pkg/block/s3/metrics.go: `s3_operation_duration_seconds` (histogram; labels operation, storage_id, error="true"|
  "false"): calls to the S3 blockstore;
- `up`: written by Prometheus for the scrape target (the ServiceMonitor's job is the Service's name, `lakefs`).
"""

from __future__ import annotations

from ..blocks.observability import RuleGroup

LAKEFS_METRICS = frozenset({
    "api_requests_total", "api_request_duration_seconds_bucket", "api_request_duration_seconds_count",
    "api_request_duration_seconds_sum", "kv_request_failures_total", "s3_operation_duration_seconds_bucket",
    "s3_operation_duration_seconds_count", "s3_operation_duration_seconds_sum", "up",
})
"""What the rules may read: the metrics above with the series a Prometheus histogram exposes."""


def rule_groups(namespace: str) -> list[RuleGroup]:
    sel = f'namespace="{namespace}"'
    labels = {"severity": "critical", "component": "lakefs"}
    warn = {"severity": "warning", "component": "lakefs"}
    return [RuleGroup("lakefs", [
        {"alert": "LakeFsDown", "expr": f'absent(up{{{sel},job="lakefs"}} == 1)', "for": "5m", "labels": labels,
         "annotations": {"summary": "No LakeFS server is up",
                         "description": "Prometheus has scraped no healthy LakeFS target for 5 minutes: versioned "
                                        "data and DVC remotes behind the S3 gateway are unreachable."}},
        {"alert": "LakeFsApiErrors",
         "expr": f'sum(rate(api_requests_total{{{sel},code=~"5.."}}[5m])) '
                 f'/ clamp_min(sum(rate(api_requests_total{{{sel}}}[5m])), 1e-9) > 0.05',
         "for": "10m", "labels": warn,
         "annotations": {"summary": "LakeFS API answers more than 5% with 5xx",
                         "description": "Check the server logs, its database and the blockstore alerts."}},
        {"alert": "LakeFsApiSlow",
         "expr": f'histogram_quantile(0.99, sum by (le) (rate(api_request_duration_seconds_bucket{{{sel}}}[5m]))) > 2',
         "for": "15m", "labels": warn,
         "annotations": {"summary": "LakeFS API p99 latency above 2 s",
                         "description": "Commits, merges and listings are slow: check the database's load."}},
        {"alert": "LakeFsMetadataStoreFailures",
         "expr": f'sum(rate(kv_request_failures_total{{{sel}}}[5m])) > 0', "for": "10m", "labels": labels,
         "annotations": {"summary": "LakeFS fails to read or write its metadata database",
                         "description": "kv store requests fail: check the Postgres instance and the synced "
                                        "connection string (Secret lakefs-secrets)."}},
        {"alert": "LakeFsBlockstoreErrors",
         "expr": f'sum(rate(s3_operation_duration_seconds_count{{{sel},error="true"}}[5m])) > 0', "for": "10m",
         "labels": warn,
         "annotations": {"summary": "LakeFS's calls to its S3 blockstore fail",
                         "description": "Check the server role's grant on the blockstore bucket and its KMS key."}},
    ])]
