"""The frame stamp codec: real VP8/H.264 round trips, and never a wrong id reported as ok."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction

import av
import numpy as np
import pytest
from aiortc.codecs import H264Decoder, H264Encoder, Vp8Decoder, Vp8Encoder, h264_depayload, vp8_depayload
from aiortc.jitterbuffer import JitterFrame
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.stamp import (
    CELL_PX,
    MAX_FRAME_ID,
    STAMP_COLUMNS,
    STAMP_HEIGHT_PX,
    STAMP_ROWS,
    STAMP_WIDTH_PX,
    StampReading,
    decode_stamp,
    stamp_frame,
)

SIZES = [pytest.param(512, 512, id="512x512"), pytest.param(576, 320, id="576x320")]
FPS = 30
FRAMES = 30
# Ids from high in the 24-bit range, crossing a carry into bit 20 half-way.
FIRST_ID = (1 << 20) - FRAMES // 2
CODE_CELLS = [(r, c) for r in range(STAMP_ROWS) for c in range(STAMP_COLUMNS)
              if c not in (0, STAMP_COLUMNS - 1) and (r, c) not in ((1, 7), (1, 8))]

needs_x264 = pytest.mark.skipif("libx264" not in av.codecs_available,
                                reason="this PyAV build has no libx264 encoder")

Pictures = Callable[[int, int, int], Iterator[np.ndarray]]


def textured_scene(height: int, width: int, count: int) -> Iterator[np.ndarray]:
    """A blocky texture over gradients, scrolling diagonally, plus a cycle of noise frames."""
    rng = np.random.default_rng(1)
    blocks = rng.integers(30, 220, (height // 8, width // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    y, x = np.mgrid[0:height, 0:width]
    gradient = np.stack([x % 256, y % 256, (x + y) % 256], axis=-1)
    texture = ((blocks.astype(np.uint16) + gradient) // 2).astype(np.uint8)
    noise = rng.integers(0, 24, (4, height, width, 3), dtype=np.uint8)
    for i in range(count):
        yield np.roll(texture, (3 * i, 5 * i), axis=(0, 1)) + noise[i % 4]


def white_noise(height: int, width: int, count: int) -> Iterator[np.ndarray]:
    """Full-range noise, new every frame: the worst case for an encoder's bit budget."""
    bank = np.random.default_rng(2).integers(0, 256, (4, height, width, 3), dtype=np.uint8)
    for i in range(count):
        yield np.roll(bank[i % 4], 7 * i, axis=1)


def stamped_frames(pictures: Pictures, height: int, width: int, count: int) -> Iterator[av.VideoFrame]:
    for i, picture in enumerate(pictures(height, width, count)):
        frame = av.VideoFrame.from_ndarray(stamp_frame(picture, FIRST_ID + i), format="rgb24")
        frame.pts, frame.time_base = i * 90_000 // FPS, Fraction(1, 90_000)
        yield frame


AIORTC_CODECS = {
    "vp8": (Vp8Encoder, Vp8Decoder, vp8_depayload),
    "h264": (H264Encoder, H264Decoder, h264_depayload),
}


def aiortc_round_trip(
    codec: str, width: int, height: int, bitrate: int, count: int = FRAMES, loss: float = 0.0
) -> list[av.VideoFrame]:
    """Stamped frames through aiortc's own encoder, RTP packetizer and decoder.

    ``loss`` drops that share of RTP packets at random (seeded), with no retransmission.
    """
    encoder_class, decoder_class, depayload = AIORTC_CODECS[codec]
    encoder, decoder = encoder_class(), decoder_class()
    encoder.target_bitrate = bitrate
    rng = np.random.default_rng(0)
    decoded = []
    for frame in stamped_frames(textured_scene, height, width, count):
        payloads, timestamp = encoder.encode(frame)
        data = b"".join(depayload(payload) for payload in payloads if rng.random() >= loss)
        if not data:
            continue
        try:
            decoded += decoder.decode(JitterFrame(data, timestamp))
        except av.error.InvalidDataError:
            pass  # a damaged frame the decoder refuses, as aiortc's receiver skips it
    return decoded


def starved_round_trip(codec: str, width: int, height: int, bitrate: int) -> list[av.VideoFrame]:
    """White noise behind the stamp through a real-time PyAV encoder below aiortc's bitrate floor."""
    encoder = av.CodecContext.create(codec, "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base, encoder.framerate = Fraction(1, FPS), Fraction(FPS)
    encoder.bit_rate = bitrate
    if codec == "libvpx":
        encoder.qmin, encoder.qmax = 2, 63  # let VP8 go coarser than aiortc's qmax of 56
        encoder.options = {"deadline": "realtime", "cpu-used": "-6", "lag-in-frames": "0",
                           "minrate": str(bitrate), "maxrate": str(bitrate), "bufsize": str(bitrate)}
    else:
        encoder.profile = "Baseline"
        encoder.options = {"tune": "zerolatency", "level": "31"}
    decoder = av.CodecContext.create("libvpx" if codec == "libvpx" else "h264", "r")
    decoded = []
    for i, frame in enumerate(stamped_frames(white_noise, height, width, FRAMES)):
        frame.pts, frame.time_base = i, encoder.time_base
        for packet in encoder.encode(frame.reformat(format="yuv420p")):
            decoded += decoder.decode(packet)
    for packet in encoder.encode(None):
        decoded += decoder.decode(packet)
    return decoded


def band(frame_id: int) -> np.ndarray:
    return stamp_frame(np.zeros((STAMP_HEIGHT_PX, STAMP_WIDTH_PX, 3), np.uint8), frame_id)[..., 0]


def shown_id(frame: av.VideoFrame) -> int:
    """The id whose stamp the decoded picture most resembles, among those sent so far.

    An encoder out of bits may repeat an older picture; that is what the frame shows,
    and what a correct reading must say.
    """
    sent = round(frame.pts * frame.time_base * FPS) + 1
    seen = frame.to_ndarray(format="rgb24")[:STAMP_HEIGHT_PX, :STAMP_WIDTH_PX].mean(axis=-1)
    candidates = np.stack([band(FIRST_ID + i) for i in range(sent)])
    return FIRST_ID + int(np.abs(candidates - seen).mean(axis=(1, 2)).argmin())


def with_cells(frame: np.ndarray, cells: dict[tuple[int, int], int]) -> np.ndarray:
    out = frame.copy()
    for (row, column), level in cells.items():
        out[row * CELL_PX:(row + 1) * CELL_PX, column * CELL_PX:(column + 1) * CELL_PX] = level
    return out


def flip(frame: np.ndarray, cells: list[tuple[int, int]]) -> np.ndarray:
    return with_cells(frame, {(r, c): 255 - int(frame[r * CELL_PX, c * CELL_PX, 0]) for r, c in cells})


# --- known values: the layout and the check bits, worked out by hand --------------------------

# The layout as the module docstring draws it (W/B: white/black markers, ".": code cells,
# filled row by row with 24 Gray-coded id bits, then 16 CRC bits, most significant first).
LAYOUT = ("W..............B", "B......WB......W", "W..............B")
CRC_POLY_WITH_TOP_BIT = 0x1_2F15  # x^16 + 0x2F15

# Each id's code bits by hand. The CRC register starts at 0 and is XORed with 0xFFFF at the end:
# - id 0: Gray 0; the CRC of zeros is 0, so the check is 0xFFFF;
# - id 1: Gray 1; x^16 mod P = 0x2F15 (P's low bits), so the check is 0x2F15 ^ 0xFFFF = 0xD0EA;
# - id 2: Gray 2 ^ 1 = 3 = x + 1; (x + 1) x^16 mod P = (0x2F15 << 1) ^ 0x2F15 = 0x5E2A ^ 0x2F15 = 0x713F
#   (0x2F15 < 0x8000: the shift needs no reduction), so the check is 0x713F ^ 0xFFFF = 0x8EC0.
KNOWN_STAMPS = [
    pytest.param(0, "0" * 24 + "1111111111111111", id="0"),
    pytest.param(1, "0" * 23 + "1" + "1101000011101010", id="1"),
    pytest.param(2, "0" * 22 + "11" + "1000111011000000", id="2"),
]


def hand_built_stamp(bits: str) -> np.ndarray:
    """The 256 x 48 px RGB stamp drawn from LAYOUT with ``bits`` in its code cells."""
    code = iter(bits)
    levels = [[255 if cell == "W" else 0 if cell == "B" else 255 * int(next(code)) for cell in row]
              for row in LAYOUT]
    assert next(code, None) is None, "more bits than code cells"
    cells = np.array(levels, np.uint8).repeat(CELL_PX, axis=0).repeat(CELL_PX, axis=1)
    return np.repeat(cells[:, :, np.newaxis], 3, axis=2)


def crc16_by_long_division(message: int) -> int:
    """The stamp's CRC-16 of a 24-bit message, bit by bit (not the codec's byte table)."""
    remainder = message << 16
    for bit in range(24 + 16 - 1, 15, -1):
        if remainder >> bit & 1:
            remainder ^= CRC_POLY_WITH_TOP_BIT << (bit - 16)
    return remainder ^ 0xFFFF


@pytest.mark.parametrize(("frame_id", "bits"), KNOWN_STAMPS)
def test_known_ids_match_a_hand_built_stamp(frame_id: int, bits: str) -> None:
    hand_built = hand_built_stamp(bits)

    assert np.array_equal(stamp_frame(np.zeros((STAMP_HEIGHT_PX, STAMP_WIDTH_PX, 3), np.uint8), frame_id), hand_built)
    assert decode_stamp(hand_built) == StampReading(frame_id, True, None, 1.0, 255.0)


@pytest.mark.parametrize(("frame_id", "bits"), KNOWN_STAMPS)
@pytest.mark.parametrize("flipped", [0, 23, 24, 39], ids=["first-id-bit", "last-id-bit", "first-check-bit",
                                                          "last-check-bit"])
def test_crc_rejects_a_hand_built_stamp_with_one_bit_flipped(frame_id: int, bits: str, flipped: int) -> None:
    wrong = bits[:flipped] + str(1 - int(bits[flipped])) + bits[flipped + 1:]

    assert decode_stamp(hand_built_stamp(wrong)).reason == "checksum mismatch"


def test_long_division_crc_gives_the_hand_worked_checks() -> None:
    assert [crc16_by_long_division(gray) for gray in (0, 1, 3)] == [0xFFFF, 0xD0EA, 0x8EC0]


@given(frame_id=st.integers(0, MAX_FRAME_ID))
def test_every_stamp_carries_its_gray_code_and_crc(frame_id: int) -> None:
    gray = frame_id ^ (frame_id >> 1)
    bits = f"{gray:024b}{crc16_by_long_division(gray):016b}"

    assert np.array_equal(stamp_frame(np.zeros((STAMP_HEIGHT_PX, STAMP_WIDTH_PX, 3), np.uint8), frame_id),
                          hand_built_stamp(bits))


# --- round trips through real codecs -------------------------------------------------------


@pytest.mark.parametrize("width, height", SIZES)
@pytest.mark.parametrize(
    "codec, bitrate",
    [
        pytest.param("vp8", 250_000, id="vp8-250k-aiortc-floor"),
        pytest.param("vp8", 1_000_000, id="vp8-1M"),
        pytest.param("h264", 500_000, id="h264-500k-aiortc-floor", marks=needs_x264),
        pytest.param("h264", 1_000_000, id="h264-1M", marks=needs_x264),
    ],
)
def test_every_id_survives_aiortc_codecs(codec: str, bitrate: int, width: int, height: int) -> None:
    decoded = aiortc_round_trip(codec, width, height, bitrate)

    assert len(decoded) == FRAMES
    readings = [decode_stamp(frame) for frame in decoded]
    assert [r.frame_id for r in readings] == list(range(FIRST_ID, FIRST_ID + FRAMES))
    assert all(r.ok and r.reason is None and r.margin > 0.5 for r in readings)


def test_rgb_and_luma_readings_agree_after_vp8() -> None:
    decoded = aiortc_round_trip("vp8", 576, 320, 250_000)

    from_luma = [decode_stamp(frame).frame_id for frame in decoded]
    from_rgb = [decode_stamp(frame.to_ndarray(format="rgb24")).frame_id for frame in decoded]
    assert from_luma == from_rgb == list(range(FIRST_ID, FIRST_ID + FRAMES))


@pytest.mark.parametrize("width, height", SIZES)
@pytest.mark.parametrize(
    "codec, bitrate, must_break",
    [
        pytest.param("libvpx", 100_000, False, id="vp8-100k-qmax63"),
        pytest.param("libx264", 100_000, False, id="h264-100k", marks=needs_x264),
        pytest.param("libx264", 20_000, True, id="h264-20k", marks=needs_x264),
    ],
)
def test_starved_encoder_never_yields_a_wrong_id(
    codec: str, bitrate: int, must_break: bool, width: int, height: int,
    record_property: Callable[[str, object], None],
) -> None:
    decoded = starved_round_trip(codec, width, height, bitrate)
    readings = [decode_stamp(frame) for frame in decoded]

    unreadable = [FIRST_ID + i for i, r in enumerate(readings) if not r.ok]
    record_property("unreadable_ids", unreadable)
    misread = [(frame.pts, r.frame_id) for frame, r in zip(decoded, readings)
               if r.ok and r.frame_id != shown_id(frame)]
    assert misread == []
    assert all(r.reason is not None and r.frame_id is None for r in readings if not r.ok)
    if must_break:
        # Otherwise this case would not exercise the failure path at all.
        assert unreadable, "20 kbps of white noise no longer breaks any stamp"


@needs_x264
def test_packet_loss_garbles_frames_but_never_yields_a_wrong_id() -> None:
    # Without retransmission the H.264 decoder shows damaged pictures (VP8's refuses them).
    decoded = aiortc_round_trip("h264", 512, 512, 500_000, loss=0.1)
    readings = [decode_stamp(frame) for frame in decoded]

    assert [r.frame_id for frame, r in zip(decoded, readings) if r.ok and r.frame_id != shown_id(frame)] == []
    # Otherwise the case would exercise nothing: damaged frames were decoded, and damaged stamps.
    assert decoded and any(not r.ok for r in readings)


@pytest.mark.parametrize("size, scale", [(256, 0.5), (384, 0.75), (1024, 2.0)])
def test_resized_frames_read_with_their_scale(size: int, scale: float) -> None:
    decoded = aiortc_round_trip("vp8", 512, 512, 500_000, count=8)

    readings = [decode_stamp(frame.reformat(width=size, height=size), scale=scale) for frame in decoded]
    assert [r.frame_id for r in readings] == list(range(FIRST_ID, FIRST_ID + 8))


# --- frames that must not read as ok --------------------------------------------------------


@pytest.fixture(scope="module")
def stamped() -> np.ndarray:
    picture = next(textured_scene(320, 576, 1))
    return stamp_frame(picture, 0x5A5A5A)


@pytest.mark.parametrize("seed", range(5))
def test_noise_is_not_a_stamp(seed: int) -> None:
    noise = np.random.default_rng(seed).integers(0, 256, (512, 512, 3), dtype=np.uint8)

    reading = decode_stamp(noise)
    assert not reading.ok and reading.frame_id is None and reading.reason is not None


@pytest.mark.parametrize("level", [0, 128, 255])
def test_flat_frames_have_low_contrast(level: int) -> None:
    reading = decode_stamp(np.full((320, 576, 3), level, np.uint8))

    assert reading == StampReading(None, False, "low contrast", 0.0, 0.0)


def test_unstamped_pictures_are_not_read() -> None:
    pictures = list(textured_scene(320, 576, 10)) + list(white_noise(512, 512, 5))

    readings = [decode_stamp(picture) for picture in pictures]
    assert not any(r.ok for r in readings)
    assert {r.reason for r in readings} <= {"low contrast", "marker not found", "ambiguous cell"}


def test_inverted_stamp_is_not_read(stamped: np.ndarray) -> None:
    assert decode_stamp(255 - stamped).reason == "low contrast"


@pytest.mark.parametrize("cell", CODE_CELLS, ids=str)
def test_any_single_flipped_cell_is_caught(stamped: np.ndarray, cell: tuple[int, int]) -> None:
    reading = decode_stamp(flip(stamped, [cell]))

    assert not reading.ok and reading.reason == "checksum mismatch"


@settings(max_examples=200, deadline=None)
@given(frame_id=st.integers(0, MAX_FRAME_ID), cells=st.lists(st.sampled_from(CODE_CELLS), min_size=2,
                                                             max_size=5, unique=True))
def test_up_to_five_flipped_cells_are_caught(frame_id: int, cells: list[tuple[int, int]]) -> None:
    frame = stamp_frame(np.zeros((STAMP_HEIGHT_PX, STAMP_WIDTH_PX, 3), np.uint8), frame_id)

    assert decode_stamp(flip(frame, cells)).reason == "checksum mismatch"


@settings(max_examples=300, deadline=None)
@given(frame_id=st.integers(0, MAX_FRAME_ID), bits=st.integers(0, (1 << len(CODE_CELLS)) - 1))
def test_only_encoder_output_reads_as_ok(frame_id: int, bits: int) -> None:
    # Arbitrary code cells behind valid markers: whatever is accepted must be exactly
    # what stamp_frame writes for that id.
    frame = stamp_frame(np.zeros((STAMP_HEIGHT_PX, STAMP_WIDTH_PX, 3), np.uint8), frame_id)
    cells = {cell: 255 * ((bits >> k) & 1) for k, cell in enumerate(CODE_CELLS)}
    garbled = with_cells(frame, cells)

    reading = decode_stamp(garbled)
    if reading.ok:
        assert reading.frame_id is not None
        assert np.array_equal(stamp_frame(garbled, reading.frame_id), garbled)
    else:
        assert reading.reason == "checksum mismatch"


@settings(max_examples=200, deadline=None)
@given(frame_id=st.integers(0, MAX_FRAME_ID - 1), mask=st.integers(0, (1 << len(CODE_CELLS)) - 1))
def test_mix_of_consecutive_stamps_reads_as_one_of_them(frame_id: int, mask: int) -> None:
    # A codec that updates only some macroblocks shows cells of two consecutive stamps.
    zeros = np.zeros((STAMP_HEIGHT_PX, STAMP_WIDTH_PX, 3), np.uint8)
    old, new = stamp_frame(zeros, frame_id), stamp_frame(zeros, frame_id + 1)
    mixed = with_cells(old, {cell: int(new[cell[0] * CELL_PX, cell[1] * CELL_PX, 0])
                             for k, cell in enumerate(CODE_CELLS) if (mask >> k) & 1})

    assert decode_stamp(mixed).frame_id in (None, frame_id, frame_id + 1)


@given(frame_id=st.integers(0, MAX_FRAME_ID - 1))
def test_consecutive_ids_differ_in_one_id_cell(frame_id: int) -> None:
    # The property the test above relies on: the id is Gray-coded, so the 24 id cells
    # of neighbouring stamps differ in exactly one place.
    zeros = np.zeros((STAMP_HEIGHT_PX, STAMP_WIDTH_PX, 3), np.uint8)
    old, new = stamp_frame(zeros, frame_id), stamp_frame(zeros, frame_id + 1)
    id_cells = CODE_CELLS[:24]

    assert sum(old[r * CELL_PX, c * CELL_PX, 0] != new[r * CELL_PX, c * CELL_PX, 0] for r, c in id_cells) == 1


@pytest.mark.parametrize("cell", [(0, 0), (1, 0), (2, 15), (1, 7), (1, 8)], ids=str)
def test_flipped_marker_is_caught(stamped: np.ndarray, cell: tuple[int, int]) -> None:
    assert decode_stamp(flip(stamped, [cell])).reason == "marker not found"


def test_half_gray_cell_is_ambiguous(stamped: np.ndarray) -> None:
    reading = decode_stamp(with_cells(stamped, {CODE_CELLS[17]: 120}))

    assert reading.reason == "ambiguous cell" and reading.margin < 0.25


@pytest.mark.parametrize("factor", [0.5, 0.75, 0.9, 1.25])
def test_resized_frame_read_at_wrong_scale_is_right_or_refused(stamped: np.ndarray, factor: float) -> None:
    frame = av.VideoFrame.from_ndarray(stamped, format="rgb24")
    resized = frame.reformat(width=round(576 * factor) // 2 * 2, height=round(320 * factor) // 2 * 2)

    reading = decode_stamp(resized)
    assert reading.frame_id in (None, 0x5A5A5A)
    assert reading.ok == (reading.frame_id is not None)


def test_shifted_stamp_is_refused(stamped: np.ndarray) -> None:
    assert not decode_stamp(stamped[:, 8:]).ok
    assert not decode_stamp(stamped[8:]).ok


def test_frame_smaller_than_stamp_is_refused(stamped: np.ndarray) -> None:
    assert decode_stamp(stamped[:40]).reason == "frame too small"
    assert decode_stamp(stamped, scale=3.0).reason == "frame too small"


# --- what must read ------------------------------------------------------------------------


@pytest.mark.parametrize("frame_id", [0, 1, 2, 0x7FFFFF, 0x800000, MAX_FRAME_ID])
def test_round_trip_of_edge_ids(frame_id: int) -> None:
    reading = decode_stamp(stamp_frame(np.zeros((48, 256, 3), np.uint8), frame_id))

    assert reading == StampReading(frame_id, True, None, 1.0, 255.0)


def test_dim_washed_out_stamp_still_reads(stamped: np.ndarray) -> None:
    washed = (stamped * 0.35 + 90).astype(np.uint8)

    reading = decode_stamp(washed)
    assert reading.frame_id == 0x5A5A5A and reading.contrast < 100


def test_all_input_kinds_read_the_same(stamped: np.ndarray) -> None:
    rgb_frame = av.VideoFrame.from_ndarray(stamped, format="rgb24")
    inputs = [stamped, stamped.mean(axis=-1).astype(np.uint8), rgb_frame,
              rgb_frame.reformat(format="yuv420p"), rgb_frame.reformat(format="nv12")]

    assert [decode_stamp(x).frame_id for x in inputs] == [0x5A5A5A] * len(inputs)


def test_stamp_only_touches_its_corner(stamped: np.ndarray) -> None:
    picture = next(textured_scene(320, 576, 1))

    assert np.array_equal(stamped[STAMP_HEIGHT_PX:], picture[STAMP_HEIGHT_PX:])
    assert np.array_equal(stamped[:, STAMP_WIDTH_PX:], picture[:, STAMP_WIDTH_PX:])
    assert set(np.unique(stamped[:STAMP_HEIGHT_PX, :STAMP_WIDTH_PX])) == {0, 255}


def test_layout_sits_on_the_macroblock_grid() -> None:
    assert CELL_PX % 16 == 0
    assert (STAMP_WIDTH_PX, STAMP_HEIGHT_PX) == (STAMP_COLUMNS * CELL_PX, STAMP_ROWS * CELL_PX)
    assert len(CODE_CELLS) == 40  # 24 id bits + 16 check bits


@pytest.mark.parametrize(
    "frame, frame_id",
    [
        pytest.param(np.zeros((48, 256, 3), np.uint8), -1, id="negative-id"),
        pytest.param(np.zeros((48, 256, 3), np.uint8), MAX_FRAME_ID + 1, id="id-too-large"),
        pytest.param(np.zeros((47, 256, 3), np.uint8), 0, id="too-short"),
        pytest.param(np.zeros((48, 255, 3), np.uint8), 0, id="too-narrow"),
        pytest.param(np.zeros((48, 256), np.uint8), 0, id="gray"),
        pytest.param(np.zeros((48, 256, 3), np.float32), 0, id="float"),
    ],
)
def test_stamp_frame_refuses_bad_input(frame: np.ndarray, frame_id: int) -> None:
    with pytest.raises(ValueError):
        stamp_frame(frame, frame_id)


def test_reading_must_be_consistent() -> None:
    with pytest.raises(ValueError):
        StampReading(frame_id=3, ok=False, reason="checksum mismatch", margin=1.0, contrast=255.0)
    with pytest.raises(ValueError):
        StampReading(frame_id=None, ok=True, reason=None, margin=1.0, contrast=255.0)
