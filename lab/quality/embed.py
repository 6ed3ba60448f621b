"""Image and text embeddings: how close the output is to the VACE references and to the prompt.

Two kinds of embedder share one small interface (``images``, ``texts``, ``model_id``):

- ``"pixels"``: model-free and always installed. A frame becomes its 16x16 colour layout
  with each channel's mean removed, L2-normalised, so the cosine of two frames is the
  correlation of their colour layouts. It sees composition and colour, not identity: a
  sanity check, and what the tests use against the simulator (which paints references
  as pixels). It has no text side.
- any Hugging Face repository holding a CLIP model (``transformers``' ``CLIPModel``),
  by default ``openai/clip-vit-base-patch32``. Needs the optional extra
  ``scope-lab[quality]`` (torch and transformers) and the weights in the Hugging Face
  cache, downloaded there on first use by a machine with internet.

Why CLIP: one model gives both figures the research log asks for, similarity of the output
to the reference images (image to image) and alignment with the prompt (image to text), in
one embedding space, from a widely used and well-studied family. DINOv2 separates
instances better but has no text side, so prompt alignment would need a second model.
``transformers`` rather than ``open_clip``: open_clip needs torchvision for its transforms,
which adds a second large, torch-version-locked binary; transformers needs torch alone.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from lab.errors import ModelWeightsMissingError, QualityExtraMissingError

if TYPE_CHECKING:
    import torch

__all__ = ["DEFAULT_MODEL", "PIXELS", "ClipEmbedder", "Embedder", "PixelEmbedder", "cosine", "load_embedder"]

PIXELS = "pixels"
DEFAULT_MODEL = "openai/clip-vit-base-patch32"
# What a CLIP repository needs here: config, tokenizer and processor files, and the
# safetensors weights (repositories also carry TF/Flax/pickle copies nobody here uses).
_WEIGHT_FILES = ["*.json", "*.txt", "*.model", "*.safetensors"]
_LAYOUT_SIZE = 16
_BATCH = 32


class Embedder(Protocol):
    """Turns frames (and maybe text) into L2-normalised vectors; cosine = dot product."""

    model_id: str

    def images(self, frames: Sequence[NDArray[np.uint8]]) -> NDArray[np.float32]:
        """One row per RGB frame (H, W, 3), unit length."""
        ...

    def texts(self, texts: Sequence[str]) -> NDArray[np.float32] | None:
        """One row per text, unit length; ``None`` when the embedder has no text side."""
        ...


def cosine(rows: NDArray[np.float32], reference: NDArray[np.float32]) -> NDArray[np.float64]:
    """Cosine of each row of ``rows`` with ``reference`` (both unit length)."""
    return (rows.astype(np.float64) @ reference.astype(np.float64)).clip(-1.0, 1.0)


class PixelEmbedder:
    """The colour layout of a frame (see the module docstring); no model, no text."""

    model_id = PIXELS

    def images(self, frames: Sequence[NDArray[np.uint8]]) -> NDArray[np.float32]:
        import cv2

        rows = []
        for frame in frames:
            small = cv2.resize(frame, (_LAYOUT_SIZE, _LAYOUT_SIZE), interpolation=cv2.INTER_AREA)
            layout = small.astype(np.float32)
            layout -= layout.mean(axis=(0, 1), keepdims=True)
            rows.append(layout.ravel())
        return _unit_rows(np.stack(rows)) if rows else np.zeros((0, 3 * _LAYOUT_SIZE**2), np.float32)

    def texts(self, texts: Sequence[str]) -> None:
        return None


class ClipEmbedder:
    """A CLIP model from a local snapshot folder, run on the CPU in inference mode."""

    def __init__(self, model_id: str, folder: Path) -> None:
        import torch
        from transformers import AutoTokenizer, CLIPImageProcessor, CLIPModel

        self.model_id = model_id
        self._torch = torch
        self._model = CLIPModel.from_pretrained(folder).eval()
        self._processor = CLIPImageProcessor.from_pretrained(folder)
        self._tokenizer = AutoTokenizer.from_pretrained(folder)

    def images(self, frames: Sequence[NDArray[np.uint8]]) -> NDArray[np.float32]:
        outputs = []
        for start in range(0, len(frames), _BATCH):
            batch = self._processor(images=list(frames[start:start + _BATCH]), return_tensors="pt")
            with self._torch.inference_mode():
                outputs.append(_features(self._model.get_image_features(pixel_values=batch["pixel_values"])))
        return _unit_rows(np.concatenate(outputs)) if outputs else np.zeros((0, self._dim), np.float32)

    def texts(self, texts: Sequence[str]) -> NDArray[np.float32]:
        tokens = self._tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt")
        with self._torch.inference_mode():
            features = self._model.get_text_features(input_ids=tokens["input_ids"],
                                                     attention_mask=tokens.get("attention_mask"))
        return _unit_rows(_features(features))

    @property
    def _dim(self) -> int:
        return int(self._model.config.projection_dim)


def load_embedder(model_id: str = DEFAULT_MODEL, *, cache_dir: Path | None = None,
                  download: bool = True) -> Embedder:
    """The embedder for ``model_id`` (``"pixels"`` or a Hugging Face CLIP repository).

    CLIP models are loaded once per process and kept. Weights come from the Hugging Face
    cache (``cache_dir``, else ``HF_HUB_CACHE`` / ``HF_HOME``); when they are missing and
    ``download`` is true they are downloaded there first (unless ``HF_HUB_OFFLINE`` is set).

    Raises
    ------
    QualityExtraMissingError
        torch or transformers is not installed (``pip install 'scope-lab[quality]'``).
    ModelWeightsMissingError
        the weights are not in the cache and could not or may not be downloaded.
    """
    if model_id == PIXELS:
        return PixelEmbedder()
    return _load_clip(model_id, None if cache_dir is None else str(cache_dir), download)


@functools.lru_cache(maxsize=4)
def _load_clip(model_id: str, cache_dir: str | None, download: bool) -> ClipEmbedder:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise QualityExtraMissingError(
            f"The embedding figures (reference similarity, prompt alignment) need torch and "
            f"transformers, which are not installed ({exc.name} is missing). Install the extra: "
            f"pip install 'scope-lab[quality]' (on a CPU-only machine, torch's CPU build: "
            f"pip install torch --index-url https://download.pytorch.org/whl/cpu). "
            f"The model-free figures run without it; or use --model {PIXELS}.",
            model_id=model_id,
        ) from exc
    return ClipEmbedder(model_id, _snapshot(model_id, cache_dir, download))


def _snapshot(model_id: str, cache_dir: str | None, download: bool) -> Path:
    """The local folder of ``model_id``'s files in the Hugging Face cache, downloading if allowed."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(model_id, cache_dir=cache_dir, allow_patterns=_WEIGHT_FILES,
                                      local_files_only=True))
    except LocalEntryNotFoundError:
        pass
    where = cache_dir or constants.HF_HUB_CACHE
    if not download or constants.HF_HUB_OFFLINE:
        why = "downloads are off (HF_HUB_OFFLINE is set)" if constants.HF_HUB_OFFLINE else "downloading was not allowed"
        raise _weights_missing(model_id, where, why)
    try:
        return Path(snapshot_download(model_id, cache_dir=cache_dir, allow_patterns=_WEIGHT_FILES))
    except OSError as exc:  # no network, an unknown repository, a full disk: huggingface_hub's errors are OSErrors
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _weights_missing(model_id, where, f"downloading them failed ({reason})") from exc


def _weights_missing(model_id: str, where: str, why: str) -> ModelWeightsMissingError:
    return ModelWeightsMissingError(
        f"The weights of {model_id} are not in the Hugging Face cache ({where}) and {why}. "
        f"On a machine with internet, run `lab quality RUN --model {model_id}` once (it downloads "
        f"them into the cache), or copy that cache's models--{model_id.replace('/', '--')} folder "
        f"here. The model-free figures run without them; or use --model {PIXELS}.",
        model_id=model_id,
    )


def _features(output: Any) -> NDArray[np.float32]:
    """The projected embedding from a transformers output (a tensor, or ``pooler_output``)."""
    tensor: torch.Tensor = getattr(output, "pooler_output", output)
    return tensor.detach().float().cpu().numpy()


def _unit_rows(rows: NDArray[Any]) -> NDArray[np.float32]:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.where(norms > 0, norms, 1.0)).astype(np.float32)
