"""A WebRTC session with a Scope server (aiortc): send input, receive output, talk parameters.

- :mod:`lab.rtc.session`: the session (:class:`RtcSession`, :func:`open_session`): offer
  and answer, the input track, the output frames, the ``parameters`` data channel;
- :mod:`lab.rtc.offer`: what the session offers (what Scope's own frontend offers);
- :mod:`lab.rtc.receiving`: the connection timeline and each received frame's times;
- :mod:`lab.rtc.receiver_hooks`: the receive clock's hooks into aiortc's receiver, the
  only place that touches its internals (checked against the tested aiortc at import).

A session's frames and frame log are :mod:`lab.feed`'s :class:`ReceivedFrame` and
:class:`FrameLog`.
"""

from lab.feed import FrameLog, ReceivedFrame
from lab.rtc.receiving import SessionTimeline
from lab.rtc.session import InputMode, RtcSession, open_session

__all__ = ["FrameLog", "InputMode", "ReceivedFrame", "RtcSession", "SessionTimeline", "open_session"]
