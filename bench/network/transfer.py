"""How archives move between the runner and the cache service (a network profile's cache part)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Transfer:
    """Paces a cache archive's download and upload.

    All zero: the archive is extracted straight from the store and moved into it by rename.
    """

    download_bytes_per_s: float = 0
    download_overhead_s: float = 0
    upload_bytes_per_s: float = 0
    upload_overhead_s: float = 0

    @property
    def shapes_download(self) -> bool:
        return self.download_bytes_per_s > 0 or self.download_overhead_s > 0

    @property
    def shapes_upload(self) -> bool:
        return self.upload_bytes_per_s > 0 or self.upload_overhead_s > 0


DIRECT = Transfer()
