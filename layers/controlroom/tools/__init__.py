"""AWS adapters the agents call: read-only evidence tools and the narrow action adapters."""
