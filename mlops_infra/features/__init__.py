"""Feature store concern: Feast (offline S3/Athena, online DynamoDB or Redis, SQL registry, feature server,
materialization) or SageMaker Feature Store, with the pure Feast config renderer."""
