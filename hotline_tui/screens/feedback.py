"""How a refusal or a failure reaches the user: the domain error's Chinese message, never a traceback.

A module of its own, with no store imports, so the login screen can paint before SQLAlchemy is loaded.
"""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.widget import Widget

from hotline_tui.errors import HotlineError


def failure_text(err: BaseException | None) -> str:
    """Domain errors as they are (Chinese, for the user); anything else named, never a traceback."""
    if isinstance(err, HotlineError):
        return err.message
    return f"程序内部错误（{type(err).__name__}），请联系管理员"


def notify_failure(node: Widget | App[Any], err: BaseException | None) -> None:
    node.notify(failure_text(err), title="操作未完成", severity="error", timeout=8, markup=False)
