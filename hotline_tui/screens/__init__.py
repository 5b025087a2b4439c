"""Textual screens. Only this package, ``widgets/`` and ``app.py`` import Textual."""
