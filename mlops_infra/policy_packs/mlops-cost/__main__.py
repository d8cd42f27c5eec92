"""The mlops-cost policy pack, as `pulumi preview --policy-pack <this directory>` runs it.

    pulumi preview --policy-pack "$(mlops-infra policy-pack path mlops-cost)" --policy-pack-config <config.json>

It runs under the Python on PATH (activate the virtualenv where mlops-infra is installed: the library brings
pulumi-policy and everything the rules import); requirements.txt names what a fresh virtualenv for the pack needs
(`pulumi policy publish`). The rules live in mlops_policies; the same functions back `mlops-infra check`.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parents[2]
if (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "policies" / "mlops_policies").is_dir():
    sys.path[:0] = [str(CHECKOUT), str(CHECKOUT / "policies")]  # a checkout: its own code, installed or not

from mlops_policies.packs import serve  # noqa: E402

serve(HERE.name)
