"""The emulated LoRA directory behind ``/api/v1/loras`` and ``/api/v1/lora/*``.

Like model downloads, LoRA downloads are emulated: nothing is fetched (the simulator never
reaches the internet) and no file is written. A "downloaded" LoRA is an empty file that
exists only in this book, so its ``size_mb`` is 0, its ``sha256`` that of no bytes, and its
``path`` names where it would be (``<lora dir>/<filename>``). The checks Scope makes before
fetching (allowed hosts, ``/blob/`` URLs, the ``.safetensors`` extension, path traversal,
an existing file) are made, with Scope's statuses.

Where Scope's behaviour is not known the simulator chooses: a CivitAI download is named
``civitai-<version_id>.safetensors``, and the success messages are its own words.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from lab.sim.errors import RouteError

__all__ = ["EMPTY_SHA256", "LoraBook"]

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_HOSTS = ("civitai.com", "huggingface.co", "hf.co")
_EXTENSION = ".safetensors"


@dataclass
class _Lora:
    filename: str  # relative to the LoRA directory, "/"-separated
    provenance: dict[str, Any] | None
    added_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class LoraBook:
    """LoRA files of the emulated host, by their path relative to the LoRA directory.

    Parameters
    ----------
    root
        The directory the files' absolute paths are reported under.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[str, _Lora] = {}

    def list(self) -> list[dict[str, Any]]:
        """``LoRAFileInfo`` of every file, sorted by folder, then name."""
        infos = [self._info(lora) for lora in self._files.values()]
        return sorted(infos, key=lambda info: (info["folder"] or "", info["name"]))

    def has(self, filename: str) -> bool:
        """Whether a file of this name (relative path or bare name) is present."""
        return any(f == filename or PurePosixPath(f).name == filename for f in self._files)

    def install(self, url: str, filename: str | None) -> dict[str, Any]:
        """``POST /api/v1/loras``: check the URL and name, then add an (empty) file."""
        parsed = urlparse(url)
        host = (parsed.hostname or "").lower()
        if not any(host == h or host.endswith("." + h) for h in _HOSTS):
            raise RouteError(400, f"Unsupported host {host or url!r}: use {', '.join(_HOSTS)}")
        if host.endswith(("huggingface.co", "hf.co")) and "/blob/" in parsed.path:
            raise RouteError(400, "HuggingFace /blob/ URLs are web pages: use the /resolve/ URL")
        name = filename or PurePosixPath(parsed.path).name
        if not name:
            raise RouteError(400, "Could not determine a filename from the URL")
        source = "civitai" if host.endswith("civitai.com") else "huggingface"
        lora = self._add(name, {"source": source, "url": url})
        return {"message": f"Installed LoRA {lora.filename}", "file": self._info(lora)}

    def download(self, request: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/v1/lora/download`` from HuggingFace, CivitAI or a URL."""
        source = request["source"]
        needed = {"huggingface": ("repo_id", "hf_filename"), "civitai": ("version_id",),
                  "url": ("url",)}[source]
        missing = [key for key in needed if not request.get(key)]
        if missing:
            raise RouteError(400, f"{source} downloads need {', '.join(missing)}")
        if source == "huggingface":
            name = PurePosixPath(request["hf_filename"]).name
        elif source == "civitai":
            name = f"civitai-{request['version_id']}{_EXTENSION}"
        else:
            name = PurePosixPath(urlparse(request["url"]).path).name
        if request.get("subfolder"):
            name = f"{request['subfolder'].strip('/')}/{name}"
        expected = request.get("expected_sha256")
        if expected and expected.lower() != EMPTY_SHA256:
            raise RouteError(400, f"SHA-256 mismatch: expected {expected}, got {EMPTY_SHA256}")
        provenance = {key: request.get(key) for key in
                      ("repo_id", "hf_filename", "model_id", "version_id", "url")}
        lora = self._add(name, {"source": source, **provenance}, replace=True)
        return {"filename": lora.filename, "path": str(self.root / lora.filename),
                "sha256": EMPTY_SHA256, "size_bytes": 0}

    def delete(self, name: str) -> dict[str, Any]:
        """``DELETE /api/v1/loras/{name}``: by stem, at the top level or one folder down."""
        for filename in list(self._files):
            path = PurePosixPath(filename)
            if path.stem == name and len(path.parts) <= 2:
                del self._files[filename]
                return {"success": True, "message": f"Deleted LoRA {filename}"}
        raise RouteError(404, f"LoRA {name} not found")

    def tag(self, filename: str, provenance: dict[str, Any]) -> dict[str, Any]:
        """``PUT /api/v1/lora/{filename}/provenance``: the file's manifest entry."""
        relative = _checked_name(filename)
        lora = self._files.get(relative)
        if lora is None:
            raise RouteError(404, f"LoRA file {filename} not found")
        lora.provenance = provenance
        return {"filename": lora.filename, "provenance": provenance, "sha256": EMPTY_SHA256,
                "size_bytes": 0, "added_at": lora.added_at.isoformat()}

    def _add(
        self, name: str, provenance: dict[str, Any], *, replace: bool = False
    ) -> _Lora:
        relative = _checked_name(name)
        if not relative.endswith(_EXTENSION):
            raise RouteError(400, f"Only {_EXTENSION} LoRA files are supported")
        if relative in self._files and not replace:
            raise RouteError(409, f"LoRA file {relative} already exists")
        lora = self._files[relative] = _Lora(relative, provenance)
        return lora

    def _info(self, lora: _Lora) -> dict[str, Any]:
        path = PurePosixPath(lora.filename)
        return {
            "name": path.stem,
            "path": str(self.root / lora.filename),
            "size_mb": 0.0,
            "folder": str(path.parent) if str(path.parent) != "." else None,
            "sha256": EMPTY_SHA256,
            "provenance": lora.provenance,
            "read_only": False,
        }


def _checked_name(name: str) -> str:
    """A relative path inside the LoRA directory; 400 if it would leave it."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.name:
        raise RouteError(400, "Invalid filename")
    return str(path)
