"""The planner: one load per group, runtime settings as segments, a reason for every skip."""

from __future__ import annotations

import pytest

from lab.client import ScopeClient
from lab.sweep.planner import gather_facts, plan_sweep
from lab.sweep.spec import SpecError, load_spec, overrides_from_strings
from tests.conftest import SimControl

VACE_PIPELINES = {"streamdiffusionv2", "longlive", "krea-realtime-video", "reward-forcing", "memflow"}


async def _facts(client: ScopeClient, sim: SimControl, *, models: bool = True, vram_gb: float | None = None):
    if models:
        sim.put("/sim/models", {p: True for p in VACE_PIPELINES | {"video-depth-anything", "rife", "scribble"}})
    if vram_gb is not None:
        sim.put("/sim/hardware", {"vram_gb": vram_gb})
    return {"sim": await gather_facts(client)}


async def test_vace_spec_loads_once_per_pipeline_and_setting(client: ScopeClient, sim: SimControl) -> None:
    plan = plan_sweep(load_spec("vace"), await _facts(client, sim))
    assert {g.pipeline_id for g in plan.groups} == VACE_PIPELINES  # from the server's schemas
    assert plan.loads == 2 * len(VACE_PIPELINES)  # vace off, vace on
    on = next(g for g in plan.groups if g.pipeline_id == "longlive" and g.load == {"vace_enabled": True})
    off = next(g for g in plan.groups if g.pipeline_id == "longlive" and g.load == {"vace_enabled": False})
    # refs 0 (scale dropped: nothing to weigh) + 3 counts x 3 scales; VACE off: vace keys dropped
    assert [len(s) for s in on.sessions] == [10, 10]
    assert [len(s) for s in off.sessions] == [1, 1]
    assert plan.naive_loads == len(plan.trials) == 2 * 5 * 11
    ids = [t.trial_id for t in plan.trials]
    assert len(set(ids)) == len(ids)
    assert "110 trials in 10 loads (a load per trial would be 110)" in plan.describe()


async def test_unsupported_combinations_are_rows_with_reasons(client: ScopeClient, sim: SimControl) -> None:
    spec = load_spec({"pipelines": ["passthrough", "longlive", "krea-realtime-video", "nonexistent"],
                      "load": {"vace_enabled": [True]}, "mode": "video"})
    plan = plan_sweep(spec, await _facts(client, sim, models=False, vram_gb=24.0))
    reasons = {t.pipeline_id: t.skip for t in plan.skipped}
    assert reasons["passthrough"] == "no VACE support (schema supports_vace is false)"
    assert reasons["krea-realtime-video"].startswith("estimated VRAM 32 GB exceeds the pod's 24 GB")
    assert reasons["longlive"].startswith("models not downloaded")
    assert reasons["nonexistent"] == "the server does not list pipeline 'nonexistent'"
    assert plan.groups == []
    allowed = plan_sweep(load_spec({**spec.model_dump(), "allow_download": True}),
                         await _facts(client, sim, models=False, vram_gb=24.0))
    assert [g.pipeline_id for g in allowed.groups] == ["longlive"]


async def test_vace_off_on_a_pipeline_without_vace_is_just_a_plain_load(client: ScopeClient, sim: SimControl) -> None:
    spec = load_spec({"pipelines": ["passthrough"], "load": {"vace_enabled": [False, True]}})
    plan = plan_sweep(spec, await _facts(client, sim))
    assert [g.load for g in plan.groups] == [{}]
    assert [t.skip for t in plan.skipped] == ["no VACE support (schema supports_vace is false)"]


async def test_text_only_pipelines_keep_their_mode_and_video_is_preferred(client: ScopeClient, sim: SimControl) -> None:
    plan = plan_sweep(load_spec("pipelines"), await _facts(client, sim))
    modes = {g.pipeline_id: g.mode for g in plan.groups}
    assert modes["controller-viz"] == "text" and modes["longlive"] == "video" and modes["passthrough"] == "video"
    strict = plan_sweep(load_spec({"pipelines": ["controller-viz"], "mode": "video"}), await _facts(client, sim))
    assert strict.skipped[0].skip.startswith("mode 'video' not supported")


async def test_orders_grouped_and_seeded_random(client: ScopeClient, sim: SimControl) -> None:
    facts = await _facts(client, sim)
    base = {"pipelines": ["passthrough", "gray", "longlive"], "runtime": {"noise_scale": [0.1, 0.5, 0.9]}, "repeats": 2}
    grouped = plan_sweep(load_spec(base), facts)
    assert [g.pipeline_id for g in grouped.groups] == ["passthrough", "gray", "longlive"]
    assert [t.runtime["noise_scale"] for t in grouped.groups[0].sessions[0]] == [0.1, 0.5, 0.9]
    shuffled = [plan_sweep(load_spec({**base, "order": "random", "seed": seed}), facts) for seed in (1, 1, 2)]
    orders = [[(t.pipeline_id, t.runtime["noise_scale"]) for t in p.trials] for p in shuffled]
    assert orders[0] == orders[1] != orders[2]
    for plan in shuffled:  # still one load per group, all of a group's sessions together
        assert len(plan.groups) == 3 and sorted(t.trial_id for t in plan.trials) == sorted(t.trial_id for t in grouped.trials)
        assert [s.segment for s in plan.groups[0].sessions[0]] == [0, 1, 2]


async def test_estimate_adds_up_the_plan_by_its_parts(client: ScopeClient, sim: SimControl) -> None:
    spec = {"pipelines": ["passthrough", "longlive"], "runtime": {"noise_scale": [0.1, 0.5, 0.9]}, "repeats": 2,
            "duration_s": 8}
    plan = plan_sweep(load_spec(spec), await _facts(client, sim))
    # per group: load + 2 sessions x 5 s + 6 segments x 8 s + 4 settles (3 segments a session,
    # a settle between each) x 2 s = load + 66 s; the load is 5 s for passthrough (no models)
    # and 60 s for longlive (generative): 71 s + 126 s
    assert plan.estimates_s == {"sim": pytest.approx(71.0 + 126.0)}
    assert plan.estimated_s == pytest.approx(197.0)
    assert "sim: about 3.3 min of pod time" in plan.describe()


def test_spec_errors_say_what_is_wrong() -> None:
    with pytest.raises(SpecError, match="repeats"):
        load_spec({"repeats": 0})
    with pytest.raises(SpecError, match="durations_s"):
        load_spec({"durations_s": 5})  # a typo is an error, not a silent default
    with pytest.raises(SpecError, match="shipped specs: avatar, integration, nexus, pipelines, vace"):
        load_spec("no-such-spec")
    with pytest.raises(SpecError, match="KEY=VALUE"):
        overrides_from_strings(["duration_s"])
    assert overrides_from_strings(["pipelines=[a, b]", "duration_s=2.5"]) == {"pipelines": ["a", "b"], "duration_s": 2.5}
