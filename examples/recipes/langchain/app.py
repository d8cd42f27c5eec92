"""LangChain recipe: retrieval over the platform's Qdrant, with embeddings from a model the platform serves.

Runs in a team namespace granted Qdrant access (`data.qdrant.clientNamespaces`, default every team). Everything it
needs comes from the platform:
- `QDRANT_URL`, `QDRANT_API_KEY`: the Secret `qdrant-credentials` External Secrets keeps in the namespace (stack
  output `qdrantCredentialsSecret`); the pod reads it whole with `envFrom: [{secretRef: {name: qdrant-credentials}}]`.
- `MODEL_ENDPOINT`: one value of the stack output `servingEndpoints` (model name -> the model's in-cluster URL,
  `http://<name>-predictor.<ns>.svc.cluster.local/v2/models/<name>`). The platform serves MLflow models with
  MLServer, which speaks the Open Inference (V2) protocol: `POST <MODEL_ENDPOINT>/infer`; the model here is an
  MLflow pyfunc that maps a string column to vectors.
- `COLLECTION`: the team's collection name.

Packages: langchain-qdrant (langchain-core, qdrant-client). Run: `python app.py "question"`.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from langchain_core.embeddings import Embeddings
from langchain_qdrant import QdrantVectorStore
from qdrant_client import QdrantClient, models

REQUIRED = ("QDRANT_URL", "QDRANT_API_KEY", "MODEL_ENDPOINT", "COLLECTION")


@dataclass(frozen=True)
class AppConfig:
    qdrant_url: str
    qdrant_api_key: str
    model_endpoint: str
    collection: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AppConfig:
        missing = [k for k in REQUIRED if not env.get(k)]
        if missing:
            raise ValueError(f"missing environment: {', '.join(missing)} (see the recipe's pod spec)")
        if not env["MODEL_ENDPOINT"].startswith(("http://", "https://")):
            raise ValueError(f"MODEL_ENDPOINT must be an http(s) URL (got {env['MODEL_ENDPOINT']!r})")
        return cls(env["QDRANT_URL"], env["QDRANT_API_KEY"], env["MODEL_ENDPOINT"].rstrip("/"), env["COLLECTION"])


class ServedEmbeddings(Embeddings):
    """Embeddings from a served model over the V2 inference protocol (one BYTES input `text`, FP32 output)."""

    def __init__(self, endpoint: str, timeout: float = 30) -> None:
        self.url, self.timeout = f"{endpoint}/infer", timeout

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        body = {"inputs": [{"name": "text", "shape": [len(texts)], "datatype": "BYTES", "data": texts}]}
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            output = json.loads(response.read())["outputs"][0]
        rows, width = output["shape"]
        flat = [float(v) for v in output["data"]]
        return [flat[i * width:(i + 1) * width] for i in range(rows)]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def client(config: AppConfig) -> QdrantClient:
    if config.qdrant_url == ":memory:":  # tests: qdrant-client's local mode
        return QdrantClient(location=":memory:")
    return QdrantClient(url=config.qdrant_url, api_key=config.qdrant_api_key)


def vector_store(config: AppConfig, qdrant: QdrantClient | None = None) -> QdrantVectorStore:
    """The team's collection as a LangChain vector store (created on first use by `index`)."""
    return QdrantVectorStore(client=qdrant or client(config), collection_name=config.collection,
                             embedding=ServedEmbeddings(config.model_endpoint),
                             validate_collection_config=False)


def index(config: AppConfig, texts: list[str], qdrant: QdrantClient | None = None) -> QdrantVectorStore:
    """Create the collection if needed (sized by the served model's output, cosine) and add `texts`."""
    embeddings = ServedEmbeddings(config.model_endpoint)
    qdrant = qdrant or client(config)
    if not qdrant.collection_exists(config.collection):
        size = len(embeddings.embed_query("size probe"))
        qdrant.create_collection(config.collection, vectors_config=models.VectorParams(
            size=size, distance=models.Distance.COSINE))
    store = QdrantVectorStore(client=qdrant, collection_name=config.collection, embedding=embeddings)
    store.add_texts(texts)
    return store


if __name__ == "__main__":
    cfg = AppConfig.from_env(os.environ)
    for doc in vector_store(cfg).similarity_search(sys.argv[1], k=3):
        print(doc.page_content)
