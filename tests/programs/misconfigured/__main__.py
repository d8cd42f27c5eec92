"""A deliberately misconfigured stack built from raw pulumi_aws / pulumi_kubernetes resources (no mlops_infra):
`mlops-infra check --program tests/programs/misconfigured --stack test` must report each mistake."""

import json

import pulumi_aws as aws
import pulumi_kubernetes as k8s

tags = {"owner": "ml", "cost-center": "cc-1", "environment": "prod", "data-classification": "internal"}

bucket = aws.s3.Bucket("raw-data", tags=tags)
aws.s3.BucketServerSideEncryptionConfiguration(
    "raw-data-sse", bucket=bucket.id,
    rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}])
aws.s3.BucketPolicy("raw-data-policy", bucket=bucket.id, policy=bucket.arn.apply(lambda arn: json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                   "Resource": f"{arn}/*"}]})))

aws.kms.Key("untagged-key", description="no rotation")

aws.eks.Cluster(
    "open-cluster", role_arn="arn:aws:iam::123456789012:role/eks", version="1.29", tags=tags,
    vpc_config={"subnet_ids": ["subnet-a", "subnet-b"], "endpoint_public_access": True,
                "public_access_cidrs": ["0.0.0.0/0"]})

aws.ec2.SecurityGroup("ssh-anywhere", description="ssh", tags=tags, ingress=[
    {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["0.0.0.0/0"], "description": "ssh"}])

aws.rds.Instance(
    "public-db", engine="postgres", instance_class="db.t4g.micro", allocated_storage=20, username="admin",
    manage_master_user_password=True, publicly_accessible=True, storage_encrypted=True,
    kms_key_id="arn:aws:kms:us-east-1:123456789012:key/x", deletion_protection=True, backup_retention_period=7,
    multi_az=True, iam_database_authentication_enabled=True, enabled_cloudwatch_logs_exports=["postgresql"], tags=tags)

aws.iam.RolePolicy("admin-everything", role="some-role", policy=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}]}))

k8s.apps.v1.Deployment(
    "root-app",
    metadata={"namespace": "apps"},
    spec={"selector": {"match_labels": {"app": "x"}}, "template": {
        "metadata": {"labels": {"app": "x"}},
        "spec": {"service_account_name": "app", "containers": [{
            "name": "app", "image": "nginx:latest",
            "security_context": {"privileged": True, "allow_privilege_escalation": False, "run_as_non_root": True,
                                 "read_only_root_filesystem": True, "capabilities": {"drop": ["ALL"]},
                                 "seccomp_profile": {"type": "RuntimeDefault"}},
            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}]}}})
