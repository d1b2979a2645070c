"""A full disk, a quota or a read-only folder: the user's to fix, not a bug, so one line naming
the file and the OS's reason instead of the traceback of whichever writer hit it first."""

from __future__ import annotations

import errno
from pathlib import Path

from research.tracking.atomic import WriteFailed, os_error_in

DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def disk_error_in(error: BaseException) -> OSError | None:
    found = os_error_in(error)
    return found if found is not None and found.errno in DISK_ERRNOS else None


def disk_line(error: OSError, output_dir: Path) -> str:
    what = (
        error.strerror
        if isinstance(error, WriteFailed)
        else f"cannot write {error.filename or 'a file'}: {error.strerror}"
    )
    return f"{what}; what was written before it (checkpoint, metrics.csv) is kept in {output_dir}"
