"""mlops-infra: typed Pulumi components for an MLOps platform on AWS + EKS.

Importing the package is cheap; subpackages import Pulumi and the providers only when used.
"""

# PEP 440. Between releases a `.devN` of the next version: CHANGELOG.md's top section is then [Unreleased]
# (tests/test_cli.py holds the two together); a release sets the version and renames that section.
__version__ = "0.2.0.dev0"

from .moved_modules import install as _install_moved_modules

_install_moved_modules()  # an old module path (issue 29 moves) fails naming its new home
