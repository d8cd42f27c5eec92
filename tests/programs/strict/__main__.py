"""Programs the real engine refuses, one per stack (config `demo:case`), and one it accepts ("ok")."""

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

case = pulumi.Config("demo").require("case")


class Thing(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:test:Thing", name, None, opts)
        k8s.core.v1.ConfigMap(f"{name}-cm", data={"a": "b"}, opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({})


provider = k8s.Provider("cluster", kubeconfig="{}")
if case == "ok":
    Thing("thing", pulumi.ResourceOptions(providers={"kubernetes": provider}))
    aws.s3.Bucket("data")
elif case == "duplicate":
    aws.s3.Bucket("data")
    aws.s3.Bucket("data", tags={"again": "yes"})
elif case == "duplicate-provider":  # two README "alone" programs pasted into one file
    aws.s3.Bucket("data")
    k8s.Provider("cluster", kubeconfig="{}")
elif case == "ambient":
    Thing("thing")
elif case == "custom-parent":
    bucket = aws.s3.Bucket("data")
    aws.s3.BucketVersioning("data-versioning", bucket=bucket.id,
                            versioning_configuration={"status": "Enabled"},
                            opts=pulumi.ResourceOptions(parent=bucket))
