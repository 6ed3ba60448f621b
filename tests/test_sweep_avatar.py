"""The avatar sweep: VACE off, then on with the whole reference set at each context scale;
references from a folder, a list or the shipped set, checked before any pod time is spent;
sent once per segment, so that the similarity can drift (checked against the simulator's truth)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from PIL import Image

from lab.client import ScopeClient
from lab.resources import REF_DIR
from lab.sweep import load_spec, run_sweep
from lab.sweep.planner import gather_facts, plan_sweep
from lab.sweep.spec import SpecError, overrides_from_strings
from tests.conftest import SimControl

pytestmark = pytest.mark.slow  # streams in real time: `make check` leaves it out

VACE_PIPELINES = {"streamdiffusionv2", "longlive", "krea-realtime-video", "reward-forcing", "memflow"}
SHIPPED_SET = sorted(str(p.resolve()) for p in (REF_DIR / "avatar").glob("*.png"))


def _images(folder: Path, *names: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, name in enumerate(names):
        path = folder / name
        Image.new("RGB", (32, 32), (40 * k, 90, 160)).save(path)
        paths.append(path)
    return paths


async def _facts(client: ScopeClient, sim: SimControl) -> dict:
    sim.put("/sim/models", {p: True for p in VACE_PIPELINES})
    return {"sim": await gather_facts(client)}


def test_the_shipped_set_is_one_drawn_character_in_three_views() -> None:
    spec = load_spec("avatar")
    assert spec.references == SHIPPED_SET and [Path(p).name for p in SHIPPED_SET] == [
        "dj-front.png", "dj-left.png", "dj-right.png"]
    assert spec.reference_resend_s is None  # sent once per segment: the similarity is free to drift
    assert spec.duration_s >= 20 and spec.repeats >= 3 and spec.source == "file"  # drift shows; CIs over trials


async def test_avatar_plan_is_vace_off_then_the_whole_set_at_each_scale(client: ScopeClient, sim: SimControl) -> None:
    plan = plan_sweep(load_spec("avatar"), await _facts(client, sim))
    assert {g.pipeline_id for g in plan.groups} == VACE_PIPELINES  # every pipeline whose schema has VACE
    assert plan.loads == 2 * len(VACE_PIPELINES) and not plan.skipped
    for pipeline_id in VACE_PIPELINES:
        groups = {g.load["vace_enabled"]: g for g in plan.groups if g.pipeline_id == pipeline_id}
        assert [[t.runtime for t in s] for s in groups[False].sessions] == [[{}]] * 3  # the baseline, 3 repeats
        for session in groups[True].sessions:
            assert sorted(t.runtime["vace_context_scale"] for t in session) == [0.5, 1.0, 1.5]
            assert {t.runtime["vace_ref_images"] for t in session} == {3}  # "all" = the three images
    labels = {t.condition for t in plan.trials}
    assert labels == {"vace_enabled=false", *(f"vace_enabled=true vace_ref_images=3 vace_context_scale={s}"
                                              for s in (0.5, 1.0, 1.5))}


async def test_references_from_a_folder_or_a_list(client: ScopeClient, sim: SimControl, tmp_path: Path) -> None:
    images = _images(tmp_path / "mine", "b.png", "a.jpg")
    (tmp_path / "mine" / "notes.txt").write_text("not an image; ignored in a folder")
    folder = load_spec("avatar", overrides_from_strings([f"references={tmp_path / 'mine'}/"]))
    assert folder.references == sorted(str(p.resolve()) for p in images)  # images only, sorted by name
    listed = load_spec("avatar", {"references": [str(images[0])]})
    assert listed.references == [str(images[0].resolve())]
    plan = plan_sweep(load_spec(folder.model_dump() | {"pipelines": ["longlive"]}), await _facts(client, sim))
    assert {t.runtime.get("vace_ref_images") for t in plan.trials} == {None, 2}  # all = the folder's two


def test_bad_references_are_spec_errors_that_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"neither a folder or file that exists nor a shipped set \(avatar\)"):
        load_spec("avatar", {"references": str(tmp_path / "missing")})
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.md").write_text("x")
    with pytest.raises(SpecError, match=r"holds no images .* found readme.md\); put your reference images there"):
        load_spec("avatar", {"references": str(tmp_path / "empty")})
    fake = tmp_path / "fake" / "face.png"
    fake.parent.mkdir()
    fake.write_text("not a picture")
    with pytest.raises(SpecError, match=r"face.png is not an image PIL can read"):
        load_spec("avatar", {"references": str(fake.parent)})
    with pytest.raises(SpecError, match="no image file at"):
        load_spec("avatar", {"references": [str(tmp_path / "nope.png")]})
    two = _images(tmp_path / "two", "a.png", "b.png")
    with pytest.raises(SpecError, match=r"vace_ref_images: 3 asked for, but the references hold 2 image\(s\)"):
        load_spec({"references": [str(p) for p in two], "runtime": {"vace_ref_images": [3]}})
    with pytest.raises(SpecError, match="counts of reference images"):
        load_spec({"runtime": {"vace_ref_images": ["some"]}})


async def test_dry_run_plans_and_writes_nothing(sim: SimControl, tmp_path: Path) -> None:
    sim.put("/sim/models", {p: True for p in VACE_PIPELINES})
    outcome = await run_sweep(load_spec("avatar"), targets=[sim.url], out_dir=tmp_path / "results", dry_run=True,
                              progress=False)
    assert outcome.root is None and not (tmp_path / "results").exists()
    assert "60 trials in 10 loads" in outcome.plan.describe()  # 5 pipelines x (off + 3 scales) x 3 repeats


async def test_references_are_recorded_and_sent_once_per_segment(sim: SimControl, tmp_path: Path) -> None:
    """Ground truth: the simulator's chunks restart the reference clock once per VACE segment."""
    sim.put("/sim/models", {"streamdiffusionv2": True})
    images = _images(tmp_path / "refs", "face.png", "side.png")
    spec = load_spec("avatar", {"pipelines": ["streamdiffusionv2"], "references": str(tmp_path / "refs"),
                                "repeats": 1, "duration_s": 1.5, "settle_timeout_s": 2.0, "order": "grouped"})
    outcome = await run_sweep(spec, targets=[sim.url], out_dir=tmp_path / "results", progress=False)
    assert outcome.root is not None
    manifest = json.loads((outcome.root / "manifest.json").read_text())
    assert manifest["spec"]["references"] == [str(p.resolve()) for p in images]  # what the scorer compares with
    assert [Path(p).name for p in manifest["references"][sim.url]] == ["face.png", "side.png"]  # server paths
    sends = []
    for session in httpx.get(f"{sim.url}/sim/sessions").json():
        chunks = httpx.get(f"{sim.url}/sim/sessions/{session['session_id']}/truth").json()["chunks"]
        sends.append(len({since for since in chunks["ref_since_ns"] if since is not None}))
    assert sorted(sends) == [0, 3]  # VACE off: none; VACE on: one send per scale, never re-sent
