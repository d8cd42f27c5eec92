"""Shared building blocks every component uses, so none of them reinvents these."""
