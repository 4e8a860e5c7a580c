"""The agents: one module per agent, each a plain logic function plus its AgentSpec."""
