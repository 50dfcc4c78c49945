"""Writing a file so that readers never see half of it: a temporary file in the same folder,
flushed to disk, then renamed over the target (`os.replace` is atomic on one filesystem).

Used by the file outbox (a delivered reminder is durable before it is recorded sent) and by
the report files (a web server serving the folder never serves a partial report).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PRIVATE = 0o600  # messages to named people (the file outbox): readable by the service only
SHARED = 0o644   # documents meant to be read and served (reports, notices, .ics feeds)


def write_atomically(path: Path, data: bytes, *, mode: int = PRIVATE) -> Path:
    """Write `data` to `path` atomically and durably with permissions `mode` (mkstemp alone
    would leave every file 0600); creates the folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
