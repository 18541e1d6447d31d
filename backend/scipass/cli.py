"""The ``scipass`` command."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import BaseModel, ValidationError

from scipass.core.config import ConfigurationError, Environment, Settings, get_settings

if TYPE_CHECKING:
    from sqlmodel import Session

    from scipass.core.auth import Principal

cli = typer.Typer(
    help="SciPass (科学实践护照) backend: serve, migrate, load demo data, write the API contract.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)

DEFAULT_OPENAPI_PATH = Path("openapi/openapi.json")
DEMO_ACCOUNTS_PATH = Path("var/demo-accounts.json")


def _settings() -> Settings:
    try:
        return get_settings()
    except ConfigurationError as exc:
        typer.echo(f"scipass: {exc}", err=True)
        raise typer.Exit(2) from None


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="Server processes (uvicorn workers); more than one needs PostgreSQL"
        ),
    ] = 1,
) -> None:
    """Serve the API (``/docs`` for the interactive documentation). Unless
    ``SCIPASS_JOBS_ENABLED=false``, also start one ``scipass worker`` as a child process: the
    scheduled jobs (archiving records whose public notice has closed, ...) and the queued
    jobs (bulk exports) run there, never in the API processes."""
    import os
    import subprocess

    import uvicorn

    from scipass.core import logs

    os.environ.setdefault("SCIPASS_JOBS_ENABLED", "true")
    get_settings.cache_clear()
    settings = _settings()
    try:
        settings.check(workers=workers)
        if settings.metrics_enabled:
            _metrics_directory(settings)
    except ConfigurationError as exc:
        typer.echo(f"scipass: {exc}", err=True)
        raise typer.Exit(2) from None
    child = None
    if settings.jobs_enabled:
        # uvicorn ends its process by re-raising the signal that stopped it, so the worker is
        # also told by the kernel (Linux) and watches its parent (elsewhere).
        child = subprocess.Popen(  # noqa: S603 - this interpreter, our own arguments
            [sys.executable, "-m", "scipass", "worker", "--parent", str(os.getpid())],
            preexec_fn=_die_with_parent,
        )
    try:
        uvicorn.run(
            "scipass.main:app",
            host=host,
            port=port,
            workers=workers,
            log_config=logs.config(settings),  # configured here, in each worker too
            access_log=False,  # ours (scipass.access) names the route and the request id
            proxy_headers=True,
            timeout_keep_alive=settings.keepalive_seconds,
        )
    finally:
        if child is not None:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()


# The files prometheus_client's multiprocess mode writes: <type>_<pid>.db, a gauge's type
# naming its mode (gauge_livesum_123.db). Nothing else in the directory is ours to delete.
_METRICS_FILE = re.compile(r"(counter|histogram|summary|gauge_[a-z]+)_\d+\.db")


def metrics_directory_problem(settings: Settings) -> str | None:
    """Why ``SCIPASS_METRICS_DIR`` must not be used, or None: it is emptied of metric files at
    each start and every ``*.db`` in it is read as one, so it must not hold the SQLite
    database nor be the directory of uploads or job results."""
    from sqlalchemy.engine import make_url

    path = settings.metrics_dir.resolve()
    if settings.is_sqlite:
        database = make_url(settings.database_url).database
        if database and database != ":memory:" and Path(database).resolve().parent == path:
            return (
                f"SCIPASS_METRICS_DIR {settings.metrics_dir} holds the SQLite database: "
                "choose a directory of its own (e.g. var/metrics)"
            )
    for name, other in (
        ("SCIPASS_UPLOAD_DIR", settings.upload_dir),
        ("SCIPASS_JOB_RESULTS_DIR", settings.job_results_dir),
    ):
        if other.resolve() == path:
            return (
                f"SCIPASS_METRICS_DIR {settings.metrics_dir} is {name}: "
                "choose a directory of its own (e.g. var/metrics)"
            )
    return None


def _metrics_directory(settings: Settings) -> None:
    """Metrics of every process of this ``serve`` (uvicorn's workers and the job worker) in
    one directory (prometheus_client's multiprocess mode, scipass.core.metrics):
    ``SCIPASS_METRICS_DIR``, emptied of an earlier run's metric files (only those). Named in
    PROMETHEUS_MULTIPROC_DIR before any process imports prometheus_client, which reads it at
    import; the processes started from here inherit it."""
    import os

    problem = metrics_directory_problem(settings)
    if problem is not None:
        raise ConfigurationError(f"refusing to start: {problem}")
    path = settings.metrics_dir.resolve()
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        if _METRICS_FILE.fullmatch(stale.name):
            stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)


def _die_with_parent() -> None:
    """In the worker child, before it runs: SIGTERM when its parent ends (Linux)."""
    import ctypes
    import signal
    from contextlib import suppress

    with suppress(OSError, AttributeError):  # not Linux: the worker watches its parent instead
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@cli.command()
def worker(
    parent: Annotated[
        int | None, typer.Option(help="Stop when this process (the server) has ended")
    ] = None,
) -> None:
    """Run the worker: the scheduled jobs, each once per interval across every worker on
    every host, and the queued jobs (bulk exports), until stopped (SIGTERM)."""
    from scipass.core import logs
    from scipass.jobs import worker as job_worker

    settings = _settings()
    logs.configure(settings)
    job_worker.run(settings, parent=parent)
    # The interpreter's last collections over everything the app imported cost ~0.9 s of CPU
    # at exit (0.03 s frozen), several seconds on a loaded machine: the worker lingered that
    # long after its server (tests/jobs/test_serve_starts_a_worker.py).
    import gc

    gc.freeze()


@cli.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
) -> None:
    """Migrate the database to the newest schema (or to REVISION)."""
    from scipass.core import migrations

    settings = _settings()
    migrations.upgrade(settings.database_url, revision)
    typer.echo(f"database migrated to {revision}")


@cli.command()
def demo() -> None:
    """Load demo data into an empty database; a database with data is left alone."""
    import scipass.models  # noqa: F401  # every table, so keys between packages resolve
    from scipass.core.db import Database
    from scipass.demo import loader
    from scipass.main import register_consent_effects

    register_consent_effects()  # the demo records consents (and withdraws some)
    settings = _settings()
    if settings.env is Environment.prod:
        typer.echo(
            "scipass: demo data is not loaded in prod (it has published passwords)", err=True
        )
        raise typer.Exit(2)
    db = Database.from_settings(settings)
    try:
        with db.transaction() as session:
            summary = loader.load(session)
    finally:
        db.dispose()
    if summary is None:
        typer.echo("demo data already present: nothing loaded")
        return
    accounts = summary.pop("accounts")
    checkin_codes = summary.pop("checkin_codes")
    DEMO_ACCOUNTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    DEMO_ACCOUNTS_PATH.write_text(
        json.dumps(
            {"accounts": accounts, "checkin_codes": checkin_codes}, ensure_ascii=False, indent=2
        )
        + "\n",
        encoding="utf-8",
    )
    typer.echo("demo data loaded: " + ", ".join(f"{v} {k}" for k, v in summary.items()))
    typer.echo(f"demo logins written to {DEMO_ACCOUNTS_PATH}")
    typer.echo(
        "staff console: /console/login (e.g. xtkjg-admin, heping-admin, xt-bureau; "
        f"password {loader.data.DEMO_PASSWORD})"
    )


def _run_job(name: str, *, until_done: bool = False) -> int:
    """Run a job in a transaction; with ``until_done``, again in a new one while it does
    something (a job that works in portions). Returns the total it did."""
    from scipass.core.clock import SystemClock
    from scipass.core.db import Database
    from scipass.main import scheduled_jobs

    settings = _settings()
    jobs = scheduled_jobs()
    db = Database.from_settings(settings)
    total = 0
    try:
        while True:
            with db.transaction() as session:
                done = jobs.run(name, session, SystemClock().now(), settings)
            total += done
            if not (until_done and done):
                return total
    finally:
        db.dispose()


@cli.command("archive-records")
def archive_records() -> None:
    """Archive the participation records whose public notice (公示) closed with no open
    objection (`serve` also does this periodically)."""
    typer.echo(f"{_run_job('archive-records')} records archived")


@cli.command("close-visits")
def close_visits() -> None:
    """Close the visits left open after their activity (or their day) ended, marked
    auto_closed (`serve` also does this at start-up and periodically)."""
    typer.echo(f"{_run_job('close-visits')} visits closed")


@cli.command("purge-telemetry")
def purge_telemetry() -> None:
    """Erase what is kept past its retention period: scan locations and distances
    (SCIPASS_TELEMETRY_RETENTION_DAYS), client addresses in the audit log
    (SCIPASS_CLIENT_ADDRESS_RETENTION_DAYS) and rate-limit counters
    (SCIPASS_RATE_LIMIT_RETENTION_HOURS); `serve` also does this periodically."""
    typer.echo(f"{_run_job('purge-telemetry')} rows erased")


@cli.command("carry-out-deletions")
def carry_out_deletions() -> None:
    """Carry out the open deletion requests (README, "Children's data"), and delete the WeChat
    users who never bound past SCIPASS_UNBOUND_WECHAT_RETENTION_DAYS; `serve` also does this
    periodically."""
    done = _run_job("carry-out-deletions")
    users = _run_job("delete-unbound-wechat-users")
    typer.echo(
        f"{done} rows deleted or changed for deletion requests, {users} unbound users deleted"
    )


@cli.command("clean-evidence")
def clean_evidence() -> None:
    """Clean the evidence files stored before uploads were cleaned: images re-encoded without
    their metadata (EXIF, GPS), PDFs with scripts, attachments or launch actions quarantined
    (`serve` also does this, a little at a time). Runs until nothing is left."""
    done = _run_job("clean-evidence", until_done=True)
    typer.echo(f"{done} evidence files cleaned or quarantined")


@cli.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Option(help="Login name")] = "admin",
    display_name: Annotated[str, typer.Option(help="Name shown in the console")] = "平台管理员",
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="SCIPASS_ADMIN_PASSWORD",
            help="Password (prompted; or SCIPASS_ADMIN_PASSWORD)",
        ),
    ] = "",
) -> None:
    """Create a platform administrator account."""
    from scipass.account import service as account_service
    from scipass.core.auth import Role
    from scipass.core.clock import SystemClock
    from scipass.core.db import Database
    from scipass.core.errors import ProblemError

    settings = _settings()
    db = Database.from_settings(settings)
    try:
        with db.transaction() as session:
            account, _ = account_service.create_account(
                session,
                actor=None,
                username=username,
                display_name=display_name,
                role=Role.platform_admin,
                org_id=None,
                password=password,
                now=SystemClock().now(),
            )
            account_id = account.id
    except ProblemError as exc:
        typer.echo(f"scipass: {exc.detail_zh or exc.title_zh}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    typer.echo(f"platform admin '{username}' created (id {account_id})")


def _as_platform(action: Callable[[Session, Principal, datetime], str]) -> None:
    """Run one organisation use case as the platform operator, in its own transaction."""
    from scipass.core.auth import Principal, Role
    from scipass.core.clock import SystemClock
    from scipass.core.db import Database
    from scipass.core.errors import ProblemError

    settings = _settings()
    db = Database.from_settings(settings)
    operator = Principal(subject="cli", role=Role.platform_admin)
    try:
        with db.transaction() as session:
            message = action(session, operator, SystemClock().now())
    except ProblemError as exc:
        typer.echo(f"scipass: {exc.detail_zh or exc.title_zh} ({exc.code})", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    typer.echo(message)


@cli.command("create-region")
def create_region(
    code: Annotated[str, typer.Argument(help="GB/T 2260 code, 6 digits")],
    name: Annotated[str, typer.Argument(help="Name, e.g. 湘乡市")],
    level: Annotated[str, typer.Option(help="province, city or county")] = "county",
    parent: Annotated[str | None, typer.Option(help="Parent region code")] = None,
) -> None:
    """Add an administrative region."""
    from scipass.org import service as org_service
    from scipass.org.schemas import RegionCreate

    data = _validated(RegionCreate, code=code, name=name, level=level, parent_code=parent)
    _as_platform(
        lambda s, op, now: (
            f"region {org_service.create_region(s, data=data, actor=op, now=now).code} created"
        )
    )


@cli.command("create-bureau")
def create_bureau(
    name: Annotated[str, typer.Argument(help="Name, e.g. 湘乡市教育局")],
    region: Annotated[str, typer.Option(help="Region code the bureau oversees")],
) -> None:
    """Add an education bureau (or science association) for a region."""
    from scipass.org import service as org_service
    from scipass.org.schemas import BureauCreate

    data = _validated(BureauCreate, name=name, region_code=region)
    _as_platform(
        lambda s, op, now: (
            f"bureau id {org_service.create_bureau(s, data=data, actor=op, now=now).id} created"
        )
    )


@cli.command("create-school")
def create_school(
    name: Annotated[str, typer.Argument(help="School name")],
    region: Annotated[str, typer.Option(help="Region code")],
    stages: Annotated[str, typer.Option(help="Comma list: primary,junior,senior,vocational")],
    area: Annotated[str, typer.Option(help="urban or rural")] = "urban",
    address: Annotated[str, typer.Option(help="Address")] = "",
) -> None:
    """Add a school."""
    from scipass.org import service as org_service
    from scipass.org.schemas import SchoolCreate

    data = _validated(
        SchoolCreate,
        name=name,
        region_code=region,
        stages=stages.split(","),
        area=area,
        address=address,
    )
    _as_platform(
        lambda s, op, now: (
            f"school id {org_service.create_school(s, data=data, actor=op, now=now).id} created"
        )
    )


@cli.command("create-account")
def create_account(
    username: Annotated[str, typer.Argument(help="Login name")],
    role: Annotated[str, typer.Option(help="school_admin, venue_admin, bureau, ...")],
    org_id: Annotated[int | None, typer.Option(help="School, venue or bureau id")] = None,
    display_name: Annotated[str, typer.Option(help="Name shown in the console")] = "",
) -> None:
    """Create a staff account (e.g. the first admin of a school); prints its initial password."""
    from scipass.account import service as account_service
    from scipass.core.auth import Role

    try:
        chosen = Role(role)
    except ValueError:
        typer.echo(f"scipass: unknown role {role!r}", err=True)
        raise typer.Exit(2) from None

    def action(session: Session, _operator: Principal, now: datetime) -> str:
        account, initial = account_service.create_account(
            session,
            actor=None,
            username=username,
            display_name=display_name or username,
            role=chosen,
            org_id=org_id,
            now=now,
        )
        return f"account '{account.username}' ({role}) created; initial password: {initial}"

    _as_platform(action)


def _validated(model: type[BaseModel], **values: object) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        typer.echo(f"scipass: {'.'.join(map(str, first['loc']))}: {first['msg']}", err=True)
        raise typer.Exit(2) from None


def openapi_document() -> str:
    from scipass.main import create_app

    app = create_app(Settings(docs_enabled=True))
    return json.dumps(app.openapi(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


@cli.command()
def openapi(
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if the file is stale")] = False,
    output: Annotated[Path, typer.Option(help="Where the document lives")] = DEFAULT_OPENAPI_PATH,
) -> None:
    """Write the OpenAPI document (the mini-program team's contract) to openapi/openapi.json."""
    document = openapi_document()
    if check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != document:
            typer.echo(f"{output} is stale: run `scipass openapi` and commit it", err=True)
            raise typer.Exit(1)
        typer.echo(f"{output} is up to date")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(document, encoding="utf-8")
    typer.echo(f"wrote {output}")


def main() -> None:
    from scipass.policy import packs as policy_packs
    from scipass.policy.loader import PackLoadError

    try:
        policy_packs.current()  # a malformed pack stops every command, naming what is wrong
        cli()
    except ConfigurationError as exc:
        print(f"scipass: {exc}", file=sys.stderr)
        sys.exit(2)
    except PackLoadError as exc:
        print(f"scipass: {exc}", file=sys.stderr)
        sys.exit(2)
