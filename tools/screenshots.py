"""Pictures of the Web UI for the documents: `python -m tools.screenshots` (`make screenshots`).

Starts the stack as `make run` does (`python -m scripts.devstack`), on a data dir of its own
that is removed afterwards, so that the pictures show the demo's dossiers and nothing else;
submits the demo (`python -m scripts.demo`); then Playwright drives Debian's headless Chromium
through the Web UI, as an operator would, and saves into docs/screenshots/:

- `workflows.png`: the open dossiers, with the dossier search attributes as columns;
- `dossier-details.png`: a visa dossier waiting on a statutory delay, its current details;
- `dossier-history.png`: the same dossier, its decoded input and its history (named timers,
  the events it received);
- `schedules.png`: the four schedules.

Needs Chromium (`apt-get install chromium`; CHROMIUM names another binary) and the Python
package `playwright` (`pip install playwright`; its own browser download is never used).
The ports of `make run` must be free: stop it first. Everything started here is stopped,
also on an error or Ctrl-C. The worker's environment applies as under `make run`, e.g.
`OPERATOR_LANGUAGE=en` for pictures in English; the register is always the embedded one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.cai import CaiStage
from models.family import FamilyStage
from models.visa import CLOSED_STAGES
from scripts.devstack import (
    CODEC_ADDRESS,
    STATE_FILE,
    TEMPORAL_PORT,
    UI_PORT,
    DevStack,
    log_tail,
)
from scripts.ports import port_in_use
from scripts.schedules import SCHEDULES
from tools.stop_signals import STOP_SIGNALS, interrupt_on_stop_signals
from workers.client import connect
from workers.postgres import embedded_database_url, release_embedded_database
from workers.settings import Settings, SettingsError

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

OUT_DIR = Path("docs/screenshots")
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Pixels; device scale 1. The list and the history are wider, so that every column shows.
NARROW = (1440, 900)
WIDE = (1600, 900)
TALL = (1600, 1250)
# Chromium in a closed network: no first-run, sync, update or background connections.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The demo's dossiers go into the embedded register of the data dir, never into a register
# these variables would name.
OWN_REGISTER = frozenset({"DATABASE_URL", "MIGRATION_DATABASE_URL"})
READY_LINE = "The integration stack is up."
STACK_START_TIMEOUT = 180.0
STACK_STOP_TIMEOUT = 60.0
DEMO_TIMEOUT = 300.0
UI_TIMEOUT_MS = 30_000
POLL_SECONDS = 0.5
QUIET_READINGS = 5  # the same counts over two seconds: the demo's dossiers have settled
LARGEST_PNG = 400_000  # bytes; larger pictures are re-encoded with a palette

OPEN_DOSSIERS = 'ExecutionStatus = "Running" AND DossierStage IS NOT NULL'
"""The list of the first picture: every open dossier (docs/operators.md, "The Web UI")."""
CLOSED_STAGE_NAMES = sorted(
    {str(stage) for stage in CLOSED_STAGES}
    | {str(CaiStage.CLOSED), str(CaiStage.TERMINATED), str(FamilyStage.CLOSED)}
)
OPEN_STAGES = "DossierStage NOT IN ({})".format(
    ", ".join(f'"{stage}"' for stage in CLOSED_STAGE_NAMES)
)
"""The dossiers at a stage still open, whether or not their run has ended yet."""
DOSSIER_QUERY = (
    'WorkflowType = "VisaApplication" AND DossierStage = "in_training" '
    'AND ExecutionStatus = "Running"'
)
"""The dossier of the second and third pictures: in training, so its history shows its
evaluations, the prescription, the start, and the B8 timer it waits on."""
COLUMNS = [
    "Workflow ID",
    "DossierProcedure",
    "DossierStage",
    "NextDeadline",
    "Overdue",
    "Consulate",
    "CountryOfResidence",
    "UndeliveredNotifications",
]
"""The list's columns: what the UI's column settings would hold after an operator added the
dossier search attributes (Status is left out: every row of the query is running)."""
HISTORY_CATEGORIES = "timer,update,local-activity"
"""The history's filter: the delays, the events received, the steps recorded."""


class ScreenshotError(RuntimeError):
    """The pictures could not be taken; the message says why and what to do."""


def say(message: str) -> None:
    print(f"screenshots: {message}", file=sys.stderr, flush=True)


# --- what is needed ------------------------------------------------------------------------


def chromium_path() -> str:
    """Debian's Chromium (or the binary CHROMIUM names)."""
    wanted = os.environ.get("CHROMIUM") or DEFAULT_CHROMIUM
    found = shutil.which(wanted)
    if found is None:
        raise ScreenshotError(
            f"no Chromium at {wanted}: install Debian's (`apt-get install chromium`), "
            "or name another binary with CHROMIUM=…"
        )
    return found


def check_playwright() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise ScreenshotError(
            "the Python package playwright is missing: `.venv/bin/pip install playwright` "
            "(Chromium comes from Debian: never `playwright install`)"
        ) from None


def check_ports() -> None:
    codec_port = int(CODEC_ADDRESS.rpartition(":")[2])
    busy = [port for port in (TEMPORAL_PORT, UI_PORT, codec_port) if port_in_use(port)]
    if busy:
        raise ScreenshotError(
            f"port(s) {', '.join(map(str, busy))} in use: the pictures are taken on a stack "
            "of their own, on the ports of `make run`; stop `make run` first"
        )


# --- the stack -----------------------------------------------------------------------------


@dataclass
class Stack:
    """`python -m scripts.devstack` on a data dir of its own."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path
    env: dict[str, str]

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)

    def wait_until_up(self, timeout: float = STACK_START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if READY_LINE in self.log_path.read_text(encoding="utf-8", errors="replace"):
                return
            code = self.process.poll()
            if code is not None:
                raise ScreenshotError(
                    f"the stack exited with code {code} while starting; its log ends:\n"
                    + self.log_tail()
                )
            if time.monotonic() > deadline:
                raise ScreenshotError(
                    f"the stack was not up within {timeout:.0f} s; its log ends:\n"
                    + self.log_tail()
                )
            time.sleep(0.25)

    def stop(self) -> None:
        """Ctrl-C, as in the terminal of `make run` (it stops its parts in order); if it is
        still there after STACK_STOP_TIMEOUT, SIGKILL, then stop what it left running."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STACK_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                say("the stack did not stop in time: killing it and what it started")
                self.process.kill()
                self.process.wait()
        state = self.data_dir / STATE_FILE
        if state.exists():  # killed, or crashed: its children run in sessions of their own
            settings = Settings.from_env(self.env)
            DevStack(settings=settings, state_path=state).clear_leftovers()
        postgres = self.data_dir / "postgres"
        if (postgres / "postmaster.pid").exists():
            # Join the embedded server and let go of it: being the last holder, it stops.
            with contextlib.suppress(Exception):
                embedded_database_url(self.data_dir)
                release_embedded_database(self.data_dir)


@contextlib.contextmanager
def running_stack() -> Iterator[Stack]:
    data_dir = Path(tempfile.mkdtemp(prefix="screenshots-"))
    env = {
        **{name: value for name, value in os.environ.items() if name not in OWN_REGISTER},
        "DATA_DIR": str(data_dir),
        "TEMPORAL_ADDRESS": f"localhost:{TEMPORAL_PORT}",
    }
    log_path = data_dir / "devstack.log"
    stack: Stack | None = None
    try:
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "scripts.devstack"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C here reaches it through stop(), in order
            )
        stack = Stack(process=process, data_dir=data_dir, log_path=log_path, env=env)
        stack.wait_until_up()
        yield stack
    finally:
        # A second Ctrl-C must not cut the stopping short and leave the stack running.
        previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in STOP_SIGNALS}
        try:
            if stack is not None:
                say("stopping the stack…")
                stack.stop()
            shutil.rmtree(data_dir, ignore_errors=True)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def run_demo(stack: Stack) -> None:
    say("submitting the demo's dossiers…")
    done = subprocess.run(
        [sys.executable, "-m", "scripts.demo"],
        env=stack.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise ScreenshotError(
            f"the demo failed (code {done.returncode}):\n{done.stdout}{done.stderr}"
        )


@dataclass(frozen=True)
class Found:
    namespace: str
    open_dossiers: int
    workflow_id: str
    run_id: str
    application_id: str


async def find_dossiers(settings: Settings, timeout: float = 60.0) -> Found:
    """The open dossiers and the dossier to show, once the list has settled: every dossier
    the demo closed has ended its run, and the counts held for QUIET_SECONDS."""
    client = await connect(settings)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    readings: list[tuple[int, int, int]] = []
    while True:
        reading = (
            (await client.count_workflows(OPEN_DOSSIERS)).count,
            (await client.count_workflows(OPEN_STAGES)).count,
            (await client.count_workflows(f"{OPEN_DOSSIERS} AND NOT ({OPEN_STAGES})")).count,
        )
        readings = [*readings[-QUIET_READINGS + 1 :], reading]
        running, still_open, closing = reading
        settled = len(readings) == QUIET_READINGS and len(set(readings)) == 1
        if settled and running == still_open > 0 and closing == 0:
            async for execution in client.list_workflows(DOSSIER_QUERY, limit=1):
                if execution.run_id is not None:
                    return Found(
                        namespace=settings.temporal_namespace,
                        open_dossiers=running,
                        workflow_id=execution.id,
                        run_id=execution.run_id,
                        application_id=execution.id.removeprefix("visa-"),
                    )
        if loop.time() > deadline:
            raise ScreenshotError(
                f"after the demo the dossiers did not settle: {running} running, {still_open} "
                f"at an open stage, {closing} closed but running; or {DOSSIER_QUERY!r} finds none"
            )
        await asyncio.sleep(POLL_SECONDS)


# --- the pictures --------------------------------------------------------------------------


def _context(
    browser: Browser, storage: dict[str, Any], size: tuple[int, int] = NARROW
) -> BrowserContext:
    """A fresh browser context whose Web UI settings (its localStorage) hold `storage`."""
    context = browser.new_context(
        viewport={"width": size[0], "height": size[1]},
        device_scale_factor=1,
        timezone_id="UTC",
        locale="en-US",
    )
    context.set_default_timeout(UI_TIMEOUT_MS)
    settings = {"navOpen": False, "timeFormat": "UTC", **storage}
    script = "".join(
        f"window.localStorage.setItem({json.dumps(key)}, {json.dumps(json.dumps(value))});"
        for key, value in settings.items()
    )
    context.add_init_script(script)
    return context


def _save(page: Page, path: Path) -> Path:
    size = page.viewport_size
    if size is not None:  # the pointer rests on the empty foot of the side bar: no hover
        page.mouse.move(1, size["height"] - 1)
    page.evaluate("() => document.fonts.ready.then(() => true)")
    page.screenshot(path=path, animations="disabled", caret="hide")
    shrink(path)
    say(f"wrote {path} ({path.stat().st_size // 1000} KB)")
    return path


def shrink(path: Path) -> None:
    """Re-encode a picture over LARGEST_PNG bytes with a palette (a UI has few colours)."""
    if path.stat().st_size <= LARGEST_PNG:
        return
    from PIL import Image

    with Image.open(path) as image:
        reduced = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    reduced.save(path, optimize=True)


def shoot_workflows(browser: Browser, ui: str, found: Found, out: Path) -> Path:
    # What the UI's column chooser (the list's "configure columns" button) stores for the
    # namespace once the dossier search attributes are added.
    columns = [{"label": label, "pinned": False} for label in COLUMNS]
    context = _context(
        browser,
        {
            "namespace-workflow-table-columns": {found.namespace: columns},
            "timestampFormat": "abbreviated",
        },
        WIDE,
    )
    try:
        page = context.new_page()
        query = urllib.parse.quote(OPEN_DOSSIERS)
        page.goto(f"{ui}/namespaces/{found.namespace}/workflows?query={query}")
        from playwright.sync_api import expect

        for label in COLUMNS:
            expect(page.get_by_role("columnheader", name=label, exact=True)).to_be_visible()
        expect(page.locator("table tbody tr")).to_have_count(found.open_dossiers)
        expect(page.get_by_role("link", name=found.workflow_id, exact=True)).to_be_visible()
        return _save(page, out / "workflows.png")
    finally:
        context.close()


def _dossier_url(ui: str, found: Found, tab: str) -> str:
    workflow = urllib.parse.quote(found.workflow_id, safe="")
    return f"{ui}/namespaces/{found.namespace}/workflows/{workflow}/{found.run_id}/{tab}"


def shoot_dossier_details(browser: Browser, ui: str, found: Found, out: Path) -> Path:
    context = _context(browser, {"timestampFormat": "abbreviated"})
    try:
        page = context.new_page()
        page.goto(_dossier_url(ui, found, "user-metadata"))
        from playwright.sync_api import expect

        expect(page.get_by_role("heading", name=found.workflow_id)).to_be_visible()
        expect(page.get_by_text("Current Details", exact=True)).to_be_visible()
        # The current details come from the worker (a query), shown as markdown in a frame.
        details = page.frame_locator("iframe#user-metadata-current-details")
        expect(details.locator("body")).to_contain_text(found.application_id)
        return _save(page, out / "dossier-details.png")
    finally:
        context.close()


def shoot_dossier_history(browser: Browser, ui: str, found: Found, out: Path) -> Path:
    context = _context(
        browser,
        {"timestampFormat": "abbreviated", "eventView": "compact", "eventFilterSort": "descending"},
        TALL,
    )
    try:
        page = context.new_page()
        page.goto(_dossier_url(ui, found, "history") + f"?category={HISTORY_CATEGORIES}")
        from playwright.sync_api import expect

        title = page.get_by_role("heading", name=found.workflow_id)
        expect(title).to_be_visible()
        # Decoded through the codec server: sealed, the input would show no field names.
        expect(page.get_by_text('"full_name"')).to_be_visible()
        rows = page.locator("table tbody tr")
        expect(rows.filter(has_text="Timer").first).to_be_visible()
        expect(rows.filter(has_text="Workflow Update").first).to_be_visible()
        return _save(page, out / "dossier-history.png")
    finally:
        context.close()


def shoot_schedules(browser: Browser, ui: str, found: Found, out: Path) -> Path:
    context = _context(browser, {"timestampFormat": "abbreviated"})
    try:
        page = context.new_page()
        page.goto(f"{ui}/namespaces/{found.namespace}/schedules")
        from playwright.sync_api import expect

        for definition in SCHEDULES:
            link = page.get_by_role("link", name=definition.schedule_id, exact=True)
            expect(link).to_be_visible()
        return _save(page, out / "schedules.png")
    finally:
        context.close()


def take_pictures(chromium: str, ui: str, found: Found, out: Path) -> list[Path]:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=chromium, headless=True, args=CHROMIUM_ARGS
            )
        except PlaywrightError as error:
            raise ScreenshotError(f"Chromium ({chromium}) did not start: {error}") from None
        try:
            return [
                shoot(browser, ui, found, out)
                for shoot in (
                    shoot_workflows,
                    shoot_dossier_details,
                    shoot_dossier_history,
                    shoot_schedules,
                )
            ]
        except (PlaywrightError, AssertionError) as error:
            # The first lines say what was awaited; the page's accessibility tree follows.
            what = "\n".join(str(error).splitlines()[:6])
            raise ScreenshotError(f"the Web UI did not show what was expected: {what}") from None
        finally:
            browser.close()


# --- the command ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.screenshots",
        description="Take the documents' pictures of the Web UI, on a stack of their own.",
    )
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"where to write ({OUT_DIR})")
    args = parser.parse_args(argv)
    interrupt_on_stop_signals()
    started = time.monotonic()
    try:
        chromium = chromium_path()
        check_playwright()
        check_ports()
        say("starting the stack (as `make run`, on a data dir of its own)…")
        with running_stack() as stack:
            run_demo(stack)
            settings = Settings.from_env(stack.env)
            found = asyncio.run(find_dossiers(settings))
            say(f"taking the pictures ({found.open_dossiers} open dossiers, {found.workflow_id})…")
            take_pictures(chromium, f"http://localhost:{UI_PORT}", found, args.out)
    except (ScreenshotError, SettingsError) as error:
        say(str(error))
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    say(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
