"""The doctor's checks of what the server offers once reached: GPU VRAM, which pipelines fit
it, models downloaded, plugins and LoRAs, inputs and Spout/NDI/Syphon, ICE servers (TURN), a
WebRTC round trip through passthrough and, with ``--deep``, a generative pipeline's load."""

from __future__ import annotations

import asyncio

from lab.doctor.report import Check
from lab.doctor.state import DoctorRun
from lab.inputs import INTEGRATIONS, describe_integration, pod_inputs
from lab.models import gpu_memory_text

__all__ = ["MIN_VRAM_GB", "check_hardware", "check_pipeline_fit", "check_models", "check_plugins", "check_inputs",
           "check_ice", "check_webrtc", "check_deep_load"]

MIN_VRAM_GB = 24.0  # the research log's minimum for the generative pipelines
ROUND_TRIP_FPS = 15.0
ROUND_TRIP_S = 3.0
DEEP_STREAM_S = 4.0


async def check_hardware(run: DoctorRun) -> Check:
    assert run.client is not None
    vram = run.vram_gb = (await run.client.hardware_info()).vram_gb
    in_use = f"; memory in use (/session/metrics): {gpu_memory_text((await run.client.session_metrics()).gpu)}"
    if vram is None:
        return Check("gpu vram", "warn", "no CUDA GPU reported" + in_use,
                     "Only the CPU pipelines (passthrough, gray, ...) are available. The generative "
                     f"pipelines need an NVIDIA GPU with at least {MIN_VRAM_GB:g} GB.")
    if vram < MIN_VRAM_GB:
        return Check("gpu vram", "fail", f"{vram:.1f} GB{in_use}",
                     f"Below the {MIN_VRAM_GB:g} GB the generative pipelines need: choose a larger GPU "
                     "(RTX 4090/5090) for the pod.")
    return Check("gpu vram", "pass", f"{vram:.1f} GB (minimum {MIN_VRAM_GB:g} GB){in_use}")


async def check_pipeline_fit(run: DoctorRun) -> Check:
    assert run.client is not None
    schemas = run.schemas = await run.client.pipeline_schemas(refresh=True)
    sized = [s for s in schemas.pipelines.values() if s.estimated_vram_gb is not None]
    misfits = [s for s in sized if s.fits_vram(run.vram_gb) is False]
    value = f"{len(schemas.ids)} pipelines; {len(sized) - len(misfits)}/{len(sized)} with a VRAM estimate fit"
    if misfits:
        names = ", ".join(f"{s.id} ({s.estimated_vram_gb:g} GB)" for s in misfits)
        return Check("pipelines fit", "warn", value,
                     f"These need more than the GPU's {run.vram_gb:.1f} GB: {names}. Load them with "
                     "quantization='fp8_e4m3fn' where supported, or use a larger GPU.")
    return Check("pipelines fit", "pass", value)


async def check_models(run: DoctorRun) -> Check:
    assert run.client is not None and run.schemas is not None
    needing = [s.id for s in run.schemas.pipelines.values() if s.requires_models]
    statuses = await asyncio.gather(*(run.client.models_status(pid) for pid in needing))
    missing = [pid for pid, status in zip(needing, statuses, strict=True) if not status.downloaded]
    value = f"{len(needing) - len(missing)}/{len(needing)} pipelines with models have them downloaded"
    if missing:
        return Check("models", "warn", value,
                     f"Missing: {', '.join(missing)}. Download before measuring (first use takes minutes): "
                     f"`download_models --pipeline {missing[0]}` on the pod, or "
                     f"`await client.download_models('{missing[0]}')`.")
    return Check("models", "pass", value)


async def check_plugins(run: DoctorRun) -> Check:
    """Installed plugins and LoRAs (what researchers bring to the pod), and plugins that failed to load."""
    assert run.client is not None
    inputs = run.inputs = await pod_inputs(run.client)
    value = f"plugins: {inputs.plugins_text()}; LoRAs: {inputs.loras_text()}"
    if inputs.plugins is not None and inputs.plugins.failed_plugins:
        return Check("plugins", "warn", value, "A plugin failed to load, so its pipelines are missing: reinstall it "
                     "(POST /api/v1/plugins with upgrade or force) or read the server log for the import error.")
    return Check("plugins", "pass", value)


async def check_inputs(run: DoctorRun) -> Check:
    """Server-side input sources and Spout/NDI/Syphon: available or not, the server's reason and install hint."""
    assert run.client is not None
    inputs = run.inputs or await pod_inputs(run.client)
    sharing = "; ".join(f"{name}: {describe_integration(name, inputs.integrations[name])}" for name in INTEGRATIONS)
    return Check("inputs", "pass", f"input sources: {inputs.sources_text()}; {sharing}")


async def check_ice(run: DoctorRun) -> Check:
    assert run.client is not None and run.target is not None
    servers = await run.client.ice_servers()
    turn = [s for s in servers if s.is_turn]
    kinds = sorted({url.split(":", 1)[0] for s in servers for url in s.url_list})
    value = f"{len(servers)} ICE servers ({', '.join(kinds) or 'none'}); TURN {'present' if turn else 'absent'}"
    if turn or (run.target.is_loopback and not run.judge_as_remote):
        return Check("ice servers", "pass", value + ("" if turn else "; not needed on loopback"))
    return Check("ice servers", "warn", value,
                 "Without a TURN relay, WebRTC to a RunPod pod usually fails (the research log's 'WebRTC "
                 "fails'). Set HF_TOKEN (HuggingFace token with read permission) in the pod's environment "
                 "and restart it: Scope then fetches Cloudflare TURN credentials.")


async def check_webrtc(run: DoctorRun) -> Check | None:
    """A real round trip: passthrough, stamped 512x512 input at 15 fps for a few seconds."""
    assert run.client is not None and run.schemas is not None
    if not run.stream:
        return None
    if "passthrough" not in run.schemas.pipelines:
        return Check("webrtc", "warn", "no passthrough pipeline to test with",
                     "This server lists no passthrough pipeline; the WebRTC check needs it.")
    from lab.measure.run import run_trial
    from lab.measure.spec import TrialSpec

    result = await run_trial(run.client, TrialSpec("passthrough", source="stamped", fps=ROUND_TRIP_FPS,
                                                   duration_s=ROUND_TRIP_S, resolution=(512, 512)))
    if result.error:
        return Check("webrtc", "fail", f"{result.error['class']} while {result.error['phase']}ing",
                     result.error["message"])
    fps = result.figure("fps_out").value or 0.0
    latency = result.figure("latency_p50").value
    value = (f"connected in {1e3 * (result.timeline.connect_s or 0):.0f} ms, first frame after "
             f"{1e3 * (result.timeline.ttff_s or 0):.0f} ms, {fps:.1f} fps, "
             f"latency p50 {latency:.0f} ms (passthrough, 15 fps in; loads passthrough)" if latency is not None else
             f"{fps:.1f} fps, no stamp read back")
    if latency is None or fps < 0.8 * ROUND_TRIP_FPS:
        return Check("webrtc", "warn", value, "Frames came back slower than sent or without their stamps: the "
                     "network path is lossy or slow (no TURN? a far pod?); measure on a better connection.")
    return Check("webrtc", "pass", value)


async def check_deep_load(run: DoctorRun) -> Check | None:
    """--deep: load the smallest generative pipeline that fits and has its models; time it."""
    if not run.deep:
        return None
    assert run.client is not None and run.schemas is not None
    candidates = sorted((s for s in run.schemas.pipelines.values()
                         if s.is_generative and s.fits_vram(run.vram_gb) is not False),
                        key=lambda s: s.estimated_vram_gb or 0.0)
    ready = [s for s in candidates if (await run.client.models_status(s.id)).downloaded]
    if not ready:
        return Check("deep load", "warn", "no generative pipeline with downloaded models fits this GPU",
                     "Download one first (see the models row), then run --deep again.")
    from lab.measure.run import run_trial
    from lab.measure.spec import TrialSpec

    pipeline = ready[0].id
    result = await run_trial(run.client, TrialSpec(pipeline, mode="text", duration_s=DEEP_STREAM_S,
                                                   parameters={"prompts": [{"text": "a calm lake at dawn", "weight": 1.0}]}))
    if result.error:
        return Check("deep load", "fail", f"{pipeline}: {result.error['class']}", result.error["message"])
    return Check("deep load", "pass", f"{pipeline}: loaded in {result.figure('load_s').value:.1f} s, first frame "
                 f"{result.figure('ttff_s').value:.2f} s after the offer, {result.figure('fps_out').value or 0:.1f} fps (t2v)")


