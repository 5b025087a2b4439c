"""A footer that rebuilds its key hints only when they change.

Textual's ``Footer`` recomposes on every change of focus, because the screen re-publishes its bindings.
On the call screen focus moves with every tab, and each rebuild lays the whole screen out again and
leaves the old ``FooterKey`` widgets alive (their ``data_bind`` to the footer keeps them: Textual issue
#6666) — about 40 per call, 1,700 over 42 calls in ``benchmarks/intake_kb.py``, which lengthens every
full garbage collection, and a collection stops the typing. Here the footer compares what it would
show (key, action, description, enabled, tooltip) with what it shows and does nothing when it is the same.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer

Signature = tuple[tuple[str, str, str, bool, str], ...]


class StableFooter(Footer):
    _shown: Signature | None = None

    def signature(self, screen: Screen[object]) -> Signature:
        return tuple(
            (b.key, b.action, b.description, enabled, tooltip)
            for (_, b, enabled, tooltip) in screen.active_bindings.values()
            if b.show
        )

    def bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and screen is self.screen and self._bindings_ready:
            now = self.signature(screen)
            if now == self._shown:
                return
            self._shown = now
        super().bindings_changed(screen)
