"""Monthly cost estimate of a planned stack: a committed price table, stated assumptions, pure functions.

No Pulumi import here: the CLI (`mlops-infra cost`) and the cost policy pack both use it.
"""

from .assumptions import Assumptions
from .estimate import estimate, estimate_records
from .model import Estimate, Item, Line, items_from_inventory, items_from_records
from .prices import Price, PriceTable, load_prices

__all__ = ["Assumptions", "Estimate", "Item", "Line", "Price", "PriceTable", "estimate", "estimate_records",
           "items_from_inventory", "items_from_records", "load_prices"]
