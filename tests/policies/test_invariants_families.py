"""One failing case per family policy, with its whole message (the citations test reads CASES), and the family map."""

from __future__ import annotations

from mlops_policies.families import POLICIES_BY_FAMILY
from mlops_policies.packs import policy_index

from . import test_invariants_placement as P
from . import test_invariants_selector as S
from .cases import Case, check, params

GOOD = [
    Case("service-selects", "mlops-inv-service-selects-pods", [S.workload(), S.service({"app": "api"})], []),
    Case("podmonitor-port", "mlops-inv-podmonitor-target", [S.workload(), S.podmonitor({"app": "api"})], []),
    Case("pdb-selects", "mlops-inv-pdb-selects-pods", [S.workload(), S.pdb({"app": "api"})], []),
    Case("hpa-target", "mlops-inv-hpa-scale-target", [S.workload(), S.hpa()], []),
    Case("ingress-port", "mlops-inv-ingress-backend", [S.workload(), S.service({"app": "api"}), S.ingress()], []),
    Case("netpol-selects", "mlops-inv-netpol-peer-selects-pods",
         [S.workload(), S.netpol({"app": "api"}, {"podSelector": {"matchLabels": {"app": "api"}}})], []),
    Case("fits", "mlops-inv-pod-fits-node", [P.EKS, P.SYSTEM, P.pod(P.requests(cpu="1500m", memory="6Gi"))], []),
]
CASES = [*GOOD,
    Case("service-typo", "mlops-inv-service-selects-pods", [S.workload(), S.service({"app": "apl"})],
         ["svc: Service app/api (resource svc) selects no pods: selector {'app': 'apl'} matches no pod template in "
          "namespace app (pods there: Deployment app/api {'app': 'api'}); set the selector to the pod template's "
          "labels (or the labels to the selector)"]),
    Case("podmonitor-port", "mlops-inv-podmonitor-target", [S.workload(), S.podmonitor({"app": "api"}, port="metrics")],
         ["pm: PodMetricsEndpoint port 'metrics' of PodMonitor monitoring/api (resource pm) is not a container port "
          "of its pods (Deployment app/api); name the pod's metrics port (containers[].ports[].name)"]),
    Case("pdb-typo", "mlops-inv-pdb-selects-pods", [S.workload(), S.pdb({"app": "web"})],
         ["pdb: PodDisruptionBudget app/api (resource pdb) selects no pods: selector {'app': 'web'} matches no pod "
          "template in app (pods there: Deployment app/api {'app': 'api'}); select the labels of the pods it guards"]),
    Case("hpa-wrong-name", "mlops-inv-hpa-scale-target", [S.workload(), S.hpa(name="apx")],
         ["hpa: HPA app/api (resource hpa) scales Deployment app/apx, which the stack does not create in app; there: "
          "Deployment api; point scaleTargetRef at the workload (kind, name, same namespace)"]),
    Case("ingress-target-port", "mlops-inv-ingress-backend",
         [S.workload(), S.service({"app": "api"}), S.ingress(port={"number": 8080})],
         ["ing: Ingress app/web (resource ing) rules[0].paths[0] routes to port 8080 of Service app/api (resource "
          "svc), which serves ports ['80']; use the Service's port (not the container's targetPort)"]),
    Case("netpol-selects-nothing", "mlops-inv-netpol-peer-selects-pods",
         [S.workload(), S.netpol({"app": "apx"}, {"podSelector": {"matchLabels": {"app": "api"}}})],
         ["np: NetworkPolicy app/api-egress (resource np) podSelector {'app': 'apx'} selects no pod in app: it "
          "isolates nothing; select the template labels of the pods it is for"]),
    Case("too-big", "mlops-inv-pod-fits-node", [P.EKS, P.SYSTEM, P.pod(P.requests(cpu="1500m", memory="8Gi"))],
         ["api: Deployment app/api requests cpu=1500m, memory=8192Mi, which no node it may run on can give (node "
          "group system (m5.large): allocatable memory is 7518Mi): it stays Pending; lower the requests, or add a "
          "pool (instance type, device plugin) that fits"]),
]


@params(CASES)
def test_family_policy_case(case: Case) -> None:
    check(case)


def test_families_cover_every_new_policy_and_only_registered_ones() -> None:
    assert set(POLICIES_BY_FAMILY) == {"selector", "placement", "kms-users", "identity", "service-reach", "ordering",
                                      "volume-zone", "ip-capacity", "probe-port"}
    listed = [p for ids in POLICIES_BY_FAMILY.values() for p in ids]
    assert listed and len(listed) == len(set(listed))
    assert [p for p in listed if p not in policy_index()] == []
    assert {c.policy for c in CASES} <= set(listed)
    assert {c.policy for c in CASES if c.expected} == {c.policy for c in GOOD}
