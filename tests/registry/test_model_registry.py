"""ModelRegistry planned on tests/programs/model_registry: RDS guards per environment, secrets, IAM scoping,
pod security, the ServiceMonitor, Ingress auth modes and the SageMaker engine."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_infra.plan import SECRET, Inventory, ResourceRecord
from tests.conftest import PROGRAMS, planned
from tests.nonempty import each

PROGRAM = PROGRAMS / "model_registry"
RDS = "aws:rds/instance:Instance"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"


@pytest.fixture(scope="module")
def prod() -> Inventory:
    return planned("prod", PROGRAM)


@pytest.fixture(scope="module")
def dev() -> Inventory:
    return planned("dev", PROGRAM)


@pytest.fixture(scope="module")
def basic() -> Inventory:
    return planned("basic", PROGRAM)


@pytest.fixture(scope="module")
def sagemaker() -> Inventory:
    return planned("sagemaker", PROGRAM)


def one(inv: Inventory, typ: str) -> ResourceRecord:
    found = inv.of_type(typ)
    assert len(found) == 1, f"{len(found)} {typ}"
    return found[0]


def policy(record: ResourceRecord, key: str = "policy") -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(record.inputs[key])["Statement"]}


def granted(inv: Inventory, name: str) -> dict[str, dict[str, Any]]:
    """The statements of the managed policy a grant (`<registry>-<grant>-<role>` attachment) attaches."""
    arn = inv.named(name).inputs["policyArn"]
    [managed] = [r for r in inv.of_type("aws:iam/policy:Policy") if r.id == arn]
    return policy(managed)


def pod_spec(inv: Inventory) -> dict[str, Any]:
    spec: dict[str, Any] = one(inv, DEPLOYMENT).inputs["spec"]["template"]["spec"]
    return spec


def containers(inv: Inventory) -> dict[str, dict[str, Any]]:
    spec = pod_spec(inv)
    return {c["name"]: c for c in [*spec.get("initContainers", []), *spec["containers"]]}


def registry_key_arn(inv: Inventory) -> str:
    arn: str = one(inv, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration") \
        .inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
    return arn


def test_prod_database_is_encrypted_private_protected_multi_az(prod: Inventory) -> None:
    db = one(prod, RDS)
    key = registry_key_arn(prod)
    assert key.startswith("arn:aws:kms:us-east-1:123456789012:key/")
    expected = {
        "engine": "postgres", "engineVersion": "16", "instanceClass": "db.m7g.large", "storageType": "gp3",
        "storageEncrypted": True, "kmsKeyId": key, "publiclyAccessible": False, "deletionProtection": True,
        "skipFinalSnapshot": False, "finalSnapshotIdentifier": "mlops-prod-registry-db-final", "multiAz": True,
        "backupRetentionPeriod": 14, "iamDatabaseAuthenticationEnabled": True, "performanceInsightsEnabled": True,
        "performanceInsightsKmsKeyId": key, "enabledCloudwatchLogsExports": ["postgresql", "upgrade"],
        "autoMinorVersionUpgrade": True, "manageMasterUserPassword": True, "masterUserSecretKmsKeyId": key,
        "monitoringInterval": 60,
    }
    assert {k: db.inputs.get(k) for k in expected} == expected
    assert db.inputs["backupRetentionPeriod"] >= 7
    assert db.options["protect"] is True and db.options["retainOnDelete"] is True


def test_dev_database_differs_as_configured(dev: Inventory) -> None:
    db = one(dev, RDS)
    got = {k: db.inputs.get(k) for k in ("multiAz", "instanceClass", "backupRetentionPeriod", "deletionProtection",
                                         "skipFinalSnapshot", "finalSnapshotIdentifier")}
    assert got == {"multiAz": False, "instanceClass": "db.t4g.medium", "backupRetentionPeriod": 3,
                   "deletionProtection": False, "skipFinalSnapshot": True, "finalSnapshotIdentifier": None}
    assert db.options["protect"] is False
    assert one(dev, DEPLOYMENT).inputs["spec"]["replicas"] == 1


def test_database_password_is_never_plaintext(prod: Inventory, basic: Inventory) -> None:
    for inv in (prod, basic):
        db = one(inv, RDS)
        assert "password" not in db.inputs and "passwordWo" not in db.inputs
        text = inv.dumps()
        assert "mock-" not in text  # random passwords (oauth2 cookie, basic-auth admin) never appear
        assert "mlflowoidcciphertext" not in text
        for secret in inv.of_type("kubernetes:core/v1:Secret"):
            assert secret.inputs["stringData"] == SECRET
        # The only ConfigMaps: the registry's Grafana dashboard (registry/observability.py), no configuration.
        [board] = inv.of_type("kubernetes:core/v1:ConfigMap")
        assert board.inputs["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert "password" not in str(board.inputs).lower()
        assert not [k for k in inv.outputs if "password" in k.lower() or "secret" in k.lower()]
        args = containers(inv)["mlflow"]["args"]
        backend_uri = args[args.index("--backend-store-uri") + 1]
        assert backend_uri == \
            f"postgresql+psycopg2://mlflow@{inv.outputs['databaseAddress']}:5432/mlflow?sslmode=require"


def test_database_admits_only_the_cluster_security_group(prod: Inventory) -> None:
    rule = one(prod, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    sg = one(prod, "aws:ec2/securityGroup:SecurityGroup")
    assert rule.inputs == {"securityGroupId": sg.id, "referencedSecurityGroupId": "sg-cluster", "ipProtocol": "tcp",
                           "fromPort": 5432, "toPort": 5432, "tags": rule.inputs["tags"],
                           "description": "Postgres from the EKS cluster"}
    assert "ingress" not in sg.inputs and sg.inputs["vpcId"] == "vpc-0abc"
    db = one(prod, RDS)
    assert db.inputs["vpcSecurityGroupIds"] == [sg.id]
    subnets = one(prod, "aws:rds/subnetGroup:SubnetGroup")
    assert subnets.inputs["subnetIds"] == ["subnet-a", "subnet-b", "subnet-c"]
    assert db.property_dependencies["dbSubnetGroupName"] == [subnets.urn]
    params = one(prod, "aws:rds/parameterGroup:ParameterGroup")
    assert params.inputs["family"] == "postgres16"
    assert {"name": "rds.force_ssl", "value": "1", "applyMethod": "pending-reboot"} in params.inputs["parameters"]


def test_server_role_is_scoped_to_prefix_key_and_database_secret(prod: Inventory) -> None:
    stmts = policy(prod.named("mlops-prod-registry-mlflow-identity-policy"))
    bucket = prod.outputs["artifactBucketName"]
    key = registry_key_arn(prod)
    secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!"
    assert set(stmts) == {"ListBucket", "ReadObjects", "DecryptObjects", "WriteObjects", "EncryptObjects",
                          "ReadDatabaseSecret", "DecryptDatabaseSecret"}
    assert stmts["ListBucket"]["Resource"] == [f"arn:aws:s3:::{bucket}"]
    assert stmts["ListBucket"]["Condition"] == {"StringLike": {"s3:prefix": ["artifacts/*"]}}
    for sid in ("ReadObjects", "WriteObjects"):
        assert stmts[sid]["Resource"] == [f"arn:aws:s3:::{bucket}/artifacts/*"]
    for sid in ("DecryptObjects", "EncryptObjects", "DecryptDatabaseSecret"):
        assert stmts[sid]["Resource"] == [key]
    assert stmts["ReadDatabaseSecret"]["Action"] == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    [arn] = stmts["ReadDatabaseSecret"]["Resource"]
    assert arn.startswith(secret_arn + "mlops-prod-registry-db")  # pulumi-aws v7: `<identifier><7 hex>`, no `-`
    assert containers(prod)["db-credentials"]["env"][0] == {"name": "DB_SECRET_ARN", "value": arn}
    assert all("*" not in a for s in each(stmts.values()) for a in s["Action"] if not a.startswith("kms:ReEncrypt"))
    trust = json.loads(prod.named("mlops-prod-registry-mlflow-identity-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"]["StringEquals"] == {
        "oidc.eks.us-east-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:mlflow:mlops-prod-registry-mlflow",
        "oidc.eks.us-east-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com"}
    assert pod_spec(prod)["serviceAccountName"] == "mlops-prod-registry-mlflow"


def test_grants_give_training_write_and_serving_read_only(prod: Inventory) -> None:
    bucket = prod.outputs["artifactBucketName"]
    log = granted(prod, "mlops-prod-registry-log-models-trainer")
    read = granted(prod, "mlops-prod-registry-read-models-server")
    assert log["WriteObjects"]["Resource"] == [f"arn:aws:s3:::{bucket}/artifacts/*"]
    assert set(read) == {"ListBucket", "ReadObjects", "DecryptObjects"}
    assert read["ReadObjects"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert read["DecryptObjects"]["Action"] == ["kms:Decrypt", "kms:DescribeKey"]


@pytest.mark.parametrize("stack", ["prod", "basic"])
def test_pod_security_on_every_container(stack: str, request: pytest.FixtureRequest) -> None:
    inv: Inventory = request.getfixturevalue(stack)
    spec = pod_spec(inv)
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not {"hostNetwork", "hostPID", "hostIPC"} & set(spec)
    assert all("hostPath" not in v for v in each(spec["volumes"]))
    for name, c in each(containers(inv).items()):
        sc = c["securityContext"]
        assert (sc["allowPrivilegeEscalation"], sc["privileged"], sc["readOnlyRootFilesystem"], sc["runAsNonRoot"]) \
            == (False, False, True, True), name
        assert sc["capabilities"] == {"drop": ["ALL"]} and sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert c["resources"]["requests"] == c["resources"]["limits"] and c["resources"]["limits"]["cpu"], name
        assert ":" in c["image"].rsplit("/", 1)[-1] and not c["image"].endswith(":latest")
        assert c.get("livenessProbe") or c.get("startupProbe"), name
    mlflow = containers(inv)["mlflow"]
    assert {mlflow[p]["httpGet"]["path"] for p in ("startupProbe", "readinessProbe", "livenessProbe")} == {"/health"}


def test_credentials_sidecar_is_native_and_gates_the_server(prod: Inventory) -> None:
    sidecar = containers(prod)["db-credentials"]
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["startupProbe"]["exec"]["command"] == ["test", "-s", "/var/run/pgpass/.pgpass"]
    pgpass = next(v for v in pod_spec(prod)["volumes"] if v["name"] == "pgpass")
    assert pgpass["emptyDir"]["medium"] == "Memory"
    mount = next(m for m in containers(prod)["mlflow"]["volumeMounts"] if m["name"] == "pgpass")
    assert mount["readOnly"] is True


def test_replicas_pdb_and_server_args(prod: Inventory) -> None:
    deployment = one(prod, DEPLOYMENT)
    assert deployment.inputs["spec"]["replicas"] == 2
    pdb = one(prod, "kubernetes:policy/v1:PodDisruptionBudget")
    assert pdb.inputs["spec"] == {"maxUnavailable": 1,
                                  "selector": deployment.inputs["spec"]["selector"]}
    args = containers(prod)["mlflow"]["args"]
    bucket = prod.outputs["artifactBucketName"]
    assert args[args.index("--artifacts-destination") + 1] == f"s3://{bucket}/artifacts"
    assert "--serve-artifacts" in args and "--app-name" not in args
    assert not [e for e in containers(prod)["mlflow"]["env"] if e["name"] == "MLFLOW_S3_ENDPOINT_URL"]


def test_service_monitor_selects_the_service_after_the_crd(prod: Inventory) -> None:
    monitor = one(prod, SERVICE_MONITOR)
    service = one(prod, "kubernetes:core/v1:Service")
    labels = service.inputs["metadata"]["labels"]
    selector = monitor.inputs["spec"]["selector"]["matchLabels"]
    assert selector and all(labels.get(k) == v for k, v in each(selector.items()))
    assert selector == service.inputs["spec"]["selector"]
    assert monitor.inputs["spec"]["namespaceSelector"] == {"matchNames": [service.inputs["metadata"]["namespace"]]}
    assert [e["port"] for e in monitor.inputs["spec"]["endpoints"]] == ["metrics"]
    assert "metrics" in [p["name"] for p in service.inputs["spec"]["ports"]]
    assert monitor.inputs["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    release = prod.named("kube-prometheus-stack")
    assert monitor.options["dependsOn"] == [release.urn]
    provider = prod.named("eks").urn
    for typ in (DEPLOYMENT, SERVICE_MONITOR, "kubernetes:core/v1:Service", "kubernetes:core/v1:ServiceAccount"):
        assert one(prod, typ).options["provider"] == provider, typ


def test_monitoring_off_skips_the_service_monitor_and_reuses_the_cluster_namespace(dev: Inventory,
                                                                                  prod: Inventory) -> None:
    assert dev.of_type(SERVICE_MONITOR) == []
    assert dev.of_type("kubernetes:core/v1:Namespace") == []
    assert dev.of_type("kubernetes:networking.k8s.io/v1:Ingress") == []
    assert dev.outputs["trackingUri"] == "http://mlops-dev-registry-mlflow.mlflow.svc.cluster.local:5000"
    ns = one(prod, "kubernetes:core/v1:Namespace")
    assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_oidc_ingress_requires_tls_and_goes_through_oauth2_proxy(prod: Inventory) -> None:
    ingress = one(prod, "kubernetes:networking.k8s.io/v1:Ingress")
    ann = ingress.inputs["metadata"]["annotations"]
    assert ann["alb.ingress.kubernetes.io/scheme"] == "internal"
    assert json.loads(ann["alb.ingress.kubernetes.io/listen-ports"]) == [{"HTTPS": 443}]
    assert ann["alb.ingress.kubernetes.io/certificate-arn"] == "arn:aws:acm:us-east-1:123456789012:certificate/abc-123"
    assert ingress.inputs["spec"]["tls"] == [{"hosts": ["mlflow.example.com"]}]
    backend = ingress.inputs["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "mlops-prod-registry-mlflow", "port": {"name": "oauth2"}}
    proxy = containers(prod)["oauth2-proxy"]
    assert "--oidc-issuer-url=https://login.example.com" in proxy["args"]
    assert "--upstream=http://127.0.0.1:5000/" in proxy["args"]
    assert [e["valueFrom"]["secretKeyRef"]["key"] for e in proxy["env"]] == ["client-secret", "cookie-secret"]
    assert prod.outputs["trackingUri"] == "https://mlflow.example.com"


def test_basic_auth_mode(basic: Inventory) -> None:
    args = containers(basic)["mlflow"]["args"]
    assert args[-2:] == ["--app-name", "basic-auth"]
    assert "oauth2-proxy" not in containers(basic)
    env = {e["name"]: e.get("value") for e in containers(basic)["mlflow"]["env"]}
    assert env["MLFLOW_AUTH_CONFIG_PATH"] == "/etc/mlflow-auth/basic_auth.ini"
    ingress = one(basic, "kubernetes:networking.k8s.io/v1:Ingress")
    assert ingress.inputs["metadata"]["annotations"]["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert ingress.inputs["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] == {"name": "http"}
    secrets = basic.of_type("kubernetes:core/v1:Secret")  # the auth Secret and the team users' (mlflow_users.py)
    assert {s.inputs["metadata"]["name"] for s in secrets} >= {"mlops-staging-registry-mlflow-auth"}
    assert all(s.inputs["stringData"] == SECRET for s in each(secrets))


def test_outputs_are_uri_bucket_and_endpoint_never_a_password(prod: Inventory) -> None:
    assert set(prod.outputs) == {"artifactBucketName", "trackingUri", "databaseEndpoint", "databaseAddress"}
    assert prod.outputs["databaseEndpoint"].startswith(prod.outputs["databaseAddress"] + ":")


def test_sagemaker_engine_provisions_groups_with_resource_policy(sagemaker: Inventory) -> None:
    assert sagemaker.of_type(RDS) == [] and sagemaker.of_type(DEPLOYMENT) == []
    groups = sagemaker.of_type("aws:sagemaker/modelPackageGroup:ModelPackageGroup")
    assert sorted(g.inputs["modelPackageGroupName"] for g in groups) == ["mlops-prod-churn", "mlops-prod-ranker"]
    arns = sagemaker.outputs["modelPackageGroupArns"]
    for p in each(sagemaker.of_type("aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy")):
        stmt = policy(p, "resourcePolicy")["ReadModelPackages"]
        assert stmt["Principal"] == {"AWS": ["arn:aws:iam::210987654321:root"]}
        group_arn = arns[p.inputs["modelPackageGroupName"].removeprefix("mlops-prod-")]
        assert stmt["Resource"] == [group_arn, group_arn.replace("model-package-group/", "model-package/") + "/*"]
        assert stmt["Action"] == ["sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup",
                                  "sagemaker:ListModelPackages"]
    log = granted(sagemaker, "mlops-prod-registry-log-models-trainer")
    assert log["RegisterModelPackages"]["Action"] == ["sagemaker:CreateModelPackage", "sagemaker:UpdateModelPackage"]
    assert len(log["RegisterModelPackages"]["Resource"]) == 4
    read = granted(sagemaker, "mlops-prod-registry-read-models-server")
    assert "RegisterModelPackages" not in read and "WriteObjects" not in read
