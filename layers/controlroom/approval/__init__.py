"""Human approval of a plan: signed links, the decision, the emails and pages approvers see."""
