"""ModelPackageGroups: one SageMaker Model Package Group per model name (the children of SageMakerRegistry).

Each group carries a resource policy that lets the listed reader accounts (default: this account) describe
and list its model packages, and nothing else, so cross-account deployment is explicit in config.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..blocks import iam
from ..blocks.naming import child, child_options, renamed_type, truncate_name

READ_ACTIONS = ["sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup",
                "sagemaker:ListModelPackages"]
WRITE_ACTIONS = ["sagemaker:CreateModelPackage", "sagemaker:UpdateModelPackage"]


@dataclass(frozen=True)
class ModelPackageGroupsArgs:
    model_names: Sequence[str]
    name_prefix: str
    """Groups are named `<name_prefix>-<model>` so environments sharing an account never collide."""
    tags: dict[str, str]
    reader_account_ids: Sequence[str] = ()
    """Accounts allowed to read the groups' packages. Default: none (this account only)."""


def packages_arn(group_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """`...:model-package-group/<g>` -> `...:model-package/<g>/*` (the packages inside the group)."""
    return pulumi.Output.from_input(group_arn).apply(
        lambda arn: arn.replace(":model-package-group/", ":model-package/", 1) + "/*")


class ModelPackageGroups(pulumi.ComponentResource):
    """SageMaker Model Package Groups, one per model name."""
    group_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ModelPackageGroupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:registry:ModelPackageGroups", name, None,
                         renamed_type(opts, "mlops:sagemaker_registry:SageMakerRegistry"))
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        accounts: list[pulumi.Input[str]] = [*args.reader_account_ids] or [identity.account_id]
        readers = [pulumi.Output.format("arn:{0}:iam::{1}:root", partition, acct) for acct in accounts]
        self.group_arns = {}
        for model in args.model_names:
            group = aws.sagemaker.ModelPackageGroup(
                # ModelPackageGroupName: `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`, so never a trailing `-`.
                child(name, model), model_package_group_name=truncate_name(f"{args.name_prefix}-{model}"),
                model_package_group_description=f"Model packages of {model}", tags=args.tags, opts=child_options(self))
            aws.sagemaker.ModelPackageGroupPolicy(
                child(name, f"{model}-policy"), model_package_group_name=group.model_package_group_name,
                resource_policy=iam.document([iam.statement(
                    "ReadModelPackages", READ_ACTIONS, [group.arn, packages_arn(group.arn)],
                    principals={"AWS": readers})]),
                opts=child_options(self))
            self.group_arns[model] = group.arn
        self.register_outputs({"groupArns": self.group_arns})

    def read_statements(self) -> list[iam.Statement]:
        arns = [a for arn in self.group_arns.values() for a in (arn, packages_arn(arn))]
        return [iam.statement("ReadModelPackages", READ_ACTIONS, arns)]

    def write_statements(self) -> list[iam.Statement]:
        arns = [a for arn in self.group_arns.values() for a in (arn, packages_arn(arn))]
        return [*self.read_statements(), iam.statement("RegisterModelPackages", WRITE_ACTIONS, arns)]
