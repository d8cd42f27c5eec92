"""The drift/fairness monitoring job: a CronJob per served model that computes the metric contract
(serving/rules.py) from real inputs and pushes it to the Pushgateway. Pure (no Pulumi).

Inputs, in the registry's artifact bucket under `<monitoringPrefix>/<model>/` (the model server's read-only role
reads them; an init container copies them with the AWS CLI, whose IRSA credentials the pod's ServiceAccount gets):
- `reference.csv`: the reference set (e.g. the validation split the model was accepted on), one row per example:
  the input features, the model's prediction (column `prediction`) and the protected attributes;
- `predictions/*.csv`: the logged requests, same columns (the caller, or an inference logger, writes them).

The script (stdlib only, in a plain Python image) computes, per model:
- the drift of every feature the two sets share, and of the prediction: the Jensen-Shannon distance (base 2, so
  0 = same distribution, 1 = disjoint) between the reference's and the logged set's histograms (numbers: 10 bins
  over the reference's range, outliers in the end bins; anything else: its values);
- for every protected attribute: the positive-prediction rate per group, then the demographic parity difference
  (max minus min) and the disparate impact ratio (min over max);
and pushes them with the last-run timestamp in one PUT (which replaces the group, so a value that is no longer
computed disappears and `absent()` says so). Missing inputs push nothing and fail the Job: the staleness and
missing-metric alerts tell that apart from a healthy model.
"""

from __future__ import annotations

from typing import Any

SCRIPT = r'''
import csv, glob, math, os, sys, time, urllib.request
from collections import Counter

BINS = 10


def read_rows(paths):
    rows = []
    for path in paths:
        with open(path, newline="") as f:
            rows.extend(csv.DictReader(f))
    return rows


def _number(value):
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def histogram(values, reference):
    """Shares per bin: numbers on BINS bins over the reference's range, other values as categories."""
    numbers = [_number(v) for v in reference]
    if numbers and all(n is not None for n in numbers) and len(set(numbers)) > 2:
        lo, hi = min(numbers), max(numbers)
        def key(v):
            n = _number(v)
            if n is None:
                return "nan"
            return str(min(BINS - 1, max(0, int((n - lo) / (hi - lo) * BINS))))
    else:
        key = str
    counts = Counter(key(v) for v in values)
    total = sum(counts.values()) or 1
    return {k: c / total for k, c in counts.items()}


def js_distance(reference, current):
    """Jensen-Shannon distance, base 2: 0 (same distribution) to 1 (disjoint)."""
    p, q = histogram(reference, reference), histogram(current, reference)
    div = 0.0
    for k in set(p) | set(q):
        a, b = p.get(k, 0.0), q.get(k, 0.0)
        m = (a + b) / 2
        div += (a * math.log2(a / m) if a else 0.0) / 2 + (b * math.log2(b / m) if b else 0.0) / 2
    return math.sqrt(max(div, 0.0))


def positive(value):
    n = _number(value)
    return n > 0.5 if n is not None else str(value).strip().lower() in ("true", "yes", "positive")


def compute(reference, current, prediction, protected):
    """The contract's values: ({feature: drift}, prediction drift, {attribute: (dpd, dir)})."""
    if not reference or not current:
        raise ValueError(f"no input: {len(reference)} reference rows, {len(current)} logged rows")
    shared = [c for c in reference[0] if c in current[0] and c != prediction and c not in protected]
    drift = {c: js_distance([r[c] for r in reference], [r[c] for r in current]) for c in shared}
    pred_drift = js_distance([r[prediction] for r in reference], [r[prediction] for r in current])
    fairness = {}
    for attr in protected:
        groups = {}
        for r in current:
            groups.setdefault(r[attr], []).append(positive(r[prediction]))
        rates = [sum(v) / len(v) for v in groups.values()]
        if len(rates) < 2:
            raise ValueError(f"protected attribute {attr}: fewer than two groups in the logged predictions")
        hi, lo = max(rates), min(rates)
        fairness[attr] = (hi - lo, lo / hi if hi else 1.0)
    return drift, pred_drift, fairness


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
    reference = read_rows([os.path.join(inputs, "reference.csv")] if os.path.exists(
        os.path.join(inputs, "reference.csv")) else [])
    current = read_rows(sorted(glob.glob(os.path.join(inputs, "predictions", "*.csv"))))
    try:
        drift, pred_drift, fairness = compute(reference, current, os.environ.get("PREDICTION_COLUMN", "prediction"),
                                              protected)
    except (ValueError, KeyError) as exc:
        print(f"{model}: nothing pushed: {exc}", file=sys.stderr, flush=True)
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


def inputs_uri(bucket: str, prefix: str, model: str) -> str:
    return f"s3://{bucket}/{prefix}/{model}/"


def cron_job_spec(model: str, image: str, pushgateway_url: str, config_map: str, *, fetch_image: str,
                  inputs: str, region: str, service_account: str, protected_attributes: list[str],
                  schedule: str = "17 3 * * *") -> dict[str, Any]:
    """The CronJob `spec` (camelCase, as the API takes it). `inputs` is the `s3://` prefix of the model's inputs;
    `service_account` reads it (IRSA)."""
    fetch = {
        "name": "fetch", "image": fetch_image,
        "command": ["aws", "s3", "cp", "--recursive", "--only-show-errors", inputs, INPUTS_DIR],
        "env": [{"name": "AWS_REGION", "value": region}, {"name": "HOME", "value": "/tmp"}],
        "resources": _SMALL, "securityContext": _SECURITY,
        "volumeMounts": [{"name": "inputs", "mountPath": INPUTS_DIR}, {"name": "tmp", "mountPath": "/tmp"}],
    }
    container = {
        "name": "monitor", "image": image, "command": ["python", f"{SCRIPT_DIR}/{SCRIPT_KEY}"],
        "env": [{"name": "MODEL", "value": model}, {"name": "PUSHGATEWAY_URL", "value": pushgateway_url},
                {"name": "MONITOR_INPUTS", "value": INPUTS_DIR},
                {"name": "PROTECTED_ATTRIBUTES", "value": ",".join(protected_attributes)}],
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
