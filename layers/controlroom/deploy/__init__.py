"""The deployment flow's logic: preflight, policy, approval, traffic shifts, the SLO guard and the close."""
