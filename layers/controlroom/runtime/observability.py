"""Powertools Logger, Metrics (EMF) and Tracer shared by every agent."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="controlroom")
metrics = Metrics(namespace="Controlroom", service="controlroom")
tracer = Tracer(service="controlroom")
