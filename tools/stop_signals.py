"""SIGTERM and SIGHUP stop a tool as Ctrl-C does: a `KeyboardInterrupt` in the main thread,
so that every process the tool started is stopped on the way out, in order. SIGINT too,
which a shell ignores for a command it starts in the background."""

from __future__ import annotations

import signal
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def interrupt_on_stop_signals() -> None:
    """From now on, each of `STOP_SIGNALS` raises `KeyboardInterrupt` in the main thread."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _interrupt)
