"""A throwaway PostgreSQL cluster for the test session (NOTES.md: initdb in a temp dir, 127.0.0.1, free port)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _bin_dir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.tmp: Path | None = None
        self.port = 0
        self.skip_reason = ""
        self._as_root = os.geteuid() == 0

    def _run(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        full = list(cmd)
        if self._as_root:
            full = ["runuser", "-u", "postgres", "--", *full]
        return subprocess.run(full, capture_output=True, text=True, timeout=120)

    def start(self) -> str | None:
        if self.bin is None:
            self.skip_reason = "PostgreSQL server binaries (initdb) not installed"
            return None
        if self._as_root and shutil.which("runuser") is None:
            self.skip_reason = "running as root without runuser"
            return None
        self.tmp = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
        os.chmod(self.tmp, 0o755)
        if self._as_root:
            shutil.chown(self.tmp, "postgres")
        data = self.tmp / "data"
        init = self._run(
            str(self.bin / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        if init.returncode != 0:
            init = self._run(
                str(self.bin / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            )
        if init.returncode != 0:
            self.skip_reason = f"initdb failed: {init.stderr.strip()[:200]}"
            return None
        self.port = _free_port()
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.tmp} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        started = self._run(
            str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.tmp / "log"), "-w", "start", "-o", opts
        )
        if started.returncode != 0:
            self.skip_reason = f"pg_ctl start failed: {started.stderr.strip()[:200]}"
            return None
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.tmp is None or self.bin is None:
            return
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.tmp / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.tmp, ignore_errors=True)
