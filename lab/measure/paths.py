"""What each integration path's figures mean: WebRTC, headless ``output.ts``, frame polling.

A trial reads Scope's output one way (its ``via``); the figures keep their names across
paths so that tables line up, with the same definitions where they apply
(:mod:`lab.measure.arrivals` for rates, warm-up, intervals and stalls; the change detector
of :mod:`lab.measure.change` for control latency). What differs:

- **Time to first frame** (``ttff_s``) runs from the request that starts the stream (the SDP
  offer; ``POST /api/v1/session/start``) to the first frame's arrival at the reader. Its
  parts: ``signalling_s`` (the offer's or the start request's answer), ``connect_s`` (to
  ICE+DTLS connected; to the reader being open: ``output.ts`` headers or the first
  ``/session/frame`` answer) and ``first_frame_s``. A late ``output.ts`` reader also waits
  for the next key frame.
- **Arrival** of a frame: its last RTP packet (WebRTC); the HTTP chunk holding its last
  byte (``output.ts``); the answer of the poll that first returned it (polling, so at most
  one poll interval late, and never more frames per second than polls: ``poll_hz`` is
  stored with the figures).
- **Latency.** Over WebRTC the client sends the input, so ``latency_p50`` (stamped input to
  output) and ``step_latency_*`` (input scene switch to output) exist. A headless session's
  input is played on the server, and nothing tells the client when a given input frame was
  read, so input-to-output latency cannot be measured there. **For headless paths,
  latency means control latency**: a parameter update sent by ``POST
  /api/v1/session/parameters`` to the first output frame showing it at the reader
  (``control_latency_*``), the same definition and detector as WebRTC control latency,
  whose update goes over the data channel instead. The two control latencies compare the
  paths as an integrator uses them; neither is comparable to ``latency_p50`` or
  ``step_latency_*``, which only WebRTC has. Both include Scope's wait for the next chunk
  and its prompt transition, whose settings the trial records (its parameters).

**Daydream's hosted API** (``daydream:`` targets, path ``whip``; :mod:`lab.measure.hosted`)
measures the same figures under the same names where they apply. What differs from Scope:

- **No** ``/pipeline/load``: the "load" is stream creation plus readiness. ``create_s`` is
  ``POST /v1/streams`` sent to its answer; ``load_s`` runs from that request to the first
  status poll (``GET /v1/streams/{id}/status``) showing the output playing, so it is
  accurate to the poll interval, and it includes the WHIP connection, because the service
  starts a stream's pipeline when its input arrives.
- **Start and ttff.** Two WebRTC connections instead of one: our input goes out over WHIP
  and the output comes back over WHEP. ``signalling_s`` is the WHIP offer to its answer,
  ``connect_s`` that answer to the ingest's ICE+DTLS connected, ``first_frame_s`` from there
  to the first output frame over WHEP, and ``ttff_s`` the WHIP offer to that frame. Unlike
  Scope's, ttff therefore includes the stream's start-up (Scope's happens in the load, before
  the offer) and the WHEP set-up, whose "not published yet" 404s are retried every poll
  interval.
- **Arrival** is the last RTP packet of each WHEP output frame, as over Scope's WebRTC; the
  input is ours (sent over WHIP), so stamped latency (``latency_p50``) and step latency
  (``step_latency_*``, input scene switch to output) mean what they mean for Scope.
- **Control latency** is a ``PATCH /v1/streams/{id}`` of the params (the prompt) sent to the
  first visibly changed output frame, with the same change detector. It includes the REST
  round trip and the service's own apply path; there is no data channel.
- **The service's own figures** come from the status route, sampled once a second:
  ``server_fps_out`` (``inference_status.fps``) beside ``server_fps_in``, ``server_restarts``
  and the ingest's jitter, RTT and loss as the service measured them.
"""

from __future__ import annotations

from lab.stats import Figure

__all__ = ["WHIP", "CREATED_STAGE", "connection_notes", "control_note", "poll_figures", "server_note", "NOT_COMPARABLE"]

WHIP = "whip"  # the path of a hosted stream: input over WHIP, output over WHEP, updates by PATCH
CREATED_STAGE = "stream created"  # the hosted "load"'s one stage: POST /v1/streams answered

NOT_COMPARABLE = ("not comparable with WebRTC latency_p50 or step latency (input to output): "
                  "the headless input is played on the server")

_NOTES: dict[str, dict[str, str]] = {
    "webrtc": {"signalling_s": "offer sent to answer", "connect_s": "answer to ICE+DTLS connected",
               "first_frame_s": "connected to first output frame", "ttff_s": "offer sent to first output frame"},
    "headless-ts": {"signalling_s": "POST /session/start sent to its answer",
                    "connect_s": "answer to output.ts response headers",
                    "first_frame_s": "output.ts open to first frame's bytes in (from a key frame)",
                    "ttff_s": "POST /session/start sent to first output.ts frame"},
    "headless-frame": {"signalling_s": "POST /session/start sent to its answer",
                       "connect_s": "answer to the first /session/frame answer",
                       "first_frame_s": "first poll answer to the first frame polled",
                       "ttff_s": "POST /session/start sent to the first frame polled"},
    WHIP: {"signalling_s": "WHIP offer sent to its answer", "connect_s": "WHIP answer to the ingest's ICE+DTLS connected",
           "first_frame_s": "ingest connected to the first output frame over WHEP (start-up included)",
           "ttff_s": "WHIP offer sent to the first output frame over WHEP (start-up included)",
           "create_s": "POST /v1/streams sent to its answer (the SDK checks the params first)",
           "load_s": "POST /v1/streams sent to the first status poll showing the output playing"},
}


def connection_notes(via: str) -> dict[str, str]:
    """The notes of the connection figures for a path."""
    return _NOTES[via]


def control_note(via: str) -> str:
    """What a control latency of this path measures."""
    if via == "webrtc":
        return "update sent on the data channel to the first changed frame"
    if via == WHIP:
        return "PATCH /v1/streams/{id} sent to the first changed frame over WHEP"
    return f"POST /session/parameters sent to the first changed frame at the {via} reader; " + NOT_COMPARABLE


def server_note(via: str) -> str:
    """Where ``server_fps_out`` comes from on this path."""
    if via == WHIP:
        return "reported by the service (GET /v1/streams/{id}/status, inference_status.fps)"
    return "reported by the server (/api/v1/session/metrics), averaged since its stream began"


def poll_figures(via: str, poll_hz: float, polls: int, empty: int, new_frames: int) -> list[Figure]:
    """The polling rate and what the polls saw (``headless-frame`` only; none otherwise)."""
    if via != "headless-frame":
        return []
    return [Figure("poll_hz", poll_hz, "Hz", polls,
                   note="/session/frame polled this often: the fps it sees is capped by it"),
            Figure("polls_empty", float(empty), "count", polls, note="polls answered 404 (no frame yet)"),
            Figure("frames_polled", float(new_frames), "frames", polls, note="distinct frames seen")]
