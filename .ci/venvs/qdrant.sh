# Qdrant's Python client at the minor of the server the chart pins (mlops_infra/data/qdrant_config.py: chart 1.19.0 =
# Qdrant v1.19.0; qdrant-client supports servers within one minor), boto3 as in the snapshot job's image
# (tests/integration/test_qdrant.py runs the job's own code), and langchain-qdrant for the LangChain recipe
# (examples/recipes/langchain, tests/integration/test_recipes.py): it needs only langchain-core and qdrant-client.
[ -x .venv-qdrant/bin/python ] || python3 -m venv .venv-qdrant
.venv-qdrant/bin/python -m pip install --quiet "qdrant-client==1.19.*" boto3 "langchain-qdrant==1.1.0"
