"""kms-users family, Secrets Manager with a customer managed key: the feature store's registry database password
is a secret encrypted with `registry-secrets-key`; the registry server reads it through its IRSA role, whose policy
is an `aws.iam.Policy` attached with `RolePolicyAttachment`.

bad: the reader policy allows secretsmanager:GetSecretValue on the secret but not kms:Decrypt on the key (scoped
with kms:ViaService to Secrets Manager); GetSecretValue fails with AccessDeniedException from KMS."""

import json

import pulumi
import pulumi_aws as aws

variant = pulumi.Config("fixture").require("variant")
account = aws.get_caller_identity().account_id
region = aws.get_region().region
NS, SA = "feast", "feast-registry"

key = aws.kms.Key("registry-secrets-key", description="CMK for the feature registry's secrets",
                  enable_key_rotation=True,
                  policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                      "Sid": "EnableIAMPolicies", "Effect": "Allow",
                      "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}]}))
secret = aws.secretsmanager.Secret("registry-db-password", name="feast/registry-db-password", kms_key_id=key.arn,
                                   recovery_window_in_days=7)

# The cluster and its IAM OIDC provider belong to the platform stack; this stack only trusts its issuer.
issuer = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
role = aws.iam.Role("feast-registry", name="feast-registry", assume_role_policy=json.dumps({
    "Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": f"arn:aws:iam::{account}:oidc-provider/{issuer}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{issuer}:sub": f"system:serviceaccount:{NS}:{SA}",
                                       f"{issuer}:aud": "sts.amazonaws.com"}}}]}))


def reader(args: list[str]) -> str:
    secret_arn, key_arn = args
    statements: list[dict[str, object]] = [
        {"Sid": "ReadRegistryPassword", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": secret_arn}]
    if variant == "good":
        statements.append({"Sid": "DecryptViaSecretsManager", "Effect": "Allow", "Action": "kms:Decrypt",
                           "Resource": key_arn,
                           "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


policy = aws.iam.Policy("feast-registry-secrets", name="feast-registry-secrets",
                        policy=pulumi.Output.all(secret.arn, key.arn).apply(reader))
aws.iam.RolePolicyAttachment("feast-registry-secrets", role=role.name, policy_arn=policy.arn)
