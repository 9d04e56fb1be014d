"""`jobcloud worker`: the agent that pulls jobs, runs them and reports."""
