"""How a job's process runs: natively (a process group) or in a container (podman/docker)."""
