"""`jobcloud serve | scheduler | token | porch-token | db upgrade`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from entrypoints.bootstrap import prepare
from entrypoints.settings import DEFAULT_DATA_DIR, Settings, SettingsError, load_settings

DEFAULT_TOKEN_TTL = 7 * 24 * 3600


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jobcloud", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def data_dir_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--data-dir",
            help=f"data folder of the embedded default (JOBCLOUD_DATA_DIR; {DEFAULT_DATA_DIR})",
        )

    serve = commands.add_parser("serve", help="run the API (and the scheduler, in-process)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8001)
    serve.add_argument("--workers", type=int, default=1, help="server processes (PostgreSQL)")
    serve.add_argument("--no-scheduler", action="store_true", help="run `jobcloud scheduler` apart")
    data_dir_option(serve)

    scheduler = commands.add_parser("scheduler", help="run lease sweeping and status delivery")
    data_dir_option(scheduler)

    token = commands.add_parser("token", help="mint a token of the local issuer")
    token.add_argument("--username", required=True)
    token.add_argument("--group", action="append", default=[], help="repeatable: workers, cloud")
    token.add_argument("--ttl", type=int, default=DEFAULT_TOKEN_TTL, help="seconds")
    data_dir_option(token)

    porch = commands.add_parser(
        "porch-token", help="print a new admin token of the porch API (npg_porch_cli)"
    )
    porch.add_argument("--description", default="admin", help="kept with the token")
    porch.add_argument(
        "--revoke", action="store_true", help="revoke the admin tokens of that description"
    )
    data_dir_option(porch)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    data_dir_option(db_commands.add_parser("upgrade", help="apply the migrations"))
    return parser


def _settings(data_dir: str | None) -> Settings:
    if data_dir:
        os.environ["JOBCLOUD_DATA_DIR"] = data_dir  # server worker processes read it too
    return prepare(load_settings())


async def _upgrade(settings: Settings) -> None:
    from adapters.sql.engine import create_engine
    from adapters.sql.migrate import upgrade
    from adapters.sql.url import async_url

    engine = create_engine(async_url(settings.queue_db_url, settings.queue_db_secret), pool_size=1)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def _serve(args: argparse.Namespace) -> None:
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces

    settings = _settings(args.data_dir)
    asyncio.run(_upgrade(settings))
    if args.no_scheduler:
        os.environ["JOBCLOUD_SCHEDULER"] = "0"
    workers = args.workers
    if workers > 1 and settings.queue_db_url.startswith("sqlite"):
        print("note: SQLite serialises writers; serving with one process", file=sys.stderr)
        workers = 1
    base = f"http://{args.host}:{args.port}"
    print(f"jobcloud listening on {base}  (API docs: {base}/schema)", flush=True)
    print(f"  queue: {_safe_url(settings.queue_db_url)}; files: {_files(settings)}", flush=True)
    if settings.auth_mode == "local":
        data_dir = settings.data_dir
        command = "uv run jobcloud" if "UV" in os.environ else "jobcloud"  # uv run sets UV
        print(
            f"  worker token: {command} token --username NAME --group workers"
            f" --data-dir {data_dir}",
            flush=True,
        )
        print(f"  internal API key (x-api-key): in {data_dir / 'internal-api-key'}", flush=True)
    Granian(
        "entrypoints.http.asgi:create_app",
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,  # workers speak HTTP/1.1; no protocol sniffing per connection
        websockets=False,
        workers=workers,
        factory=True,
        log_access=False,
    ).serve()


def _safe_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{creds.split(':')[0]}:***@{host}" if at else url


def _files(settings: Settings) -> str:
    if settings.filesystem == "s3":
        return f"s3://{settings.s3_bucket}"
    return str(settings.user_data_root_path)


def _scheduler(args: argparse.Namespace) -> None:
    from entrypoints.ioc import make_container
    from entrypoints.scheduler import Scheduler

    settings = _settings(args.data_dir)

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
    from adapters.sql.migrate import upgrade
    from adapters.sql.porch import SqlPipelineStore
    from adapters.sql.url import async_url
    from domain.pipelines.pipelines_uc import MintAdminToken

    settings = _settings(args.data_dir)

    async def run() -> str:
        url = async_url(settings.queue_db_url, settings.queue_db_secret)
        engine = create_engine(url, pool_size=1)
        try:
            await upgrade(engine)
            store = SqlPipelineStore(engine)
            if args.revoke:
                count = await store.revoke(None, args.description, SystemClock().now())
                return f"revoked {count} admin token(s) {args.description!r}"
            return await MintAdminToken(store, SystemClock())(args.description)
        finally:
            await engine.dispose()

    print(asyncio.run(run()))


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
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
        else:
            asyncio.run(_upgrade(_settings(args.data_dir)))
            print("database is up to date")
    except SettingsError as exc:
        print(f"jobcloud: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
