"""Client work run by the LakeFS SDK test inside the DVC virtualenv (which pins lakefs-sdk; not imported by the
test suite): the real `lakefs_sdk` builds its configuration from the platform's outputs and creates a repository.

    python lakefs_client.py <lakefsEndpoint> <lakefsRepositoryNamespace> <reachable-base-url>

The endpoint output names an in-cluster Service; `reachable-base-url` replaces only its scheme and host (a local
stand-in answers there), the path the SDK builds is kept. Credentials from LAKEFS_ACCESS_KEY_ID/SECRET_ACCESS_KEY
(the initial admin's pair, as the synced Secret holds it). Prints one JSON object.
"""

import json
import os
import sys
from urllib.parse import urlsplit, urlunsplit

import lakefs_sdk

endpoint, namespace, reachable = sys.argv[1], sys.argv[2], sys.argv[3]
generated = lakefs_sdk.Configuration(host=f"{endpoint}/api/v1", username=os.environ["LAKEFS_ACCESS_KEY_ID"],
                                     password=os.environ["LAKEFS_SECRET_ACCESS_KEY"])
with lakefs_sdk.ApiClient(generated) as client:
    apis = [cls(client).__class__.__name__ for cls in (
        lakefs_sdk.RepositoriesApi, lakefs_sdk.BranchesApi, lakefs_sdk.ObjectsApi, lakefs_sdk.CommitsApi)]
parts, local = urlsplit(generated.host), urlsplit(reachable)
generated.host = urlunsplit((local.scheme, local.netloc, parts.path, "", ""))
with lakefs_sdk.ApiClient(generated) as client:
    repo = lakefs_sdk.RepositoriesApi(client).create_repository(lakefs_sdk.RepositoryCreation(
        name="research-data", storage_namespace=f"{namespace}/research-data", default_branch="main"))
print(json.dumps({"host": f"{endpoint}/api/v1", "apis": apis, "repository": repo.id,
                  "storageNamespace": repo.storage_namespace}))
