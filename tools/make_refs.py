"""Draw the VACE reference images shipped in lab/data/ref/ (made here, so free to ship).

- ``ref/*.png``: four 256x256 PNGs, two different avatars and two shape sets with distinct
  colours: the VACE sweep's 0-4 reference images (cost of conditioning, not identity);
- ``ref/avatar/``: the avatar sweep's default set, one character (a DJ with purple
  headphones and a teal hoodie) in three views: facing, turned left, turned right. A
  reference set for identity shows one character, so every image agrees on who it is.

Re-run to regenerate them.
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from lab.resources import REF_DIR

SIZE = 256


def avatar(face: str, shirt: str, background: str) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), background)
    draw = ImageDraw.Draw(image)
    draw.ellipse((78, 40, 178, 150), fill=face)  # head
    draw.ellipse((104, 80, 116, 92), fill="black")
    draw.ellipse((140, 80, 152, 92), fill="black")
    draw.arc((104, 100, 152, 132), 20, 160, fill="black", width=4)
    draw.pieslice((38, 150, 218, 330), 180, 360, fill=shirt)  # shoulders
    return image


def dj(turn: float) -> Image.Image:
    """The avatar set's character; ``turn`` in [-1, 1] turns the head left (-) or right (+)."""
    image = Image.new("RGB", (SIZE, SIZE), "#f4efe6")
    draw = ImageDraw.Draw(image)
    shift = round(18 * turn)  # features move across the face as the head turns
    draw.pieslice((30, 160, 226, 356), 180, 360, fill="#1a9e96")  # hoodie
    draw.polygon([(110, 168), (146, 168), (128, 196)], fill="#f4efe6")  # neckline
    draw.ellipse((80, 46, 176, 154), fill="#e0ac69")  # face
    draw.chord((76, 34, 180, 110), 180, 360, fill="#2b1d14")  # hair
    draw.arc((66, 30, 190, 140), 190, 350, fill="#6a3fb5", width=9)  # headphone band
    for side, x in ((-1, 72), (1, 184)):  # ear cups; the far one narrows as the head turns
        width = 16 - round(6 * turn * side)
        draw.rounded_rectangle((x - width // 2, 88, x + width // 2, 128), radius=6, fill="#6a3fb5")
    for x in (110, 146):
        draw.ellipse((x + shift - 6, 92, x + shift + 6, 104), fill="#1b1b1b")  # eyes
    draw.arc((108 + shift, 112, 148 + shift, 138), 20, 160, fill="#8a3b2e", width=4)  # smile
    return image


def shapes(colours: tuple[str, str, str], background: str) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), background)
    draw = ImageDraw.Draw(image)
    draw.rectangle((24, 24, 120, 120), fill=colours[0])
    draw.ellipse((136, 40, 232, 136), fill=colours[1])
    draw.polygon([(128, 140), (40, 232), (216, 232)], fill=colours[2])
    return image


def main() -> None:
    REF_DIR.mkdir(parents=True, exist_ok=True)
    avatar("#f1c27d", "#1f77b4", "#e8f4ff").save(REF_DIR / "avatar-blue.png", optimize=True)
    avatar("#8d5524", "#d62728", "#fff1e0").save(REF_DIR / "avatar-red.png", optimize=True)
    shapes(("#2ca02c", "#ff7f0e", "#9467bd"), "#fafafa").save(REF_DIR / "shapes-light.png", optimize=True)
    shapes(("#17becf", "#bcbd22", "#e377c2"), "#202020").save(REF_DIR / "shapes-dark.png", optimize=True)
    avatar_set = REF_DIR / "avatar"
    avatar_set.mkdir(exist_ok=True)
    for name, turn in (("dj-front", 0.0), ("dj-left", -1.0), ("dj-right", 1.0)):
        dj(turn).save(avatar_set / f"{name}.png", optimize=True)


if __name__ == "__main__":
    main()
