"""Wiring of `jobcloud worker`: settings -> host, token, API client, runtime -> the agent."""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal

from adapters.host import describe_host
from adapters.http.tokens import CognitoToken, FileToken, LocalIssuerToken, StaticToken
from adapters.http.worker_api import WorkerApiClient
from adapters.runtimes.container import ContainerRuntime
from adapters.runtimes.native import NativeRuntime
from domain.runs.host import HostDescription
from domain.runs.ports import Runtime, TokenSource
from entrypoints.agent.display import make_display
from entrypoints.agent.job import JobRunner, RunnerConfig
from entrypoints.agent.loop import Agent
from entrypoints.agent.settings import AgentSettings
from entrypoints.settings import SettingsError

log = logging.getLogger("jobcloud.worker")


def token_source(s: AgentSettings) -> TokenSource:
    if s.token:
        return StaticToken(s.token)
    if s.token_file:
        if not s.token_file.is_file():
            raise SettingsError(f"--token-file (JOBCLOUD_TOKEN_FILE): no file {s.token_file}")
        return FileToken(s.token_file)
    if s.password and s.username:
        return CognitoToken(s.api_url, s.username, s.password)
    assert s.data_dir is not None
    return LocalIssuerToken(s.data_dir, s.worker_name)


def make_runtime(s: AgentSettings) -> Runtime:
    if s.runtime == "native":
        return NativeRuntime()
    binary = shutil.which(s.runtime)
    if binary is None:
        raise SettingsError(f"--runtime (JOBCLOUD_RUNTIME): {s.runtime!r} is not installed")
    host_paths = (s.work_dir, s.host_work_dir) if s.host_work_dir else None
    return ContainerRuntime(
        binary, extra_args=s.container_args, network=s.network, host_paths=host_paths
    )


def host_description(s: AgentSettings) -> HostDescription:
    host = describe_host().override(s.cpu_cores, s.memory)
    gpus = ", ".join(f"{g.model} ({g.memory_mib} MiB, {g.archi})" for g in host.gpus)
    log.info(
        "host: %d CPU cores, %d MiB; GPUs: %s", host.cpu_cores, host.memory_mib, gpus or "none"
    )
    return host


async def run_agent(s: AgentSettings) -> int:
    host = host_description(s)
    runtime = make_runtime(s)
    api = WorkerApiClient(s.api_url, token_source(s), transfer_attempts=s.transfer_attempts)
    display = make_display()
    config = RunnerConfig(
        work_dir=s.work_dir,
        keepalive_interval=s.keepalive_interval,
        run_timeout=s.run_timeout,
        kill_grace=s.kill_grace,
        report_patience=s.report_patience,
        worker_name=_safe_name(s.worker_name),
    )
    s.work_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(runtime, ContainerRuntime):  # containers of an agent that was killed
        await runtime.remove_orphans(config.container_prefix)
    agent = Agent(s, api, JobRunner(api, runtime, config, display), host, display)
    loop = asyncio.get_running_loop()
    signals = {"count": 0}

    def on_signal(name: str) -> None:
        signals["count"] += 1
        agent.request_stop(f"{name}")
        if signals["count"] > 1:  # a second signal: no more waiting
            agent.drain_now()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig.name)
    log.info("jobcloud worker: %s, runtime %s, %d slot(s)", s.api_url, s.runtime, s.slots)
    try:
        await agent.run()
    finally:
        display.close()
        await api.aclose()
    log.info("jobcloud worker: stopped after %d job(s)", agent.jobs_done)
    return 0


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:40] or "worker"
