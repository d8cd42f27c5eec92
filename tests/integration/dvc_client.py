"""Client work run by the DVC test inside the DVC virtualenv (not imported by the test suite): the real `dvc`
(its CLI entry point, in one process to keep the test fast) on a repository configured with the platform's
generated remote sections.

    python dvc_client.py <workdir> <endpoint-url> <own-section-file> <other-section-file>

Prints one JSON object: each step's exit code, and whether the pulled file equals the pushed one. Credentials come
from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (a user holding the team's generated write grant).
"""

import json
import os
import shutil
import sys
from pathlib import Path

from dvc.cli import main as dvc

work, endpoint, own, other = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
os.chdir(work)
steps = {"init": dvc(["init", "--no-scm", "-q"])}
with open(".dvc/config", "a") as config:  # the sections exactly as the platform outputs them
    config.write(own.read_text())
    config.write(other.read_text().replace("['remote \"platform\"']", "['remote \"other-team\"']"))
steps["default"] = dvc(["remote", "default", "platform"])
# The stand-in S3 (moto) replaces AWS's endpoint; the url and region are the generated ones.
steps["endpoint"] = dvc(["remote", "modify", "platform", "endpointurl", endpoint])
steps["endpoint-other"] = dvc(["remote", "modify", "other-team", "endpointurl", endpoint])
payload = "id,label\n1,cat\n2,dog\n"
Path("data.csv").write_text(payload)
steps["add"] = dvc(["add", "-q", "data.csv"])
steps["push"] = dvc(["push", "-q"])
steps["push-other"] = dvc(["push", "-r", "other-team"])
os.remove("data.csv")
shutil.rmtree(".dvc/cache")
steps["pull"] = dvc(["pull", "-q"])
pulled = Path("data.csv").read_text() if Path("data.csv").exists() else None
print(json.dumps({"steps": steps, "roundTrip": pulled == payload}))
