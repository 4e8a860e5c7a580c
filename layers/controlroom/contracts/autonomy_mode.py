"""The autonomy modes (every agent's settings read them; most agents build no policy decision)."""

from enum import StrEnum


class AutonomyMode(StrEnum):
    SHADOW = "shadow"  # everything runs as a dry run
    ADVICE = "advice"  # nothing runs; the plan goes to a human as advice
    SUPERVISED = "supervised"  # low risk runs, the rest needs approval
    GATED = "gated"  # every change needs approval
