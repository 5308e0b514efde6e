"""Real Redis and PostgreSQL servers (Debian's packages), each started in a temporary directory on loopback
by the tests that need them and stopped after. Missing binaries make those tests skip, saying why."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_provider_realtime.testing.sandbox import free_port

POSTGRES_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _wait_until(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str, timeout: float
) -> None:
    """Poll ``ready()`` until it is true; fail if the server exits first or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start (exit code {process.poll()})")
        time.sleep(0.1)


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def redis_server_or_skip() -> str:
    path = shutil.which("redis-server")
    if path is None:
        pytest.skip("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
    return path


def postgres_bin_or_skip() -> Path:
    for folder in POSTGRES_BIN_DIRS:
        if (folder / "initdb").exists() and (folder / "postgres").exists():
            return folder
    pytest.skip("PostgreSQL's server is not installed (Debian package postgresql; .ci/run installs it)")


@dataclass(frozen=True)
class RedisServer:
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, db: int = 0):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, db=db, decode_responses=True)


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[RedisServer]:
    """A Redis server on a free loopback port that keeps nothing on disk."""
    binary = redis_server_or_skip()
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with open(folder / "redis.log", "wb") as log:
        process = subprocess.Popen([*args, "--dir", str(folder)], stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until(lambda: _port_open(port), process, "redis-server", timeout=30)
        yield RedisServer(port)
    finally:
        _stop(process)


@dataclass(frozen=True)
class PostgresServer:
    port: int
    user: str
    database: str

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{self.database}"


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of its own (initdb into a temporary directory, removed after), on a free
    loopback port, trusting local connections. As root the server runs as the ``postgres`` user
    (PostgreSQL refuses root), so its directory is in the system's temporary folder, not pytest's."""
    binaries = postgres_bin_or_skip()
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="realtime-postgres-"))
    as_user: dict[str, str] = {}
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_user = {"user": "postgres", "group": "postgres"}
    user = as_user.get("user") or os.environ.get("USER") or "postgres"
    data = folder / "data"
    try:
        setup = subprocess.run(
            [str(binaries / "initdb"), "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8"],
            capture_output=True,
            check=False,
            **as_user,  # type: ignore[call-overload]
        )
        if setup.returncode != 0:
            raise RuntimeError(f"initdb failed: {setup.stderr.decode(errors='replace')[-2000:]}")
        options = [
            "-D", str(data), "-p", str(port), "-h", "127.0.0.1", "-k", str(folder),
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=200",
        ]  # fmt: skip
        log = open(folder / "postgres.log", "wb")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [str(binaries / "postgres"), *options], stdout=log, stderr=subprocess.STDOUT, **as_user
        )
        try:
            # Not the open port: PostgreSQL opens it while still starting up, and refuses connections then
            # ("the database system is starting up", seen on a loaded CI machine).
            ready = [str(binaries / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-U", user]
            _wait_until(lambda: subprocess.run(ready, check=False).returncode == 0, process, "postgres", 60)
            created = subprocess.run(
                [str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", user, "airflow"],
                capture_output=True,
                check=False,
            )
            if created.returncode != 0:
                raise RuntimeError(f"createdb failed: {created.stderr.decode(errors='replace')[-2000:]}")
            yield PostgresServer(port, user, "airflow")
        finally:
            _stop(process)
            log.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
