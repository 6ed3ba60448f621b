"""Draw the VACE reference images shipped in lab/data/ref/ (made here, so free to ship).

Four 256x256 PNGs: simple drawn avatars and shapes with distinct colours, enough for a
pipeline to be conditioned on something recognisable. Re-run to regenerate them.
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


if __name__ == "__main__":
    main()
