"""Data versioning (LakeFS, DVC remotes) and vector search (Qdrant)."""
