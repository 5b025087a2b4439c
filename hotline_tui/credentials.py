"""Remembering a password in the workstation's keyring, when there is a safe one.

On a headless or SSH host there is usually no keyring (``keyring`` picks its ``fail`` backend and
every call raises ``NoKeyringError``): these functions then return ``None`` / ``False`` and
``keyring_status()`` gives the reason to show once. Nothing here ever raises.

``keyrings.alt`` file backends are refused: ``PlaintextKeyring`` only base64-encodes the password, and
its ``EncryptedKeyring`` asks for a master password on the terminal, which a full-screen app cannot do.

Entries are stored under the service name ``hotline-tui:<hash of the store address>`` so that two stores
(a training copy and the real one, say) never share credentials.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import keyring
import keyring.backends.fail
import keyring.backends.null
from keyring.backend import KeyringBackend

NO_KEYRING = "此终端没有可用的密钥环（如SSH登录的服务器），每次登录需要输入密码"
UNSAFE_KEYRING = "此终端的密钥环会以明文保存密码（keyrings.alt），已停用记住密码功能，每次登录需要输入密码"
KEYRING_ERROR = "密钥环访问失败（{error}），每次登录需要输入密码"


def service_name(store_url: str | None = None) -> str:
    """``hotline-tui:<12 hex>`` from the store address without its password."""
    return f"hotline-tui:{hashlib.sha256(_store_key(store_url).encode('utf-8')).hexdigest()[:12]}"


def _store_key(store_url: str | None) -> str:
    try:
        from sqlalchemy.engine import make_url

        from hotline_tui.db import default_url, normalize_url

        url = make_url(normalize_url(store_url or default_url()))
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            url = url.set(database=str(Path(url.database).expanduser().resolve()))
        return url.render_as_string(hide_password=True)  # "***": the password is not part of the name
    except Exception:  # an unparsable address still gets its own, stable name
        return store_url or ""


def _is_unsafe(backend: KeyringBackend) -> bool:
    return type(backend).__module__.startswith("keyrings.alt")


def _is_absent(backend: KeyringBackend) -> bool:
    return isinstance(backend, keyring.backends.fail.Keyring | keyring.backends.null.Keyring)


def _backend() -> tuple[KeyringBackend | None, str]:
    """The backend to use, or ``None`` and the reason why there is none."""
    try:
        chosen = keyring.get_keyring()
    except Exception as exc:  # a broken keyring configuration
        return None, KEYRING_ERROR.format(error=type(exc).__name__)
    inner = getattr(chosen, "backends", None)
    candidates = list(inner) if isinstance(inner, list | tuple) else [chosen]
    usable = [b for b in candidates if not _is_absent(b) and not _is_unsafe(b)]
    if usable:
        # a chainer falls through to later backends on failure: use only the best safe one
        return usable[0], ""
    if any(_is_unsafe(b) for b in candidates):
        return None, UNSAFE_KEYRING
    return None, NO_KEYRING


def keyring_status() -> tuple[bool, str]:
    """(available, message to show): the message names the backend or says why there is none."""
    backend, reason = _backend()
    if backend is None:
        return False, reason
    name = getattr(backend, "name", type(backend).__name__)
    return True, f"已使用系统密钥环（{name}）记住密码"


def remembered_password(user: str, store_url: str | None = None) -> str | None:
    backend, _reason = _backend()
    if backend is None or not user:
        return None
    try:
        value = backend.get_password(service_name(store_url), user)
    except Exception:  # KeyringError (NoKeyringError, PasswordDeleteError...), D-Bus and OS errors
        return None
    return value if isinstance(value, str) and value else None


def remember_password(user: str, password: str, store_url: str | None = None) -> bool:
    backend, _reason = _backend()
    if backend is None or not user or not password:
        return False
    try:
        backend.set_password(service_name(store_url), user, password)
    except Exception:  # KeyringError (NoKeyringError, PasswordDeleteError...), D-Bus and OS errors
        return False
    return True


def forget_password(user: str, store_url: str | None = None) -> None:
    backend, _reason = _backend()
    if backend is None or not user:
        return
    try:
        backend.delete_password(service_name(store_url), user)
    except Exception:  # KeyringError (NoKeyringError, PasswordDeleteError...), D-Bus and OS errors
        return
