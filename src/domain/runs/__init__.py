"""The worker agent's pure parts: the run plan of a job, the run's state, the host."""
