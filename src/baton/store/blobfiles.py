"""Blobs in a folder beside a store file: one file per digest (`ab/cdef...`), content
addressed, so writing the same content twice is harmless and a file is never changed.

Each blob is written to a temporary file, flushed to disk and renamed into place before
the event that references it is appended, so a crash leaves no reference to a missing
or partial blob (at worst an unreferenced one).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from ..core.bounds import DIGEST
from ..errors import StoreError

T = TypeVar("T")
# threads of their own: a python agent's thread that outlived its timeout holds one of
# asyncio's default pool for good, and must not hold the record back
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="baton-blobs")


async def _in_pool(fn: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_POOL, fn)


class BlobFolder:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _file(self, digest: str) -> Path:
        if not DIGEST.fullmatch(digest):
            raise StoreError(f"{digest!r} is not a blob digest (expected sha256:<64 hex>)")
        hexdigest = digest.removeprefix("sha256:")
        return self.root / hexdigest[:2] / hexdigest[2:]

    def _put(self, blobs: Mapping[str, bytes]) -> None:
        for digest, content in blobs.items():
            target = self._file(digest)
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(content)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            sync_folder(target.parent)  # the rename itself survives a power loss

    async def put(self, blobs: Mapping[str, bytes]) -> None:
        if not blobs:
            return
        try:
            await _in_pool(lambda: self._put(blobs))
        except OSError as exc:
            raise StoreError(f"blob folder {self.root}: cannot write: {exc}") from exc

    async def get(self, digest: str) -> bytes | None:
        file = self._file(digest)
        try:
            return await _in_pool(file.read_bytes)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"blob folder {self.root}: cannot read {digest}: {exc}") from exc

    def drop(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def sync_folder(folder: Path) -> None:
    """A folder's entries (a file just created or renamed in it) flushed to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
