"""tests/iam_eval.py judges what its docstring says it judges (review FSEC3 #4: it called NotAction "not covered"
while the bucket guards' tests rely on it), and refuses what it does not judge rather than misjudging it."""

from __future__ import annotations

import pytest

from tests import iam_eval

BUCKET = "arn:aws:s3:::data"


def _deny(**element: object) -> dict[str, object]:
    return {"Statement": [{"Effect": "Deny", "Principal": "*", "Resource": [BUCKET, f"{BUCKET}/*"], **element}]}


def test_not_action_denies_every_action_but_the_listed_ones() -> None:
    doc = _deny(NotAction=["s3:GetBucket*", "s3:GetEncryptionConfiguration"])
    assert not iam_eval.denies([doc], "s3:GetBucketPolicy", BUCKET)
    assert not iam_eval.denies([doc], "S3:getencryptionconfiguration", BUCKET)  # actions match case-insensitively
    assert iam_eval.denies([doc], "s3:ListBucket", BUCKET)
    assert iam_eval.denies([doc], "s3:GetObject", f"{BUCKET}/k")


@pytest.mark.parametrize("element", [{"Action": "s3:*", "NotResource": [BUCKET]},
                                     {"Action": "s3:*", "NotPrincipal": {"AWS": "arn:aws:iam::1:role/r"}}],
                         ids=["NotResource", "NotPrincipal"])
def test_elements_it_does_not_judge_are_refused(element: dict[str, object]) -> None:
    doc = {"Statement": [{"Effect": "Deny", "Resource": [BUCKET], **element}]}
    with pytest.raises(NotImplementedError):
        iam_eval.denies([doc], "s3:GetObject", f"{BUCKET}/k")
