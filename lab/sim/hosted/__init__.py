"""The simulator's emulation of Daydream's hosted API (``api.daydream.live``), beside Scope's.

It is served by the same app and port as the Scope emulation (see :mod:`lab.sim.app`):
the hosted routes (``/v1/streams...``, ``/live/...``) and Scope's (``/api/v1/...``) do not
overlap, so ``daydream:sim`` needs no second server, and a hosted stream runs on the same
media path (:class:`lab.sim.media.session.MediaSession`) with the same ground truth.

Field names and types follow the public Python SDK ``daydream-sdk`` 0.1.0 (its pydantic
models, generated from the API's OpenAPI document 1.0.0). The status route is not in that
SDK: its shape follows the API's public documentation and client code (``state``,
``gateway_status.ingest_metrics``, ``inference_status``, ``input_status``).

Modules::

    config    HostedConfig (accepted keys, start-up, playback delay) and HostedFault
    params    the create/update body check, field by field, with the SDK's field names
    profile   the streamdiffusion profile of each public model (emulation choices)
    streams   HostedStream (one stream, its peer connections, its state) and HostedBook
    status    the status body of a stream, from its media session and peer connections
    routes    REST routes with Bearer key checks and faults
    webrtc    WHIP and WHEP endpoints, and the /sim/hosted control routes
"""
