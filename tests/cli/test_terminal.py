"""On a terminal, ``orchestrator run`` draws a live table while the flow runs.

The command runs on a pseudo-terminal. Its mapped task waits at a gate (a file)
until the test has seen the live table show the children running, so the test
proves the display updates during the run without depending on timing.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from cli_support import flow_dir_fixture  # noqa: F401 - fixtures

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b\]8;[^\x1b]*\x1b\\")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")


class Terminal:
    """A process on a pseudo-terminal of 120x40; ``screen_text`` is everything it wrote, plain."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
        )
        os.close(slave)
        self.raw = b""

    @property
    def screen_text(self) -> str:
        return ANSI.sub("", self.raw.decode(errors="replace"))

    def read_until(self, pattern: str, timeout: float = 60) -> bool:
        """Read output until ``pattern`` (a regex over the plain text) shows; False at EOF."""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.screen_text):
            if not self._read(deadline - time.monotonic()):
                return bool(re.search(pattern, self.screen_text))
        return True

    def read_to_end(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while self._read(deadline - time.monotonic()):
            pass
        return self.process.wait(timeout=max(deadline - time.monotonic(), 1))

    def _read(self, remaining: float) -> bool:
        if remaining <= 0:
            return False
        ready, _, _ = select.select([self.master], [], [], remaining)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the process closed the terminal
            return False
        self.raw += chunk
        return bool(chunk)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        os.close(self.master)


def test_a_terminal_run_shows_the_live_table_then_the_summary(
    flow_dir: Path, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    env = {**os.environ, "TERM": "xterm-256color", "ORCHESTRATOR_LOG_LEVEL": "WARNING"}
    env.pop("NO_COLOR", None)
    terminal = Terminal(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "run",
            str(flow_dir / "gate.py"),
            "--param",
            f"gate={gate}",
        ],
        env,
    )
    try:
        assert terminal.read_until(r"wait_at_gate \(mapped\) +0/3 +\S* *Running 3"), (
            terminal.screen_text
        )
        live_frame = terminal.screen_text
        gate.touch()
        assert terminal.read_to_end() == 0, terminal.screen_text
    finally:
        terminal.close()
    assert re.search(
        r"Flow run '[a-z]+-[a-z]+' of flow 'gated' on ConcurrentTaskRunner", live_frame
    )
    assert re.search(r"items +1/1 +\S* *Success 1", live_frame)
    assert "\x1b[" in terminal.raw.decode(errors="replace")  # drawn with terminal controls
    screen = terminal.screen_text
    assert "Task runs" in screen
    assert re.search(r"wait_at_gate +Mapped \(Success 3\) +3 ", screen)
    assert re.search(r"Flow run '[a-z]+-[a-z]+' finished in state Success\(", screen)
