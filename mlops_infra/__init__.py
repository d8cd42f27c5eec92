"""mlops-infra: typed Pulumi components for an MLOps platform on AWS + EKS.

Importing the package is cheap; subpackages import Pulumi and the providers only when used.
"""

__version__ = "0.2.0.dev0"
"""PEP 440. Between releases a `.devN` of the next version: CHANGELOG.md's top section is then [Unreleased]
(tests/test_cli.py holds the two together); a release sets the version and renames that section."""
