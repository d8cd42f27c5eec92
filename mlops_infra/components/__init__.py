"""Typed Pulumi components, one small file each. Type tokens read `mlops:<module>:<Type>`."""
