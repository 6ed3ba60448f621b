"""The asset directory behind ``/api/v1/assets``: list, save and find image/video/audio files.

Paths handed out are absolute, as Scope's are: clients send them back in parameters such as
``vace_ref_images``, and the server opens them directly.
"""

from __future__ import annotations

import logging
import mimetypes
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, Literal

__all__ = ["ASSET_EXTENSIONS", "AssetKind", "AssetStore", "InvalidAssetNameError"]

logger = logging.getLogger(__name__)

AssetKind = Literal["image", "video", "audio"]
ASSET_EXTENSIONS: dict[AssetKind, frozenset[str]] = {
    "image": frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp"}),
    "video": frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm"}),
    "audio": frozenset({".wav", ".mp3", ".flac", ".ogg"}),
}
_KIND_BY_EXTENSION = {ext: kind for kind, exts in ASSET_EXTENSIONS.items() for ext in exts}


class InvalidAssetNameError(ValueError):
    """An upload name leaves the asset directory or has an unsupported extension."""


class AssetStore:
    """Files in one asset directory.

    Parameters
    ----------
    root
        The asset directory; ``None`` creates a temporary one, removed by :meth:`close`.
    """

    def __init__(self, root: Path | None = None) -> None:
        self._owns_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="lab-sim-assets-")) if root is None else root
        self.root.mkdir(parents=True, exist_ok=True)
        self.root = self.root.resolve()
        self._written: set[Path] = set()

    def list(self, kind: AssetKind | None = None) -> list[dict[str, Any]]:
        """Every asset (of one kind, if given): newest first, then by folder and name."""
        kinds = ASSET_EXTENSIONS if kind is None else {kind}
        infos = [
            self._info(path)
            for path in self.root.rglob("*")
            if path.is_file() and _KIND_BY_EXTENSION.get(path.suffix.lower()) in kinds
        ]
        return sorted(infos, key=lambda i: (-i["created_at"], i["folder"] or "", i["name"]))

    def save(self, filename: str, data: bytes) -> dict[str, Any]:
        """Write an upload under the asset directory and return its info.

        Raises
        ------
        InvalidAssetNameError
            If ``filename`` is empty, absolute, climbs out with ``..``, or has an extension
            that is not an image, video or audio one.
        """
        name = PurePosixPath(filename.replace("\\", "/"))
        target = (self.root / name).resolve()
        if (
            not name.parts
            or name.is_absolute()
            or ".." in name.parts
            or not target.is_relative_to(self.root)
            or name.suffix.lower() not in _KIND_BY_EXTENSION
        ):
            raise InvalidAssetNameError("Invalid filename")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self._written.add(target)
        logger.info("Saved asset %s (%d bytes)", target, len(data))
        return self._info(target)

    def find(self, asset_path: str) -> Path:
        """Return the file an ``/api/v1/assets/{asset_path}`` request names.

        Raises
        ------
        PermissionError
            If the path leads outside the asset directory.
        FileNotFoundError
            If there is no such file.
        """
        if asset_path.startswith(("/", "root/")):
            asset_path = PurePosixPath(asset_path).name  # Scope keeps only the base name
        target = (self.root / asset_path).resolve()
        if not target.is_relative_to(self.root):
            raise PermissionError(asset_path)
        if not target.is_file():
            raise FileNotFoundError(asset_path)
        return target

    @staticmethod
    def media_type(path: Path) -> str:
        """Content type to serve a file with; audio is sent as octet-stream, as Scope does."""
        guessed, _ = mimetypes.guess_type(path.name)
        if guessed is None or _KIND_BY_EXTENSION.get(path.suffix.lower()) == "audio":
            return "application/octet-stream"
        return guessed

    def reset(self) -> None:
        """Delete the files uploaded through this store (others are left alone)."""
        for path in self._written:
            path.unlink(missing_ok=True)
        self._written.clear()

    def close(self) -> None:
        """Remove the temporary asset directory, if this store created it."""
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def _info(self, path: Path) -> dict[str, Any]:
        stat = path.stat()
        folder = path.parent.relative_to(self.root).as_posix()
        return {
            "name": path.stem,
            "path": str(path),
            "size_mb": round(stat.st_size / (1024 * 1024), 2),
            "folder": None if folder == "." else folder,
            "type": _KIND_BY_EXTENSION[path.suffix.lower()],
            "created_at": stat.st_ctime,
        }

