"""The CDK app of controlroom: one stack per environment, configured from cdk.json context."""
