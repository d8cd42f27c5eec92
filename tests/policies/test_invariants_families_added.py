"""One compliant and one failing case, with its whole message, for each family added to the issue's six
(volume-zone, ip-capacity, probe-port); test_runner and the citations test read CASES."""

from __future__ import annotations

from . import test_invariants_ip_capacity as IP
from . import test_invariants_probe_port as PP
from . import test_invariants_volume_zone as VZ
from .cases import Case, check, params

CASES = [
    Case("wait-for-first-consumer", VZ.VZ, [*VZ.BASE, VZ.storage_class(), VZ.claim(storageClassName="ebs"),
                                             VZ.app(VZ.ON_GPU)], []),
    Case("immediate", VZ.VZ, [*VZ.BASE, VZ.storage_class(mode="Immediate"), VZ.claim(storageClassName="ebs"),
                              VZ.app(VZ.ON_GPU)],
         ["api: Deployment app/api mounts claim data of StorageClass ebs, which binds Immediate: the EBS "
          "volume is made before the pod is scheduled, in any zone with nodes (us-east-1a, us-east-1b, "
          "us-east-1c), but the node pools that admit the pod (node group gpu) run only in us-east-1a; a "
          "volume made in us-east-1b, us-east-1c never attaches (pod Pending); set volumeBindingMode: "
          "WaitForFirstConsumer"]),
    Case("fits", IP.IP, [IP.A, IP.group("workers", ["a"], 8, ["m5.large"])], []),
    Case("over", IP.IP, [IP.A, IP.group("workers", ["a"], 9, ["m5.large"])],
         ["workers: node group workers at maximum size, with full nodes, takes at least 270 VPC addresses "
          "(node group workers: 9 x m5.large (29 max pods, 30 addresses a full node) = 270), but the subnets a (10.0.0.0/24) hold "
          "251 (5 are reserved in each): pods fail with \"failed to assign an IP address to container\"; use "
          "larger subnets (or add some to the groups), lower maxSize, or enable prefix delegation or "
          "custom networking"]),
    Case("own-port", PP.PP, [PP.deploy(PP.container("c", PP.HTTP, livenessProbe=PP.http("http")))], []),
    Case("other-name", PP.PP, [PP.deploy(PP.container("c", [{"name": "web", "containerPort": 8080}],
                                                      livenessProbe=PP.http("http")))],
         ["api: Deployment app/api: container c's livenessProbe (httpGet) names port http, which the "
          "container does not declare (its port names: web): the kubelet resolves a named port only among "
          "the container's own ports, so the probe errors every period and never succeeds; "
          "name one of the container's ports or give the number"]),
]


@params(CASES)
def test_added_family_case(case: Case) -> None:
    check(case)
