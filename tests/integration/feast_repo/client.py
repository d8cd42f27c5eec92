"""Run inside the Feast virtualenv by tests/integration/test_feast.py (not collected by pytest).

`data BUCKET`: write the sample parquet under s3://BUCKET/offline/ (the data the offline store holds).
`online YAML`: `FeatureStore.get_online_features` for the sample entities, printed as JSON.
`intrude YAML`: try to register a project in the registry; prints `refused <error>` or `written`.
`write YAML`: `FeatureStore.write_to_online_store` of one driver row; prints `refused <error>` or `written`.
"""

import io
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

DRIVERS = {1001: (0.25, 7), 1002: (0.75, 42)}
USERS = {"u-1": [0.5, -1.0, 2.0, 0.0], "u-2": [1.5, 1.0, -2.0, 3.25]}


def data(bucket: str) -> None:
    import boto3
    import pandas as pd

    stamp = datetime.now(timezone.utc) - timedelta(hours=1)
    frames = {
        "driver_hourly_stats": pd.DataFrame({
            "driver_id": list(DRIVERS), "conv_rate": [v[0] for v in DRIVERS.values()],
            "avg_daily_trips": [v[1] for v in DRIVERS.values()], "event_timestamp": [stamp] * len(DRIVERS)}),
        "user_embeddings": pd.DataFrame({
            "user_id": list(USERS), "embedding": list(USERS.values()), "event_timestamp": [stamp] * len(USERS)}),
    }
    frames["driver_hourly_stats"]["conv_rate"] = frames["driver_hourly_stats"]["conv_rate"].astype("float32")
    s3 = boto3.client("s3")
    for name, frame in frames.items():
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        s3.put_object(Bucket=bucket, Key=f"offline/{name}.parquet", Body=buf.getvalue())


def online(yaml_path: str) -> None:
    from feast import FeatureStore

    store = FeatureStore(repo_path="/tmp", fs_yaml_file=Path(yaml_path))
    drivers = store.get_online_features(
        features=["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"],
        entity_rows=[{"driver_id": d} for d in DRIVERS]).to_dict()
    users = store.get_online_features(
        features=["user_embeddings:embedding"], entity_rows=[{"user_id": u} for u in USERS]).to_dict()
    print(json.dumps({"drivers": drivers, "users": users}))


def intrude(yaml_path: str) -> None:
    from feast import FeatureStore, Project

    try:
        store = FeatureStore(repo_path="/tmp", fs_yaml_file=Path(yaml_path))
        store.registry.apply_project(Project(name="intruder"), commit=True)
    except Exception as e:  # any refusal: AccessDenied from S3, InsufficientPrivilege from Postgres
        print("refused", type(e).__name__)
        return
    print("written")


def write(yaml_path: str) -> None:
    import pandas as pd
    from feast import FeatureStore

    store = FeatureStore(repo_path="/tmp", fs_yaml_file=Path(yaml_path))
    frame = pd.DataFrame({"driver_id": [1003], "conv_rate": [0.5], "avg_daily_trips": [3],
                          "event_timestamp": [datetime.now(timezone.utc)]})
    frame["conv_rate"] = frame["conv_rate"].astype("float32")
    try:
        store.write_to_online_store("driver_hourly_stats", frame)
    except Exception as e:  # the Redis ACL's refusal: redis.exceptions.NoPermissionError
        print("refused", type(e).__name__, str(e)[:200])
        return
    print("written")


def registry(yaml_path: str) -> None:
    from feast import FeatureStore

    store = FeatureStore(repo_path="/tmp", fs_yaml_file=Path(yaml_path))
    print(json.dumps(sorted(v.name for v in store.list_feature_views(allow_cache=False))))


if __name__ == "__main__":
    {"data": data, "online": online, "intrude": intrude, "write": write, "registry": registry}[sys.argv[1]](sys.argv[2])
