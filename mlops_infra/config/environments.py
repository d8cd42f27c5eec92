"""Environment profiles: the defaults that differ between dev, staging and prod, written out in one table.

A profile is layered *beneath* the stack's own config: any key the stack sets wins. Components never
branch on the environment name; they read the effective values these profiles produce.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

Environment = Literal["dev", "staging", "prod"]

# One Postgres profile per environment for every RDS database the platform runs (MLflow's backend store and
# the Feast SQL registry): both are built by blocks/postgres.py, so the same environment gets the same guards.
DATABASES: dict[str, dict[str, Any]] = {
    "dev": {"instanceClass": "db.t4g.medium", "multiAz": False, "deletionProtection": False, "backupRetentionDays": 3},
    "staging": {"instanceClass": "db.m7g.large", "multiAz": False, "deletionProtection": True, "backupRetentionDays": 7},
    "prod": {"instanceClass": "db.m7g.large", "multiAz": True, "deletionProtection": True, "backupRetentionDays": 14},
}

PROFILES: dict[str, dict[str, Any]] = {
    "dev": {
        "protectStateful": False,
        "network": {"azCount": 2, "natGateways": "single", "flowLogs": {"retentionDays": 30}},
        "cluster": {"endpointPublicAccess": True, "logRetentionDays": 30},
        "featureStore": {
            "online": {"deletionProtection": False, "multiAz": False},
            "registryDatabase": DATABASES["dev"],
        },
        "modelRegistry": {
            "database": DATABASES["dev"],
            "server": {"replicas": 1},
        },
        "monitoring": {"prometheus": {"retentionDays": 7, "storageGib": 50}},
        "securityBaseline": {"enabled": False, "secretRecoveryWindowDays": 0},
        "orchestration": {"airflow": {"enabled": False, "database": DATABASES["dev"]},
                          "kubeflowPipelines": {"enabled": False, "database": DATABASES["dev"]},
                          "metaflow": {"database": DATABASES["dev"]}},
        "data": {"lakefs": {"database": DATABASES["dev"], "secretRecoveryWindowDays": 0},
                 "qdrant": {"secretRecoveryWindowDays": 0}},
    },
    "staging": {
        "protectStateful": False,
        "network": {"azCount": 3, "natGateways": "single", "flowLogs": {"retentionDays": 90}},
        "cluster": {"endpointPublicAccess": True, "logRetentionDays": 90},
        "featureStore": {"online": {"deletionProtection": True, "multiAz": True},
                         "registryDatabase": DATABASES["staging"]},
        "modelRegistry": {
            "database": DATABASES["staging"],
            "server": {"replicas": 2},
        },
        "monitoring": {"prometheus": {"retentionDays": 15, "storageGib": 100, "alertmanagerStorageGib": 1}},
        "securityBaseline": {"enabled": True, "secretRecoveryWindowDays": 0},
        "orchestration": {"airflow": {"database": DATABASES["staging"]},
                          "kubeflowPipelines": {"database": DATABASES["staging"]},
                          "metaflow": {"database": DATABASES["staging"]}},
        "data": {"lakefs": {"enabled": True, "database": DATABASES["staging"], "secretRecoveryWindowDays": 0},
                 "dvc": {"enabled": True}, "qdrant": {"enabled": True, "secretRecoveryWindowDays": 0}},
    },
    "prod": {
        "protectStateful": True,
        "network": {"azCount": 3, "natGateways": "perAz", "flowLogs": {"retentionDays": 365}},
        "cluster": {"endpointPublicAccess": False, "logRetentionDays": 365, "standardSupportEnding": "fail"},
        "featureStore": {"online": {"deletionProtection": True, "multiAz": True},
                         "registryDatabase": DATABASES["prod"]},
        "modelRegistry": {
            "database": DATABASES["prod"],
            "server": {"replicas": 2},
            "inClusterAuth": True,
        },
        "monitoring": {"prometheus": {"retentionDays": 30, "storageGib": 200, "alertmanagerStorageGib": 1},
                       "receivers": {"requireSubscription": True}},
        "securityBaseline": {"enabled": True, "exfiltrationGuards": True},
        "orchestration": {"airflow": {"database": DATABASES["prod"], "schedulerReplicas": 2, "apiServerReplicas": 2},
                          "kubeflowPipelines": {"database": DATABASES["prod"]},
                          "metaflow": {"database": DATABASES["prod"]}},
        "data": {"lakefs": {"enabled": True, "replicas": 2, "database": DATABASES["prod"]}, "dvc": {"enabled": True},
                 "qdrant": {"enabled": True, "snapshots": {"enabled": True}}},
    },
}


# Sections whose keys depend on the engine: the profile's values there configure this engine only (the default
# one). A stack that picks another engine gets none of them (that variant has no such keys).
ENGINE_SECTIONS: dict[str, str] = {"featureStore": "feast", "modelRegistry": "mlflow"}


def _profile_applies(section: str, raw: dict[str, Any]) -> bool:
    """A section the stack turned off explicitly (`null`) stays off; an engine section needs its engine."""
    mine = raw.get(section, ...)
    if mine is None:
        return False
    engine = ENGINE_SECTIONS.get(section)
    return engine is None or not isinstance(mine, dict) or mine.get("engine", engine) == engine


def _merge_under(profile: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge: `user` wins; nested mappings merge; lists and scalars replace."""
    out = copy.deepcopy(profile)
    for key, value in user.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge_under(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_profile(raw: dict[str, Any]) -> dict[str, Any]:
    """Return the raw config with its environment's profile layered beneath it (unknown env: unchanged)."""
    env = raw.get("environment")
    profile = PROFILES.get(env) if isinstance(env, str) else None
    if profile is None:
        return raw
    return _merge_under({k: v for k, v in profile.items() if _profile_applies(k, raw)}, raw)


def profile_value(env: str, path: tuple[str, ...]) -> Any:
    """The profile's value at a camelCase path, or `...` when the profile does not set it (used by docs)."""
    node: Any = PROFILES[env]
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return ...
        node = node[part]
    return node
