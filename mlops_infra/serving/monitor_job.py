"""The drift/fairness monitoring job: a CronJob per served model that computes the metric contract
(serving/rules.py) from real inputs and pushes it to the Pushgateway. Pure (no Pulumi).

Inputs, in the registry's artifact bucket under `<monitoringPrefix>/<model>/` (the model server's read-only role
reads them; an init container copies them with the AWS CLI, whose IRSA credentials the pod's ServiceAccount gets):
- `reference.csv`: the reference set (e.g. the validation split the model was accepted on), one row per example:
  the input features, the model's prediction (column `prediction`) and the protected attributes;
- `predictions/<YYYY-MM-DD>/*.csv` (UTC day the rows were logged): the logged requests, same columns (written by
  a role given `ModelServing.grant_monitoring_write`). Only the last `monitoringWindowDays` days are fetched.

The script (stdlib only, in a plain Python image) computes, per model:
- the drift of every configured feature (`models[].features`; request ids, timestamps are not) and of the
  prediction: the Jensen-Shannon distance (base 2, so
  0 = same distribution, 1 = disjoint) between the reference's and the logged set's histograms (numbers: 10 bins
  over the reference's range, outliers in the end bins; anything else: its values);
- for every protected attribute: the positive-prediction rate per group, then the demographic parity difference
  (max minus min) and the disparate impact ratio (min over max);
and pushes them with the last-run timestamp in one PUT (which replaces the group, so a value that is no longer
computed disappears and `absent()` says so). Missing inputs push nothing and fail the Job: the staleness and
missing-metric alerts tell that apart from a healthy model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SCRIPT = r'''
import csv, glob, math, os, sys, time, urllib.request
from collections import Counter

BINS = 10


def iter_rows(paths):
    """One row at a time: the logged set is streamed, never held (the job's limit is 256Mi)."""
    for path in paths:
        with open(path, newline="") as f:
            yield from csv.DictReader(f)


def _number(value):
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


class Binner:
    """Bins of one column, fixed by the reference: numbers on BINS bins over its range (outliers in the end bins),
    anything else by value."""

    def __init__(self):
        self.numeric, self.lo, self.hi, self.distinct = True, math.inf, -math.inf, set()

    def see(self, value):
        n = _number(value)
        if n is None:
            self.numeric = False
        elif self.numeric:
            self.lo, self.hi = min(self.lo, n), max(self.hi, n)
            if len(self.distinct) < 3:
                self.distinct.add(n)

    def key(self, value):
        if not (self.numeric and len(self.distinct) > 2):
            return str(value)
        n = _number(value)
        if n is None:
            return "nan"
        return str(min(BINS - 1, max(0, int((n - self.lo) / (self.hi - self.lo) * BINS))))


def js_distance(p_counts, q_counts):
    """Jensen-Shannon distance, base 2, of two histograms (counts): 0 (same distribution) to 1 (disjoint)."""
    p_total, q_total = sum(p_counts.values()) or 1, sum(q_counts.values()) or 1
    div = 0.0
    for k in set(p_counts) | set(q_counts):
        a, b = p_counts.get(k, 0) / p_total, q_counts.get(k, 0) / q_total
        m = (a + b) / 2
        div += (a * math.log2(a / m) if a else 0.0) / 2 + (b * math.log2(b / m) if b else 0.0) / 2
    return math.sqrt(max(div, 0.0))


def positive(value):
    n = _number(value)
    return n > 0.5 if n is not None else str(value).strip().lower() in ("true", "yes", "positive")


def compute(reference_paths, current_paths, prediction, protected, features):
    """The contract's values: ({feature: drift}, prediction drift, {attribute: (dpd, dir)}). Two streamed passes over
    the reference (its bins, then its counts), one over the logged set; memory is O(columns x bins + groups)."""
    columns = [*features, prediction]
    binners = {c: Binner() for c in columns}
    for row in iter_rows(reference_paths):
        for c in columns:
            binners[c].see(row[c])
    ref = {c: Counter() for c in columns}
    cur = {c: Counter() for c in columns}
    groups = {attr: {} for attr in protected}
    n_ref = n_cur = 0
    for row in iter_rows(reference_paths):
        n_ref += 1
        for c in columns:
            ref[c][binners[c].key(row[c])] += 1
    for row in iter_rows(current_paths):
        n_cur += 1
        for c in columns:
            cur[c][binners[c].key(row[c])] += 1
        hit = positive(row[prediction])
        for attr in protected:
            counts = groups[attr].setdefault(row[attr], [0, 0])
            counts[0] += hit
            counts[1] += 1
    if not n_ref or not n_cur:
        raise ValueError(f"no input: {n_ref} reference rows, {n_cur} logged rows")
    drift = {c: js_distance(ref[c], cur[c]) for c in features}
    fairness = {}
    for attr in protected:
        rates = [pos / total for pos, total in groups[attr].values()]
        if len(rates) < 2:
            raise ValueError(f"protected attribute {attr}: fewer than two groups in the logged predictions")
        hi, lo = max(rates), min(rates)
        fairness[attr] = (hi - lo, lo / hi if hi else 1.0)
    return drift, js_distance(ref[prediction], cur[prediction]), fairness


def exposition(model, drift, pred_drift, fairness, now):
    def line(metric, value, **labels):
        labels = {"model": model, **labels}
        body = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        return f"{metric}{{{body}}} {float(value)}"
    out = ["# TYPE mlops_model_monitor_last_run_timestamp_seconds gauge",
           line("mlops_model_monitor_last_run_timestamp_seconds", now)]
    out += [line("mlops_feature_drift_score", score, feature=f) for f, score in sorted(drift.items())]
    out.append(line("mlops_prediction_drift_score", pred_drift))
    for attr, (dpd, dir_) in sorted(fairness.items()):
        out.append(line("mlops_fairness_demographic_parity_difference", dpd, protected_attribute=attr))
        out.append(line("mlops_fairness_disparate_impact_ratio", dir_, protected_attribute=attr))
    return "\n".join(out) + "\n"


def main():
    model, gateway = os.environ["MODEL"], os.environ["PUSHGATEWAY_URL"].rstrip("/")
    inputs = os.environ.get("MONITOR_INPUTS", "/inputs")
    protected = [a for a in os.environ.get("PROTECTED_ATTRIBUTES", "").split(",") if a]
    features = [a for a in os.environ.get("FEATURES", "").split(",") if a]
    reference = [p for p in [os.path.join(inputs, "reference.csv")] if os.path.exists(p)]
    current = sorted(glob.glob(os.path.join(inputs, "predictions", "**", "*.csv"), recursive=True))
    try:
        drift, pred_drift, fairness = compute(reference, current, os.environ.get("PREDICTION_COLUMN", "prediction"),
                                              protected, features)
    except (ValueError, KeyError) as exc:
        print(f"{model}: nothing pushed: {exc!r}", file=sys.stderr, flush=True)
        sys.exit(1)
    body = exposition(model, drift, pred_drift, fairness, time.time()).encode()
    url = f"{gateway}/metrics/job/mlops-model-monitor/model/{model}"
    req = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        print("pushed", len(body), "bytes:", resp.status, flush=True)


if __name__ == "__main__":
    main()
'''.strip()

SCRIPT_KEY = "monitor.py"
SCRIPT_DIR = "/opt/monitor"
INPUTS_DIR = "/inputs"
_SECURITY = {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
             "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
_SMALL = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}


FETCH_SCRIPT = (
    'set -euf; args=""; i=0; '
    'while [ "$i" -lt "$WINDOW_DAYS" ]; do '
    'args="$args --include predictions/$(date -u -d "@$(( $(date -u +%s) - i * 86400 ))" +%F)/*"; i=$((i + 1)); done; '
    'exec aws s3 cp --recursive --only-show-errors "$INPUTS" ' + INPUTS_DIR + ' --exclude "*" --include reference.csv $args')
"""The init container copies `reference.csv` and only the last WINDOW_DAYS days of logged predictions
(`predictions/<YYYY-MM-DD>/`, UTC; today included): `--exclude "*"` then one `--include` per day (aws s3 cp: later
filters win). `set -f`: the `*` of each filter reaches the CLI unexpanded."""


def inputs_uri(bucket: str, prefix: str, model: str) -> str:
    return f"s3://{bucket}/{prefix}/{model}/"


def cron_job_spec(model: str, image: str, pushgateway_url: str, config_map: str, *, fetch_image: str,
                  inputs: str, region: str, service_account: str, protected_attributes: list[str],
                  features: Sequence[str] = (), window_days: int = 7,
                  schedule: str = "17 3 * * *") -> dict[str, Any]:
    """The CronJob `spec` (camelCase, as the API takes it). `inputs` is the `s3://` prefix of the model's inputs;
    `service_account` reads it (IRSA)."""
    fetch = {
        "name": "fetch", "image": fetch_image, "command": ["sh", "-c", FETCH_SCRIPT],
        "env": [{"name": "AWS_REGION", "value": region}, {"name": "HOME", "value": "/tmp"},
                {"name": "INPUTS", "value": inputs}, {"name": "WINDOW_DAYS", "value": str(window_days)}],
        "resources": _SMALL, "securityContext": _SECURITY,
        "volumeMounts": [{"name": "inputs", "mountPath": INPUTS_DIR}, {"name": "tmp", "mountPath": "/tmp"}],
    }
    container = {
        "name": "monitor", "image": image, "command": ["python", f"{SCRIPT_DIR}/{SCRIPT_KEY}"],
        "env": [{"name": "MODEL", "value": model}, {"name": "PUSHGATEWAY_URL", "value": pushgateway_url},
                {"name": "MONITOR_INPUTS", "value": INPUTS_DIR},
                {"name": "PROTECTED_ATTRIBUTES", "value": ",".join(protected_attributes)},
                {"name": "FEATURES", "value": ",".join(features)}],
        "resources": _SMALL, "securityContext": _SECURITY,
        "volumeMounts": [{"name": "script", "mountPath": SCRIPT_DIR, "readOnly": True},
                         {"name": "inputs", "mountPath": INPUTS_DIR, "readOnly": True}],
    }
    pod = {
        "restartPolicy": "OnFailure", "serviceAccountName": service_account,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [fetch], "containers": [container],
        "volumes": [{"name": "script", "configMap": {"name": config_map}},
                    {"name": "inputs", "emptyDir": {"sizeLimit": "2Gi"}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
    }
    return {"schedule": schedule, "concurrencyPolicy": "Forbid", "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {"metadata": {"labels": {"mlops.io/model": model}},
                            "spec": {"backoffLimit": 2, "activeDeadlineSeconds": 1800,
                                     "ttlSecondsAfterFinished": 86400,
                                     "template": {"metadata": {"labels": {"mlops.io/model": model,
                                                                         "app.kubernetes.io/name": "model-monitor"}},
                                                  "spec": pod}}}}
