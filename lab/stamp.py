"""Frame stamp codec: a frame id written into the pixels, read back after a video codec.

A stamp is a 16 x 3 grid of black and white cells, 16 x 16 px each, in the top-left
corner of the frame (256 x 48 px). The cells sit on the 16 x 16 macroblock grid of VP8
and H.264, so each cell is one flat macroblock: encoders keep its DC level even when they
starve it of bits, and deblocking only touches the 3 px next to its edges, which the
decoder does not look at.

Layout (``W``/``B`` = fixed white/black marker cells, ``.`` = one code bit)::

    W..............B
    B......WB......W
    W..............B

The 40 code cells carry, row by row and most significant bit first, the frame id in
Gray code (24 bits) followed by a CRC-16 of those 24 bits (16 bits).

Decoding reads only the centre 8 x 8 px of each cell (about 9,000 bytes of a frame).
It takes the white and black levels from the markers, so brightness and contrast
changes do not matter, and refuses to guess:

* the marker levels must differ by ``MIN_CONTRAST`` ("low contrast");
* every marker cell must lie on its own side of the midpoint ("marker not found");
* every code cell must lie at least ``MIN_MARGIN`` of the half-contrast away from the
  midpoint ("ambiguous cell");
* the CRC must match ("checksum mismatch").

Why these codes: the CRC polynomial was chosen by exhaustive search over all 2^24 ids:
the 40-bit code has Hamming distance 6, so any 1 to 5 misread cells are always
detected. Gray code makes neighbouring ids differ in one data cell, so a picture mixing
the cells of two consecutive stamps (a codec updating only some macroblocks) reads as
one of the two ids or fails, never as a third id.

Examples
--------
>>> import numpy as np
>>> frame = stamp_frame(np.zeros((320, 576, 3), np.uint8), 1234)
>>> decode_stamp(frame).frame_id
1234
>>> decode_stamp(np.zeros((320, 576, 3), np.uint8)).reason
'low contrast'
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import av
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CELL_PX",
    "STAMP_COLUMNS",
    "STAMP_ROWS",
    "STAMP_WIDTH_PX",
    "STAMP_HEIGHT_PX",
    "SAMPLE_PX",
    "ID_BITS",
    "CHECK_BITS",
    "MAX_FRAME_ID",
    "MIN_CONTRAST",
    "MIN_MARGIN",
    "StampFailure",
    "StampReading",
    "stamp_frame",
    "decode_stamp",
]

CELL_PX = 16
STAMP_COLUMNS = 16
STAMP_ROWS = 3
STAMP_WIDTH_PX = STAMP_COLUMNS * CELL_PX
STAMP_HEIGHT_PX = STAMP_ROWS * CELL_PX
# Side of the square read at each cell centre; leaves 4 px to each cell edge, beyond the
# reach of the codecs' deblocking filters.
SAMPLE_PX = 8

ID_BITS = 24
CHECK_BITS = 16
MAX_FRAME_ID = (1 << ID_BITS) - 1

# Decision thresholds, on the 0-255 scale and as a fraction of half the contrast.
MIN_CONTRAST = 48.0
MIN_MARGIN = 0.25

WHITE = 255
BLACK = 0

_LAYOUT = (
    "W..............B",
    "B......WB......W",
    "W..............B",
)
_CELLS = np.array([list(row) for row in _LAYOUT]).ravel()
_WHITE_CELLS = np.flatnonzero(_CELLS == "W")
_BLACK_CELLS = np.flatnonzero(_CELLS == "B")
_CODE_CELLS = np.flatnonzero(_CELLS == ".")

# CRC-16 with polynomial 0x2F15 (Hamming distance 6 on 24-bit messages, the fewest
# weight-6 code words among the HD-6 polynomials tried). The final XOR makes an all-black
# and an all-white code area invalid.
CRC_POLY = 0x2F15
CRC_XOROUT = 0xFFFF

StampFailure = Literal[
    "frame too small", "low contrast", "marker not found", "ambiguous cell", "checksum mismatch"
]


@dataclass(frozen=True, slots=True)
class StampReading:
    """What :func:`decode_stamp` read from one frame.

    Attributes
    ----------
    frame_id:
        The stamped id, or ``None`` when the stamp could not be read with certainty.
    ok:
        ``True`` exactly when ``frame_id`` is set.
    reason:
        Why the stamp was not read (``None`` when ``ok``).
    margin:
        The weakest cell's distance from the black/white midpoint, as a fraction of half
        the contrast: 1.0 for clean cells, 0.0 on the midpoint (0.0 when not measured).
    contrast:
        White marker level minus black marker level, 0-255 (255 for a pristine stamp).
    """

    frame_id: int | None
    ok: bool
    reason: StampFailure | None
    margin: float
    contrast: float

    def __post_init__(self) -> None:
        if self.ok != (self.frame_id is not None) or self.ok == (self.reason is not None):
            raise ValueError(f"inconsistent StampReading: {self!r}")


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ CRC_POLY) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def _crc16(data: int) -> int:
    crc = 0
    for byte in data.to_bytes(ID_BITS // 8, "big"):
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[(crc >> 8) ^ byte]
    return crc ^ CRC_XOROUT


def _from_gray(gray: int) -> int:
    value = gray
    shift = 1
    while shift < ID_BITS:
        value ^= value >> shift
        shift <<= 1
    return value


def _band(frame_id: int) -> NDArray[np.uint8]:
    """The stamp's pixels for ``frame_id``, STAMP_HEIGHT_PX x STAMP_WIDTH_PX."""
    gray = frame_id ^ (frame_id >> 1)
    word = (gray << CHECK_BITS) | _crc16(gray)
    code_bytes = word.to_bytes((ID_BITS + CHECK_BITS) // 8, "big")
    bits = np.unpackbits(np.frombuffer(code_bytes, np.uint8))
    cells = np.empty(STAMP_ROWS * STAMP_COLUMNS, np.uint8)
    cells[_WHITE_CELLS] = WHITE
    cells[_BLACK_CELLS] = BLACK
    cells[_CODE_CELLS] = bits * WHITE
    grid = cells.reshape(STAMP_ROWS, STAMP_COLUMNS)
    return np.repeat(np.repeat(grid, CELL_PX, axis=0), CELL_PX, axis=1)


def stamp_frame(frame: NDArray[np.uint8], frame_id: int) -> NDArray[np.uint8]:
    """Return a copy of ``frame`` with ``frame_id`` stamped into its top-left corner.

    Parameters
    ----------
    frame:
        An RGB picture, height x width x 3, uint8, at least
        ``STAMP_HEIGHT_PX`` x ``STAMP_WIDTH_PX`` (48 x 256).
    frame_id:
        The id to write, ``0 <= frame_id <= MAX_FRAME_ID``.

    Returns
    -------
    numpy.ndarray
        The stamped copy; pixels outside the 256 x 48 px stamp are unchanged.

    Raises
    ------
    ValueError
        If the id is out of range or the frame is not a large enough RGB uint8 array.

    Examples
    --------
    >>> import numpy as np
    >>> stamped = stamp_frame(np.full((512, 512, 3), 90, np.uint8), 7)
    >>> stamped[0, 0].tolist(), stamped[100, 300].tolist()
    ([255, 255, 255], [90, 90, 90])
    """
    if not 0 <= frame_id <= MAX_FRAME_ID:
        raise ValueError(f"Cannot stamp frame id {frame_id}: ids must be 0..{MAX_FRAME_ID}.")
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(
            f"Cannot stamp a {frame.dtype} array of shape {frame.shape}: "
            "expected an RGB picture, height x width x 3, uint8."
        )
    if frame.shape[0] < STAMP_HEIGHT_PX or frame.shape[1] < STAMP_WIDTH_PX:
        raise ValueError(
            f"Cannot stamp a {frame.shape[1]}x{frame.shape[0]} frame: the stamp needs at "
            f"least {STAMP_WIDTH_PX}x{STAMP_HEIGHT_PX} px."
        )
    out = frame.copy()
    out[:STAMP_HEIGHT_PX, :STAMP_WIDTH_PX] = _band(frame_id)[:, :, np.newaxis]
    return out


@functools.lru_cache(maxsize=16)
def _sample_positions(scale: float) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Pixel rows and columns to read at the cell centres, in a frame resized by ``scale``."""
    # Pixel centres of the middle SAMPLE_PX pixels of a cell, in stamp pixels.
    offsets = (CELL_PX - SAMPLE_PX) / 2 + 0.5 + np.arange(SAMPLE_PX)

    def positions(cells: int) -> NDArray[np.intp]:
        centres = (np.arange(cells)[:, np.newaxis] * CELL_PX + offsets).ravel()
        return np.floor(centres * scale).astype(np.intp)

    return positions(STAMP_ROWS), positions(STAMP_COLUMNS)


def _pixels(frame: NDArray[np.uint8] | av.VideoFrame) -> NDArray[np.uint8]:
    """An array to sample: the luma plane of a YUV frame as is, or RGB/gray pixels."""
    if not isinstance(frame, av.VideoFrame):
        return np.asarray(frame)
    if frame.format.name in ("yuv420p", "yuvj420p", "yuv422p", "yuv444p", "nv12"):
        # The Y plane already is the brightness the stamp is written in; reading it
        # directly avoids a full-frame colour conversion per received frame.
        plane = frame.planes[0]
        rows = np.frombuffer(plane, np.uint8, count=plane.line_size * frame.height)
        return rows.reshape(frame.height, plane.line_size)[:, : frame.width]
    return frame.to_ndarray(format="rgb24")


def _failure(reason: StampFailure, margin: float, contrast: float) -> StampReading:
    return StampReading(frame_id=None, ok=False, reason=reason, margin=margin, contrast=contrast)


def decode_stamp(frame: NDArray[np.uint8] | av.VideoFrame, *, scale: float = 1.0) -> StampReading:
    """Read the frame id stamped by :func:`stamp_frame`, or say why it cannot be read.

    Parameters
    ----------
    frame:
        An RGB array (height x width x 3), a single-channel array (height x width, e.g.
        luma) or an ``av.VideoFrame`` (YUV frames are read from their luma plane without
        conversion).
    scale:
        Size of the frame relative to the frame that was stamped, when a pipeline
        resized it (0.5 for 512 -> 256 px).

    Returns
    -------
    StampReading
        ``ok`` with ``frame_id`` when every check passed; otherwise ``frame_id`` is
        ``None`` and ``reason`` names the first check that failed.

    Examples
    --------
    >>> import numpy as np
    >>> reading = decode_stamp(stamp_frame(np.zeros((512, 512, 3), np.uint8), 99))
    >>> reading.ok, reading.frame_id, reading.margin
    (True, 99, 1.0)
    """
    pixels = _pixels(frame)
    rows, columns = _sample_positions(float(scale))
    if pixels.shape[0] <= rows[-1] or pixels.shape[1] <= columns[-1]:
        return _failure("frame too small", 0.0, 0.0)
    # take() gathers rows then columns several times faster than fancy indexing with np.ix_.
    patch = pixels.take(rows, axis=0).take(columns, axis=1)
    blocks = patch.reshape(STAMP_ROWS, SAMPLE_PX, STAMP_COLUMNS, SAMPLE_PX, -1)
    sums = blocks.sum(axis=(1, 3, 4), dtype=np.uint32)
    cells = sums.ravel() / (patch.size // (STAMP_ROWS * STAMP_COLUMNS))

    white = float(cells[_WHITE_CELLS].mean())
    black = float(cells[_BLACK_CELLS].mean())
    contrast = white - black
    if contrast < MIN_CONTRAST:
        return _failure("low contrast", 0.0, contrast)

    # Signed distance from the midpoint in units of half the contrast: +1 white, -1 black.
    signed = (cells - (white + black) / 2) / (contrast / 2)
    marker_margin = min(float(signed[_WHITE_CELLS].min()), float(-signed[_BLACK_CELLS].max()))
    code = signed[_CODE_CELLS]
    margin = min(marker_margin, float(np.abs(code).min()))
    if marker_margin < MIN_MARGIN:
        return _failure("marker not found", margin, contrast)
    if margin < MIN_MARGIN:
        return _failure("ambiguous cell", margin, contrast)

    word = int.from_bytes(np.packbits(code > 0).tobytes(), "big")
    gray, check = word >> CHECK_BITS, word & ((1 << CHECK_BITS) - 1)
    if _crc16(gray) != check:
        return _failure("checksum mismatch", margin, contrast)
    return StampReading(
        frame_id=_from_gray(gray), ok=True, reason=None, margin=margin, contrast=contrast
    )
