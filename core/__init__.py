"""Shared kernel: settings, the error taxonomy, the clock and the data directory.

Every room may import from here; this package must never import from any room.
"""
