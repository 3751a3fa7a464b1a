"""Debian's headless Firefox (firefox-esr) driven over Marionette, its own remote protocol, with
a client of a few lines: Debian has no geckodriver, and nothing may download one. Marionette
speaks `length:JSON` frames; commands are WebDriver's under their Marionette names."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

FIREFOX = Path("/usr/bin/firefox-esr")
DEADLINE = 20.0  # seconds any wait may take before the test fails


class Firefox:
    """One headless Firefox with its own empty profile; `run(script, *args)` runs JavaScript in
    the current frame and returns its value."""

    def __init__(self) -> None:
        self.profile = tempfile.mkdtemp(prefix="elektromail-firefox-")
        # Port 0: Marionette takes a free port and writes it into the profile.
        Path(self.profile, "user.js").write_text('user_pref("marionette.port", 0);\n')
        self.process = subprocess.Popen(
            [str(FIREFOX), "--headless", "--marionette", "--no-remote", "--profile", self.profile],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "HOME": self.profile, "MOZ_CRASHREPORTER_DISABLE": "1"},
        )
        port = int(self._wait_for(lambda: _read(Path(self.profile, "MarionetteActivePort"))))
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        self.buffer = b""
        self.ids = 0
        assert self._frame()["applicationType"] == "gecko"
        self.call("WebDriver:NewSession", {"capabilities": {"pageLoadStrategy": "normal"}})
        self.call("WebDriver:SetWindowRect", {"width": 1280, "height": 800})

    def _wait_for(self, probe):
        deadline = time.monotonic() + DEADLINE
        while True:
            value = probe()
            if value:
                return value
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("Firefox did not start its Marionette server")
            time.sleep(0.05)

    def _frame(self) -> Any:
        while b":" not in self.buffer:
            self._recv()
        size, _, rest = self.buffer.partition(b":")
        self.buffer = rest
        while len(self.buffer) < int(size):
            self._recv()
        frame, self.buffer = self.buffer[: int(size)], self.buffer[int(size) :]
        return json.loads(frame)

    def _recv(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("Marionette closed the connection")
        self.buffer += data

    def call(self, command: str, params: dict | None = None) -> Any:
        self.ids += 1
        data = json.dumps([0, self.ids, command, params or {}]).encode()
        self.sock.sendall(b"%d:%s" % (len(data), data))
        while True:
            kind, ident, error, result = self._frame()
            if kind == 1 and ident == self.ids:
                if error:
                    raise AssertionError(f"{command}: {error.get('message', error)}")
                return result

    def open(self, url: str) -> None:
        self.call("WebDriver:Navigate", {"url": url})

    def run(self, script: str, *args: Any) -> Any:
        return self.call("WebDriver:ExecuteScript", {"script": script, "args": list(args)})["value"]

    def wait(self, script: str, *args: Any, what: str) -> Any:
        """Run `script` until it returns something true (as WebDriverWait polls)."""
        deadline = time.monotonic() + DEADLINE
        while True:
            value = self.run(script, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {DEADLINE:g} s: {what}")
            time.sleep(0.05)

    def element(self, css: str) -> dict:
        return self.call("WebDriver:FindElement", {"using": "css selector", "value": css})["value"]

    def into_frame(self, css: str) -> None:
        """Switch into the frame `css` finds. The inbox replaces its HTML frame for each
        document it shows (so that Back does not step through mail bodies): a frame found just
        before a re-render is stale, and is looked up again."""
        deadline = time.monotonic() + DEADLINE
        while True:
            element = self.element(css)["element-6066-11e4-a52e-4f735466cecf"]
            try:
                self.call("WebDriver:SwitchToFrame", {"element": element})
                return
            except AssertionError as e:
                if "stale" not in str(e) or time.monotonic() > deadline:
                    raise

    def out_of_frame(self) -> None:
        self.call("WebDriver:SwitchToParentFrame")

    def quit(self) -> None:
        try:
            self.call("Marionette:Quit", {"flags": ["eForceQuit"]})
        except (OSError, AssertionError):
            pass
        finally:
            self.sock.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            shutil.rmtree(self.profile, ignore_errors=True)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None
