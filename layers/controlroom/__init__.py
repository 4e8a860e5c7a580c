"""controlroom: a control plane for specialised ops agents on AWS serverless."""

__version__ = "0.1.0"
