"""Where the demo's files are: packaged in the wheel, or config/ of a source checkout.

Apart from `demo`, so the command line can name them as defaults without importing the daemon.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["demo_file"]


def demo_file(name: str) -> Path:
    """A file of the demo: packaged in the wheel, or config/ of a source checkout."""
    packaged = Path(__file__).resolve().parents[1] / "_demo" / name
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[3] / "config" / name
