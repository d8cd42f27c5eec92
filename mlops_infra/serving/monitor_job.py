"""The example drift/fairness monitoring job: a CronJob per served model that pushes the metric contract
(serving/rules.py) to the Pushgateway. Pure (no Pulumi).

The job's script runs in a plain Python image (stdlib only). It reads a JSON report written by the team's own
evaluation step (e.g. Evidently or Fairlearn over the day's captured requests) at MONITOR_REPORT:
`{"feature_drift": {"<feature>": 0.12}, "prediction_drift": 0.05,
  "fairness": {"<protected attribute>": {"demographic_parity_difference": 0.03, "disparate_impact_ratio": 0.91}}}`
and pushes one gauge per value, plus the last-run timestamp (also when the report is missing, so a job that
runs but has nothing to say is told apart from a job that stopped).
"""

from __future__ import annotations

from typing import Any

SCRIPT = r'''
import json, os, time, urllib.request

def exposition(model, report, now):
    def line(metric, value, **labels):
        labels = {"model": model, **labels}
        body = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        return f"{metric}{{{body}}} {float(value)}"
    out = ["# TYPE mlops_model_monitor_last_run_timestamp_seconds gauge",
           line("mlops_model_monitor_last_run_timestamp_seconds", now)]
    for feature, score in sorted(report.get("feature_drift", {}).items()):
        out.append(line("mlops_feature_drift_score", score, feature=feature))
    if "prediction_drift" in report:
        out.append(line("mlops_prediction_drift_score", report["prediction_drift"]))
    for attr, values in sorted(report.get("fairness", {}).items()):
        if "demographic_parity_difference" in values:
            out.append(line("mlops_fairness_demographic_parity_difference",
                            values["demographic_parity_difference"], protected_attribute=attr))
        if "disparate_impact_ratio" in values:
            out.append(line("mlops_fairness_disparate_impact_ratio",
                            values["disparate_impact_ratio"], protected_attribute=attr))
    return "\n".join(out) + "\n"

def main():
    model, gateway = os.environ["MODEL"], os.environ["PUSHGATEWAY_URL"].rstrip("/")
    path = os.environ.get("MONITOR_REPORT", "")
    report = json.load(open(path)) if path and os.path.exists(path) else {}
    body = exposition(model, report, time.time()).encode()
    url = f"{gateway}/metrics/job/mlops-model-monitor/model/{model}"
    req = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        print("pushed", len(body), "bytes:", resp.status, flush=True)

if __name__ == "__main__":
    main()
'''.strip()

SCRIPT_KEY = "monitor.py"
SCRIPT_DIR = "/opt/monitor"


def cron_job_spec(model: str, image: str, pushgateway_url: str, config_map: str, schedule: str = "17 3 * * *",
                  service_account: str = "default") -> dict[str, Any]:
    """The CronJob `spec` (camelCase, as the API takes it)."""
    container = {
        "name": "monitor", "image": image, "command": ["python", f"{SCRIPT_DIR}/{SCRIPT_KEY}"],
        "env": [{"name": "MODEL", "value": model}, {"name": "PUSHGATEWAY_URL", "value": pushgateway_url},
                {"name": "MONITOR_REPORT", "value": "/reports/report.json"}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "100m", "memory": "128Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [{"name": "script", "mountPath": SCRIPT_DIR, "readOnly": True},
                         {"name": "reports", "mountPath": "/reports"}],
    }
    pod = {
        "restartPolicy": "OnFailure", "serviceAccountName": service_account, "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": [{"name": "script", "configMap": {"name": config_map}}, {"name": "reports", "emptyDir": {}}],
    }
    return {"schedule": schedule, "concurrencyPolicy": "Forbid", "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {"metadata": {"labels": {"mlops.io/model": model}},
                            "spec": {"backoffLimit": 2, "activeDeadlineSeconds": 1800,
                                     "ttlSecondsAfterFinished": 86400,
                                     "template": {"metadata": {"labels": {"mlops.io/model": model,
                                                                         "app.kubernetes.io/name": "model-monitor"}},
                                                  "spec": pod}}}}
