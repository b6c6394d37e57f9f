"""A benchmark or a picture run stopped by SIGTERM or SIGHUP (a CI job cancelled, a terminal
closed) stops as Ctrl-C stops it: a `KeyboardInterrupt`, on the way out of which every
process it started is stopped."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from tools.stop_signals import STOP_SIGNALS, interrupt_on_stop_signals


@pytest.fixture
def handlers_restored() -> Iterator[None]:
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    yield
    for signum, handler in previous.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_each_stop_signal_interrupts_as_ctrl_c_does(handlers_restored: None, signum: int) -> None:
    signal.signal(signum, signal.SIG_IGN)  # as a shell leaves SIGINT for a background job
    interrupt_on_stop_signals()
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signum)
