"""`jobcloud serve | scheduler | token | porch-token | worker | db upgrade`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TypeAlias

from entrypoints.bootstrap import prepare
from entrypoints.logs import quiet_libraries
from entrypoints.serve import ServeOptions, check_port, fresh_metrics_folder, safe_url, serve
from entrypoints.settings import DEFAULT_DATA_DIR, Settings, SettingsError, load_settings

DEFAULT_TOKEN_TTL = 7 * 24 * 3600


def _version() -> str:
    try:
        return metadata.version("jobcloud")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _data_dir_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        help=f"data folder of the embedded default (default: JOBCLOUD_DATA_DIR,"
        f" else {DEFAULT_DATA_DIR})",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jobcloud", description=__doc__)
    parser.add_argument("--version", action="version", version=f"jobcloud {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    _serve_parser(commands)
    scheduler = commands.add_parser("scheduler", help="run lease sweeping and status delivery")
    scheduler.add_argument(
        "--metrics-port",
        type=int,
        help="serve Prometheus metrics (its loops' lag, forwarding) on this port at /metrics"
        " (default: JOBCLOUD_SCHEDULER_METRICS_PORT, else none)",
    )
    scheduler.add_argument(
        "--metrics-host", default="127.0.0.1", help="their address (default: %(default)s)"
    )
    _data_dir_option(scheduler)
    _token_parsers(commands)

    from entrypoints.agent.options import add_options

    worker = commands.add_parser(
        "worker", help="run jobs of a worker API (this one or DECODE's) on this machine"
    )
    add_options(worker)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    _data_dir_option(db_commands.add_parser("upgrade", help="apply the migrations"))
    return parser


def _serve_parser(commands: Commands) -> None:
    serve = commands.add_parser("serve", help="run the API (and the scheduler, in-process)")
    serve.add_argument("--host", default="127.0.0.1", help="address (default: %(default)s)")
    serve.add_argument(
        "--port", type=int, default=8001, help="the worker API's port (default: %(default)s)"
    )
    serve.add_argument(
        "--user-port", type=int, default=8000, help="the user API's port (default: %(default)s)"
    )
    serve.add_argument(
        "--api",
        choices=("both", "worker", "user"),
        help="which API to serve (default: both, the user API in a second process; only the"
        " worker API when USERFACING_API_URL names a user API elsewhere)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes, PostgreSQL only (default: %(default)s)",
    )
    serve.add_argument(
        "--no-scheduler",
        action="store_true",
        help="run `jobcloud scheduler` apart (default: in-process unless JOBCLOUD_SCHEDULER=0)",
    )
    _data_dir_option(serve)


def _token_parsers(commands: Commands) -> None:
    token = commands.add_parser("token", help="mint a token of the local issuer")
    token.add_argument("--username", required=True, help="the worker's name (required)")
    token.add_argument(
        "--group",
        action="append",
        default=[],
        help="repeatable: workers, cloud (default: none; a worker needs workers)",
    )
    token.add_argument(
        "--ttl", type=int, default=DEFAULT_TOKEN_TTL, help="seconds (default: %(default)s)"
    )
    _data_dir_option(token)

    porch = commands.add_parser(
        "porch-token",
        help="print a new admin token of the porch API (npg_porch_cli), in the user API's"
        " database (DATABASE_URL, else QUEUE_DB_URL)",
    )
    porch.add_argument(
        "--description", default="admin", help="kept with the token (default: %(default)s)"
    )
    porch.add_argument(
        "--revoke",
        action="store_true",
        help="revoke the admin tokens of that description (default: mint one)",
    )
    _data_dir_option(porch)


def _settings(data_dir: str | None) -> tuple[Settings, bool]:
    """The settings, secrets resolved; and whether the internal API key is the generated
    one in the data folder (no INTERNAL_API_KEY_SECRET)."""
    if data_dir:
        os.environ["JOBCLOUD_DATA_DIR"] = data_dir  # server worker processes read it too
    given = load_settings()
    return prepare(given), given.internal_api_key_secret is None


async def _upgrade(settings: Settings) -> None:
    """Migrate; a database that is unreachable, misnamed or refuses the role is a
    configuration error naming the variable its URL came from (QUEUE_DB_URL, or the user
    side's DATABASE_URL)."""
    from adapters.sql.engine import create_engine
    from adapters.sql.migrate import upgrade
    from adapters.sql.url import async_url
    from domain.errors import StoreUnavailable

    variable = settings.db_url_variable
    where = safe_url(settings.queue_db_url)
    try:
        url = async_url(settings.queue_db_url, settings.queue_db_secret)
    except ValueError as exc:
        raise SettingsError(f"{variable}: {exc}") from None
    engine = create_engine(url, pool_size=1, variable=variable)
    try:
        await upgrade(engine)
    except StoreUnavailable as exc:
        raise SettingsError(f"{variable}: cannot use the database {where}: {exc}") from None
    finally:
        await engine.dispose()


def _serve(args: argparse.Namespace) -> None:
    from entrypoints.serve_user import serve_user, user_api_process

    settings, key_from_file = _settings(args.data_dir)
    api = args.api or ("worker" if settings.userfacing_api_url else "both")
    fresh_metrics_folder()
    if api == "user":
        serve_user(settings, args.host, args.user_port, _upgrade)
        return
    workers = args.workers
    if workers < 1:
        raise SettingsError("--workers: expected a number >= 1")
    check_port(args.host, args.port)
    asyncio.run(_upgrade(settings))
    if args.no_scheduler:
        os.environ["JOBCLOUD_SCHEDULER"] = "0"
    if workers > 1 and settings.queue_db_url.startswith("sqlite"):
        print("note: SQLite serialises writers; serving with one process", file=sys.stderr)
        workers = 1
    scheduler = settings.scheduler and not args.no_scheduler
    options = ServeOptions(args.host, args.port, workers, scheduler, key_from_file)
    if api == "worker":
        serve(settings, options)
        return
    with user_api_process(settings, args.host, args.user_port):
        serve(settings, options)


def _scheduler(args: argparse.Namespace) -> None:
    from entrypoints.ioc import make_container
    from entrypoints.metrics import serve_metrics
    from entrypoints.scheduler import Scheduler

    settings, _ = _settings(args.data_dir)
    metrics_port = args.metrics_port or settings.scheduler_metrics_port
    if metrics_port is not None:
        serve_metrics(args.metrics_host, metrics_port)

    async def run() -> None:
        await _upgrade(settings)
        container = make_container(settings)
        scheduler = Scheduler(container, settings)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, scheduler.request_stop)
        print("jobcloud scheduler running", flush=True)
        try:
            await scheduler.run()
        finally:
            await container.close()

    asyncio.run(run())


def _token(args: argparse.Namespace) -> None:
    from adapters.auth.local import LocalIssuer

    data_dir = Path(args.data_dir or os.environ.get("JOBCLOUD_DATA_DIR") or DEFAULT_DATA_DIR)
    if args.ttl <= 0:
        raise SettingsError("--ttl: expected a number of seconds > 0")
    try:
        print(LocalIssuer(data_dir).mint(args.username, args.group, args.ttl))
    except ValueError as exc:
        raise SettingsError(f"token: {exc}") from None


def _porch_token(args: argparse.Namespace) -> None:
    from adapters.clock import SystemClock
    from adapters.sql.engine import create_engine
    from adapters.sql.porch import SqlPipelineStore
    from adapters.sql.url import async_url
    from domain.pipelines.pipelines_uc import MintAdminToken
    from entrypoints.http.user.app import own_database
    from entrypoints.http.user.settings import load_user_settings

    settings, _ = _settings(args.data_dir)
    # the porch API is the user API's: its database (DATABASE_URL, else the queue's)
    settings = prepare(own_database(settings, load_user_settings()))

    async def run() -> str:
        await _upgrade(settings)  # a database refusal: one line naming its variable
        url = async_url(settings.queue_db_url, settings.queue_db_secret)
        engine = create_engine(url, pool_size=1, variable=settings.db_url_variable)
        try:
            store = SqlPipelineStore(engine)
            if args.revoke:
                count = await store.revoke(None, args.description, SystemClock().now())
                return f"revoked {count} admin token(s) {args.description!r}"
            return await MintAdminToken(store, SystemClock())(args.description)
        finally:
            await engine.dispose()

    print(asyncio.run(run()))


def _worker(args: argparse.Namespace) -> None:
    from entrypoints.agent.main import run_agent
    from entrypoints.agent.settings import agent_settings

    settings = agent_settings(args)
    if settings.verbose:
        logging.getLogger().setLevel(logging.DEBUG)
    else:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    raise SystemExit(asyncio.run(run_agent(settings)))


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    quiet_libraries()
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            _serve(args)
        elif args.command == "scheduler":
            _scheduler(args)
        elif args.command == "token":
            _token(args)
        elif args.command == "porch-token":
            _porch_token(args)
        elif args.command == "worker":
            _worker(args)
        else:
            asyncio.run(_upgrade(_settings(args.data_dir)[0]))
            print("database is up to date")
    except SettingsError as exc:
        print(f"jobcloud: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
