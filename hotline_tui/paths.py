"""Where the store is, as a string: no SQLAlchemy here, so the TUI can show its first frame before the
database layer is loaded (DESIGN: start to the call screen ≤ 1 s)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from platformdirs import user_data_dir


def default_url() -> str:
    env = os.environ.get("HOTLINE_DB")
    if env:
        return env
    path = Path(user_data_dir("hotline-tui", appauthor=False)) / "hotline.db"
    return f"sqlite:///{path}"


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL (or of a bare path, which the store treats as one), else None."""
    if "://" not in url:
        return Path(url).expanduser()
    if url.startswith("sqlite:///"):
        rest = url.removeprefix("sqlite:///").split("?", 1)[0]
        return None if rest in ("", ":memory:") else Path(rest)  # sqlite:////abs, sqlite:///relative
    return None


def store_label(url: str) -> str:
    """What the login screen says the store is: the file, or the server URL without its password."""
    path = sqlite_file(url)
    if path is not None:
        return str(path)
    if url.startswith("sqlite"):
        return url
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.hostname or ""
        netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)
