"""Measurement: one trial against a server and the figures it yields.

A trial is planned by a :class:`~lab.measure.spec.TrialSpec` and run by
:func:`lab.measure.run.run_trial` (or :func:`~lab.measure.run.run_session`, several settings
in one stream). It streams a stimulus (:mod:`~lab.measure.stimulus`) over one path (WebRTC or
headless, :mod:`~lab.measure.paths`), records every frame (:mod:`~lab.measure.recorder`) and
turns what came back (:mod:`~lab.measure.result`) into figures (:mod:`~lab.measure.analysis`):
arrivals and steady fps (:mod:`~lab.measure.arrivals`), latency from frame stamps
(:mod:`~lab.measure.latency`), visible changes after a control (:mod:`~lab.measure.change`),
the server's own recording (:mod:`~lab.measure.server_recording`), repeats across trials
(:mod:`~lab.measure.repeats`). How prompt changes are sent is :mod:`~lab.measure.transition`.
A trial on Daydream's hosted API runs the same session code on a hosted stream
(:mod:`~lab.measure.hosted`; what differs: :mod:`~lab.measure.paths`).
Statistics live in :mod:`lab.stats` and the stamp codec in :mod:`lab.stamp`, below this layer,
since sources and the simulator use them too.
"""
