"""Constructs of the controlroom stack, one module per concern."""
