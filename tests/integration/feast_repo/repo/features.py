"""The sample feature repo the integration test applies: the two views the stacks name in
`featureStore.online.featureViews` (driver_hourly_stats, user_embeddings). Parquet sources live under the bucket's
`offline/` prefix, the only prefix the planned materializer role may read. The test sets FEAST_IT_BUCKET, and
FEAST_S3_ENDPOINT_URL to its moto server (stored as the sources' `s3_endpoint_override`)."""

import os
from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Array, Float32, Int64

BUCKET = os.environ["FEAST_IT_BUCKET"]
ENDPOINT = os.environ.get("FEAST_S3_ENDPOINT_URL")

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.STRING)

driver_hourly_stats = FeatureView(
    name="driver_hourly_stats",
    entities=[driver],
    ttl=timedelta(days=1),
    schema=[Field(name="conv_rate", dtype=Float32), Field(name="avg_daily_trips", dtype=Int64)],
    source=FileSource(path=f"s3://{BUCKET}/offline/driver_hourly_stats.parquet", timestamp_field="event_timestamp",
                      s3_endpoint_override=ENDPOINT),
)

user_embeddings = FeatureView(
    name="user_embeddings",
    entities=[user],
    ttl=timedelta(days=1),
    schema=[Field(name="embedding", dtype=Array(Float32))],
    source=FileSource(path=f"s3://{BUCKET}/offline/user_embeddings.parquet", timestamp_field="event_timestamp",
                      s3_endpoint_override=ENDPOINT),
)
