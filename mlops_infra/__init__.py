"""mlops-infra: typed Pulumi components for an MLOps platform on AWS + EKS.

Importing the package is cheap; subpackages import Pulumi and the providers only when used.
"""

__version__ = "0.1.0"
