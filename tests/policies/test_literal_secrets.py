"""mlops-no-literal-secret-inputs: a secret input of any resource written as a literal in the program."""

from __future__ import annotations

from .cases import Case, check, params
from .helpers import R

POLICY = "mlops-no-literal-secret-inputs"
RDS = "aws:rds/instance:Instance"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"

CASES = [
    Case("managed-password", POLICY, [R(RDS, "db", {"manageMasterUserPassword": True, "username": "app"})], []),
    Case("password-from-config", POLICY, [R(RDS, "db", {"password": "[secret]", "username": "app"})], []),
    Case("literal-password", POLICY, [R(RDS, "db", {"password": "[secret]"}, literals=["/password"])],
         ["db: secret input password is a literal in the program: Pulumi encrypts it in state, but the value is in "
          "the source and its history"]),
    Case("literal-secret-string", POLICY, [R(VERSION, "v", {"secretString": "[secret]"}, literals=["/secretString"])],
         ["v: secret input secretString is a literal in the program: Pulumi encrypts it in state, but the value is "
          "in the source and its history"]),
    # An SSM String parameter declares its value non-secret (pulumi-aws: `insecure_value`); a SecureString does not.
    Case("ssm-string-literal", POLICY, [R("aws:ssm/parameter:Parameter", "p", {"type": "String", "value": "[secret]"},
                                          literals=["/value"])], []),
    Case("ssm-securestring-literal", POLICY, [R("aws:ssm/parameter:Parameter", "p", {
        "type": "SecureString", "value": "[secret]"}, literals=["/value"])],
         ["p: secret input value is a literal in the program: Pulumi encrypts it in state, but the value is in the "
          "source and its history"]),
    # Kubernetes Secrets are judged by mlops-no-plaintext-secrets-k8s (identity keys allowed there).
    Case("k8s-secret-elsewhere", POLICY, [R("kubernetes:core/v1:Secret", "s", {"stringData": "[secret]"},
                                            literals=["/stringData/password"])], []),
]


@params(CASES)
def test_literal_secret_inputs(case: Case) -> None:
    check(case)


def test_a_secret_s_public_connection_details_are_not_flagged_but_its_password_is() -> None:
    """Review finding: host, port, database name and public certificates are not secrets; the password is."""
    from .helpers import messages

    secret = R("kubernetes:core/v1:Secret", "conn", {"stringData": "[secret]"}, literals=[
        "/stringData/host", "/stringData/port", "/stringData/dbname", "/stringData/tls.crt", "/stringData/ca.crt",
        "/stringData/username", "/stringData/password", "/stringData/DATABASE_URL"])
    assert messages("mlops-no-plaintext-secrets-k8s", [secret]) == [
        f"conn: Secret stringData.{key} is a literal in the program: the SDK stores it encrypted, but the value is in "
        "the source and its history; pass it from Pulumi secret config or an ExternalSecret"
        for key in ("DATABASE_URL", "password")]
