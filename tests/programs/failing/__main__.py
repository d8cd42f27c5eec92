"""Rejects its input with a user-facing error, as a program with invalid config does."""

import pulumi

size = pulumi.Config("demo").require_int("size")
if size <= 0:
    raise pulumi.RunError(f"demo:size must be positive (got {size})")
