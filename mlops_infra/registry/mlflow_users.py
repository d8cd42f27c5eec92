"""One MLflow user per team namespace when the server runs MLflow's basic-auth app (the prod default,
`modelRegistry.inClusterAuth`): without credentials every tracking call answers 401.

Per team: a random password (a Pulumi secret), a Secret `mlflow-credentials` in the team namespace with the
variables the MLflow client reads (`MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD`, mlflow 3.14.0
mlflow/environment_variables.py), so a training pod uses `envFrom: [{secretRef: {name: mlflow-credentials}}]`.
A Job in the server's namespace, run once the Deployment is ready, creates each user through MLflow's auth REST
API with the admin's credentials (mlflow 3.14.0 server/auth/routes.py: POST /api/2.0/mlflow/users/create, PATCH
/api/2.0/mlflow/users/update-password; an existing user answers RESOURCE_ALREADY_EXISTS and gets its password
set instead, so reruns converge). The username is the namespace name.

What a team user may do: basic_auth.ini `default_permission = READ` lets it read every experiment and model;
MLflow gives the creator MANAGE on each experiment and registered model it creates, so a team writes to its own
experiments and models and only reads the others'. Operators grant more with the admin account.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from ..blocks import pod_security
from ..blocks.naming import child, child_options, truncate_name

CREDENTIALS_SECRET = "mlflow-credentials"
"""The Secret every team namespace gets (keys USERNAME_ENV, PASSWORD_ENV)."""
USERNAME_ENV, PASSWORD_ENV = "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"
USERS_DIR = "/etc/mlflow-users"
JOB_RESOURCES = ("100m", "128Mi")
"""The Job runs only the standard library's urllib: a separate pod, outside the server's measured memory."""
CREATE_USER, UPDATE_PASSWORD = "/api/2.0/mlflow/users/create", "/api/2.0/mlflow/users/update-password"
USERS_SCRIPT = f"""
import base64, json, os, sys, urllib.error, urllib.request
base, users = os.environ["MLFLOW_TRACKING_URI"].rstrip("/"), os.environ["MLFLOW_USERS_DIR"]
token = base64.b64encode((os.environ["MLFLOW_ADMIN_USERNAME"] + ":" + os.environ["MLFLOW_ADMIN_PASSWORD"]).encode())
def call(method, path, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method=method, headers={{
        "Authorization": "Basic " + token.decode(), "Content-Type": "application/json"}})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, {{}}
    except urllib.error.HTTPError as exc:
        text = exc.read().decode(errors="replace")
        try:
            return exc.code, json.loads(text)
        except ValueError:
            return exc.code, {{"message": text[:300]}}
for name in sorted(n for n in os.listdir(users) if not n.startswith(".")):
    with open(os.path.join(users, name)) as f:
        body = {{"username": name, "password": f.read()}}
    status, error = call("POST", "{CREATE_USER}", body)
    if status == 200:
        print("created", name, flush=True)
        continue
    if error.get("error_code") == "RESOURCE_ALREADY_EXISTS":
        status, error = call("PATCH", "{UPDATE_PASSWORD}", body)
        if status == 200:
            print("updated", name, flush=True)
            continue
    print("failed", name, status, error.get("error_code"), error.get("message", "")[:300], flush=True)
    sys.exit(1)
""".strip()


def team_users(name: str, parent: pulumi.Resource, *, namespace: pulumi.Input[str], k8s_name: str,
               image: str, tracking_uri: pulumi.Input[str], admin_secret: str,
               teams: Mapping[str, pulumi.Input[str]], server: Sequence[pulumi.Resource]) -> k8s.batch.v1.Job | None:
    """Passwords `<name>-user-<team>`, team Secrets `<name>-credentials-<team>`, the Secret `<k8s_name>-users`
    (key per team) the Job mounts, and the Job `<name>-users`, run after `server` (Deployment, Service) is ready.
    `teams` maps each username to its namespace (an output of the cluster's Namespace, so the Secret waits for
    it). None without teams."""
    if not teams:
        return None
    if "admin" in teams:  # the Job would reset the admin's password to the team's
        raise ValueError(f"{name}: a team namespace named `admin` collides with MLflow's admin user")
    users_name = truncate_name(f"{k8s_name}-users", 63)
    # Not the server's selector labels: the Job's pod must never join the Service or the PodDisruptionBudget.
    labels = {"app.kubernetes.io/name": "mlflow-users", "app.kubernetes.io/instance": k8s_name,
              "app.kubernetes.io/part-of": "mlops-platform"}
    passwords: dict[str, pulumi.Output[str]] = {}
    for team, team_namespace in sorted(teams.items()):
        password = random.RandomPassword(child(name, f"user-{team}"), length=32, special=False,
                                         opts=child_options(parent))
        passwords[team] = pulumi.Output.secret(password.result)
        k8s.core.v1.Secret(child(name, f"credentials-{team}"), type="Opaque", opts=child_options(parent), metadata={
            "name": CREDENTIALS_SECRET, "namespace": team_namespace, "labels": labels},
            string_data={USERNAME_ENV: team, PASSWORD_ENV: passwords[team]})
    users = k8s.core.v1.Secret(child(name, "users"), type="Opaque", opts=child_options(parent),
                               metadata={"name": users_name, "namespace": namespace, "labels": labels},
                               string_data=dict(passwords))
    # A changed password or team list changes the pod template, so Pulumi replaces the (immutable) Job and reruns it.
    revision = pulumi.Output.all(*[pulumi.Output.concat(t, "=", p) for t, p in passwords.items()]).apply(
        lambda pairs: hashlib.sha256("\n".join(pairs).encode()).hexdigest()[:16])
    container: k8s.core.v1.ContainerArgsDict = {
        "name": "users", "image": image, "command": ["python", "-c", USERS_SCRIPT],
        "env": [{"name": "MLFLOW_TRACKING_URI", "value": tracking_uri},
                {"name": "MLFLOW_USERS_DIR", "value": USERS_DIR}, {"name": "HOME", "value": "/tmp"},
                {"name": "MLFLOW_ADMIN_USERNAME", "value": "admin"},
                {"name": "MLFLOW_ADMIN_PASSWORD", "value_from": {"secret_key_ref": {
                    "name": admin_secret, "key": "admin-password"}}}],
        "resources": pod_security.resources(*JOB_RESOURCES),
        "security_context": pod_security.container_security_context(),
        "volume_mounts": [{"name": "users", "mount_path": USERS_DIR, "read_only": True}],
    }
    pod: k8s.core.v1.PodSpecArgsDict = {
        "restart_policy": "Never", "automount_service_account_token": False,
        "security_context": pod_security.pod_security_context(), "containers": [container],
        "volumes": [{"name": "users", "secret": {"secret_name": users_name, "default_mode": 0o440}}]}
    return k8s.batch.v1.Job(
        child(name, "users"), opts=child_options(parent, depends_on=[*server, users]),
        # replaceUnready: a Job that failed once (server not reachable, ...) is replaced on the next `pulumi up`
        # instead of being awaited again forever (pulumi-kubernetes Job await).
        metadata={"name": users_name, "namespace": namespace, "labels": labels,
                  "annotations": {"pulumi.com/replaceUnready": "true"}},
        spec={"backoff_limit": 4, "active_deadline_seconds": 600,
              "template": {"metadata": {"labels": labels, "annotations": {"mlops.io/users-revision": revision}},
                           "spec": pod}})
