"""mlops-infra: typed Pulumi components for an MLOps platform on AWS + EKS.

Importing the package is cheap; subpackages import Pulumi and the providers only when used.
"""

__version__ = "0.1.0"

from .moved_modules import install as _install_moved_modules

_install_moved_modules()  # an old module path (issue 29 moves) fails naming its new home
