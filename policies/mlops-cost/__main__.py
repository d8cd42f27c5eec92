"""The mlops-cost policy pack.

    pulumi preview --policy-pack policies/mlops-cost --policy-pack-config policies/config/<stack>.json

The rules live in the mlops_policies package (policies/mlops_policies); the same functions back `mlops-infra check`.
"""

import sys
from pathlib import Path

# From a checkout, import mlops_policies from policies/ without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The budget policy's estimator (mlops_infra.cost: standard library only) from the same checkout.
sys.path.insert(1, str(Path(__file__).resolve().parent.parent.parent))

from mlops_policies.packs import serve

serve("mlops-cost")
