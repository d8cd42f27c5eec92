"""Offline plan engine: any Pulumi Python program under the mock engine, as an inventory."""

from .engine import PlanError, plan_program
from .inventory import SECRET, UNKNOWN, Inventory, ResourceRecord
from .program import PlanInputError

__all__ = ["SECRET", "UNKNOWN", "Inventory", "PlanError", "PlanInputError", "ResourceRecord", "plan_program"]
