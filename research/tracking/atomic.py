"""Files that are either the old version or the new one, never half of one: written to a
temporary file in the same folder (same file system, so the rename is atomic), flushed to
disk, then renamed over the target. The file gets the mode any other new file gets
(0666 less the umask), not mkstemp's private 0600."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from research.tracking.error_chain import first_in_chain


class WriteFailed(OSError):
    """A file could not be written (a full disk, a read-only folder): the message names the
    file and the OS's reason, which torch's own error for a short write ("unexpected pos")
    does not; the file's previous version is still there."""

    def __init__(self, path: Path, error: OSError) -> None:
        super().__init__(error.errno, f"cannot write {path}: {error.strerror or error}")
        self.filename = str(path)


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise WriteFailed(path, error) from error
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        cause = os_error_in(error)
        if cause is not None and not isinstance(error, WriteFailed):
            raise WriteFailed(path, cause) from error
        raise


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it (another thread may
    create files meanwhile); elsewhere set and restored at once."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def os_error_in(error: BaseException) -> OSError | None:
    """The OSError behind `error`, also when it surfaced while another error was handled
    (torch.save's short write raises RuntimeError; closing the file then raises ENOSPC)."""
    return first_in_chain(error, OSError)
