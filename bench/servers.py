"""What the benchmark scripts share: a free loopback port, and gunicorn started as the README deploys it."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The environment every benchmark's servers run with: production settings on loopback, quiet logs, no rate limit.
SERVER_ENV = {
    "DEBUG": "0",
    "PORTAL_HTTPS": "0",
    "PORTAL_BASE_DOMAIN": "localhost",
    "LOG_LEVEL": "ERROR",
    "API_RATE_LIMIT_PER_MINUTE": str(10**9),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_command(port: int, *, workers: int, threads: int) -> list[str]:
    """The README's deploy command (gthread workers, keep-alive) on a loopback port."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "portal.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--keep-alive",
        "30",
    ]


def port_wait(port: int, process: subprocess.Popen | None = None, *, seconds: float = 10, hint: str = "") -> None:
    """Return once `port` accepts connections; otherwise kill `process` (if given) and stop the script."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    if process is not None:
        process.kill()
    raise SystemExit(f"nothing listens on port {port} after {seconds} s{hint}")


def gunicorn_start(port: int, *, workers: int, threads: int, env: dict[str, str]) -> subprocess.Popen:
    server = subprocess.Popen(
        [*gunicorn_command(port, workers=workers, threads=threads), "--log-level", "warning"],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    port_wait(port, server)
    return server
