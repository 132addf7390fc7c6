"""Broken-bundle catalog entries of one hostile-input class (issue 12): archive.

Imported at the end of tests/broken_catalog.py; each entry registers itself with
:func:`broken_catalog.broken` exactly like the entries there.
"""

from __future__ import annotations

from broken_catalog import broken  # noqa: F401
