"""Measurement: one trial against a server and the figures it yields.

A trial (:mod:`lab.measure.trial`) loads a pipeline, streams a stimulus over one path
(WebRTC or headless, :mod:`lab.measure.paths`) and turns what came back into figures:
arrivals and steady fps (:mod:`~lab.measure.arrivals`), latency from frame stamps
(:mod:`~lab.measure.latency`), visible changes after a control (:mod:`~lab.measure.change`),
repeats across trials (:mod:`~lab.measure.repeats`). Statistics live in :mod:`lab.stats` and
the stamp codec in :mod:`lab.stamp`, below this layer, since sources and the simulator use
them too.
"""
