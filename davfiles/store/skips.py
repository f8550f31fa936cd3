"""Names of the temporaries editors and desktops write and delete with every save.

Such a file keeps no versions and its deletion skips the trash (``trash.py``,
``versions.py``); folders are never matched, so a folder named like one is trashed whole.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

# Office lock and owner files, LibreOffice locks, editors' temporaries, macOS resource forks
# and folder settings, Windows thumbnail caches: written and deleted by every save.
DEFAULT_SKIP = ("~$*", ".~lock.*#", "*.tmp", "._*", ".DS_Store", "Thumbs.db")


def skips(patterns: Iterable[str], name: str) -> bool:
    """True for a file name the patterns match (case matters, as on the disk)."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
