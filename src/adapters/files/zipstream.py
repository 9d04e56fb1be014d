"""A zip archive streamed as it is built: each file is read chunk by chunk and the archive's
bytes are handed on as soon as they exist; nothing is held whole in memory."""

from __future__ import annotations

import zipfile
from collections.abc import AsyncIterator, Callable, Sequence


class _Pipe:
    """A write-only, unseekable file: zipfile then writes data descriptors and never seeks."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


async def zip_stream(
    files: Sequence[tuple[str, str]], read: Callable[[str], AsyncIterator[bytes]]
) -> AsyncIterator[bytes]:
    """The zip of `files` ((name in the archive, key)), reading each key with `read`."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:  # type: ignore[call-overload]
        for name, key in files:
            with archive.open(name, mode="w", force_zip64=True) as member:
                async for chunk in read(key):
                    member.write(chunk)
                    if len(pipe.buffer) >= 64 * 1024:
                        yield pipe.take()
            yield pipe.take()
    yield pipe.take()
