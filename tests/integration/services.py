"""Local stand-ins for the AWS services a real consumer talks to, started by the integration tests:
PostgreSQL (Debian `postgresql`, run as the `postgres` user when the tests run as root) and a moto S3 server."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer in {timeout}s")


@dataclass(frozen=True)
class Postgres:
    port: int
    socket_dir: str
    """The superuser `postgres` connects here without a password (trust on the local socket only)."""


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or ([shutil.which(name)] if shutil.which(name) else [])
    assert found, f"{name} not found: apt-get install postgresql (see .ci/run)"
    return str(found[-1])


@contextlib.contextmanager
def postgres(tls: bool = False) -> Iterator[Postgres]:
    """A throwaway cluster on 127.0.0.1: passwords checked on TCP (scram), no TLS (stated where it matters) unless
    `tls` (a self-signed certificate: clients that require TLS without verifying it, like RDS's, connect)."""
    as_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="it-pg-"))
    data, port = base / "data", free_port()
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(base, "postgres")
    subprocess.run([*run_as, _pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust",
                    "--auth-host=scram-sha-256"], check=True, capture_output=True)
    options = f"-h 127.0.0.1 -p {port} -k {base}"
    if tls:
        cert, key = base / "server.crt", base / "server.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        key.chmod(0o600)
        if as_root:
            for path in (cert, key):
                shutil.chown(path, "postgres")
        options += f" -c ssl=on -c ssl_cert_file={cert} -c ssl_key_file={key}"
    subprocess.run([*run_as, _pg_bin("pg_ctl"), "-D", str(data), "-w", "-l", str(base / "log"), "-o",
                    options, "start"], check=True, capture_output=True)
    try:
        yield Postgres(port, str(base))
    finally:
        subprocess.run([*run_as, _pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def psql(pg: Postgres, sql: str) -> None:
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*run_as, _pg_bin("psql"), "-h", pg.socket_dir, "-p", str(pg.port), "-U", "postgres", "-d",
                    "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True, cwd="/")


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's server (the dev extra's moto[server]) on a free port; yields its endpoint URL."""
    port = free_port()
    exe = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/moto-api/", 60, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextlib.contextmanager
def redis_server(password: str, users: Sequence[tuple[str, str, str]] = ()) -> Iterator[int]:
    """Debian's `redis-server` on 127.0.0.1 and a free port, `requirepass` set, no TLS, nothing persisted; yields
    the port. (ElastiCache in the plan has TLS and an AUTH token: the token is checked here, TLS is not.)
    `users`: (name, ElastiCache access string, password) of RBAC users, set with `ACL SETUSER name reset <access
    string> >password` (`reset` first: ElastiCache starts a user from nothing too); `default` is set last."""
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    assert Path(exe).exists(), "redis-server not found: apt-get install redis-server (see .ci/run)"
    port, base = free_port(), tempfile.mkdtemp(prefix="it-redis-")
    proc = subprocess.Popen([exe, "--bind", "127.0.0.1", "--port", str(port), "--requirepass", password,
                             "--save", "", "--appendonly", "no", "--dir", base],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not listen on {port}")
            time.sleep(0.2)
        for name, access, secret in sorted(users, key=lambda u: u[0] == "default"):
            done = subprocess.run([shutil.which("redis-cli") or "/usr/bin/redis-cli", "-p", str(port),
                                   "--no-auth-warning", "-a", password, "ACL", "SETUSER", name, "reset",
                                   *access.split(), f">{secret}"], capture_output=True, text=True, timeout=30)
            if done.stdout.strip() != "OK":
                raise RuntimeError(f"ACL SETUSER {name} {access}: {done.stdout}{done.stderr}")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)


def consumer_python(tool: str) -> Path:
    """The interpreter of a consumer's own virtualenv (`.venv-<tool>`, built by .ci/run at the pinned version;
    `<TOOL>_PYTHON` overrides it): MLflow, Feast and the library pin clashing dependencies."""
    path = Path(os.environ.get(f"{tool.upper()}_PYTHON", Path(__file__).resolve().parents[2] / f".venv-{tool}" / "bin" / "python"))
    assert path.exists(), f"{path}: no {tool} virtualenv (.ci/run builds it with the pinned {tool})"
    return path
