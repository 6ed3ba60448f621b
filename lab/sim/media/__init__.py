"""The simulator's media path: Scope-like sessions over aiortc or headless, with ground truth.

A session answers a client's offer, receives its video (video-to-video) or none
(text-to-video), runs the emulated pipeline chain chunk by chunk, paces the output as
Scope 0.2.4 does, takes parameter updates over the data channel, acts
out media faults, and records the truth of every frame it sends.

Media runs in REAL time: :attr:`lab.sim.config.SimConfig.speed` scales loads and downloads,
never chunk compute times, pipeline delays, pacing or fault timings.

Modules::

    parameters  Scope's Parameters model (422 validation); a session's pending updates
    chain       the pipeline chain a session runs, resolved from profiles and load params
    timing      emulated compute time of generative chunks (resolution, steps, warm-up, VACE)
    render      pixels of generative output (prompt looks, input blend, reference, noise)
    quality     reference share over time (identity drift) and flicker: knobs and truth
    queues      input and output frames and Scope's bounded queues (sampling, drops)
    processor   the chunk loop: consume input, apply one update, compute, emit
    pacing      when each output frame goes and its pts (throughput or input timestamps)
    tracks      the output track (pacing, pause repeats, stall/dead faults) and input reader
    truth       per-session ground truth: frames, inputs, chunks, messages (columns of lists)
    columns     the column table every truth is kept in
    recorder    a server-side recording: the frames a track sends, encoded to MP4
    h264        the H.264 stream and even-size padding both encoders share
    session     one session: its peer connection, tracks, processor, data channel, faults
    headless    the headless session: the same, fed by a server-side source, sent to a sink
    tsout       the headless output.ts: one H.264 encoder, MPEG-TS pieces to every client
    signalling  SDP offer to answer (loopback-only ICE, ice_fail), trickled candidates
    sessions    all sessions of a simulator: open, start headless, find, broadcast, metrics, reset
"""

from __future__ import annotations

from lab.sim.media.sessions import PipelineNotLoadedError, SessionBook, UnknownSessionError
from lab.sim.media.parameters import Parameters
from lab.sim.media.signalling import InvalidCandidateError

__all__ = [
    "InvalidCandidateError",
    "Parameters",
    "PipelineNotLoadedError",
    "SessionBook",
    "UnknownSessionError",
]
