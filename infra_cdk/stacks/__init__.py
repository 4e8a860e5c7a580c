"""The controlroom stack (one per environment)."""

from infra_cdk.stacks.controlroom_stack import ControlroomStack

__all__ = ["ControlroomStack"]
