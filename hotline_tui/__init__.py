"""hotline-tui: the terminal application of a 12345 government-service hotline centre."""

__version__ = "0.1.0"
