"""Embeddings for the quality figures: the real loading path on a small CLIP built here.

Nothing downloads: the model is built with random weights and written into a Hugging Face
cache folder laid out as the hub lays it out (``models--org--name/snapshots/<rev>`` and
``refs/main``), then loaded by :func:`lab.quality.embed.load_embedder` exactly as a real
model is. Random weights make the similarities meaningless, so these tests check
mechanics (shapes, unit length, batching, caching, errors), and the pixel embedder, which
needs no model, is checked for meaning.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from lab.errors import ModelWeightsMissingError, QualityExtraMissingError
from lab.quality import embed
from lab.quality.embed import PIXELS, cosine, load_embedder

REPO_ID = "lab-tests/tiny-clip"
REVISION = "0123456789abcdef0123456789abcdef01234567"
VOCAB = ["<unk>", "<pad>", "<s>", "</s>", "a", "red", "fox", "blue", "avatar", "portrait"]


def write_tiny_clip(cache: Path) -> Path:
    """A small random CLIP (with tokenizer and image processor) as a hub cache snapshot."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, PreTrainedTokenizerFast

    repo = cache / f"models--{REPO_ID.replace('/', '--')}"
    snapshot = repo / "snapshots" / REVISION
    config = CLIPConfig(
        text_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "vocab_size": len(VOCAB), "max_position_embeddings": 16,
                     "bos_token_id": 2, "eos_token_id": 3, "pad_token_id": 1},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(snapshot)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(snapshot)
    words = Tokenizer(models.WordLevel({w: i for i, w in enumerate(VOCAB)}, unk_token="<unk>"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=words, unk_token="<unk>", pad_token="<pad>",
                            model_max_length=16).save_pretrained(snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(REVISION)
    return snapshot


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("hf-cache")
    write_tiny_clip(cache)
    return cache


def frames(count: int, size: int = 48, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(count)]


def test_a_clip_model_loads_from_the_cache_and_embeds_images_and_text(hub_cache: Path) -> None:
    embedder = load_embedder(REPO_ID, cache_dir=hub_cache, download=False)
    images = embedder.images(frames(3))
    texts = embedder.texts(["a red fox", "blue avatar portrait"])
    assert embedder.model_id == REPO_ID
    assert images.shape == (3, 16) and texts is not None and texts.shape == (2, 16)
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    # The same picture embeds the same way whatever else is in the batch.
    np.testing.assert_allclose(embedder.images(frames(3)[:1])[0], images[0], atol=1e-5)


def test_batches_longer_than_one_pass_give_the_same_rows(hub_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = load_embedder(REPO_ID, cache_dir=hub_cache, download=False)
    whole = embedder.images(frames(5))
    monkeypatch.setattr(embed, "_BATCH", 2)
    np.testing.assert_allclose(embedder.images(frames(5)), whole, atol=1e-5)


def test_a_loaded_model_is_kept_for_the_process(hub_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_embedder(REPO_ID, cache_dir=hub_cache, download=False)
    monkeypatch.setattr(embed, "ClipEmbedder", lambda *a: pytest.fail("loaded a second time"))
    assert load_embedder(REPO_ID, cache_dir=hub_cache, download=False) is first


def test_missing_weights_say_where_they_were_looked_for(tmp_path: Path) -> None:
    with pytest.raises(ModelWeightsMissingError) as caught:
        load_embedder("lab-tests/not-cached", cache_dir=tmp_path, download=False)
    message = str(caught.value)
    assert str(tmp_path) in message and "lab-tests/not-cached" in message and PIXELS in message
    assert caught.value.model_id == "lab-tests/not-cached"


def test_missing_extra_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers -> ImportError
    embed._load_clip.cache_clear()
    with pytest.raises(QualityExtraMissingError) as caught:
        load_embedder(REPO_ID, cache_dir=tmp_path, download=False)
    assert "scope-lab[quality]" in str(caught.value)
    embed._load_clip.cache_clear()


def test_the_pixel_embedder_needs_no_model_and_follows_the_colour_layout() -> None:
    embedder = load_embedder(PIXELS)
    base = frames(1, size=64, seed=7)[0]
    other = frames(1, size=64, seed=8)[0]
    brighter = np.clip(base.astype(int) + 20, 0, 255).astype(np.uint8)
    # A mix that is 70 % base is closer to base than a 30 % mix is.
    mix70 = (0.7 * base + 0.3 * other).astype(np.uint8)
    mix30 = (0.3 * base + 0.7 * other).astype(np.uint8)
    rows = embedder.images([base, brighter, mix70, mix30, other])
    similarity = cosine(rows, rows[0])
    assert embedder.texts(["a red fox"]) is None
    assert similarity[1] > 0.99  # a brightness offset is not a change of layout
    assert similarity[2] > similarity[3] > similarity[4]
