"""restorer-gui: restore scanned old photos. Imports neither Qt nor torch (fast start)."""

__version__ = "0.1.0"
