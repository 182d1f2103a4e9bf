"""Emoji images with captions: OpenMoji's colour SVGs (npm `openmoji`, CC BY-SA
4.0) rasterised, captioned with emojibase's Chinese labels (npm
`emojibase-data`, MIT) and OpenMoji's English annotations. No photo-caption
set is reachable from here; these are real images with real captions.

Split by a hash of the emoji's code points (deterministic). Images are cached
as RGB PNGs on a white background.
"""

import json

from tqdm import tqdm

from keras_cgen.data.debian import split_of
from keras_cgen.data.registry import cache_root
from keras_cgen.data.registry import npm_package

OPENMOJI, EMOJIBASE = ("openmoji", "17.0.0"), ("emojibase-data", "17.0.0")


def rasterise(svg, png, size):
    """One SVG -> an RGB PNG of `size` x `size` on white (cairosvg)."""
    import io

    import cairosvg
    from PIL import Image

    rgba = Image.open(io.BytesIO(cairosvg.svg2png(url=str(svg), output_width=size, output_height=size)))
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    Image.alpha_composite(white, rgba.convert("RGBA")).convert("RGB").save(png)


def load_emoji(root=None, size=64):
    """`{"train", "valid", "test"}` -> list of `{"hexcode", "image" (PNG path),
    "zh", "en", "subgroup"}`: every emoji that has an OpenMoji image and a
    Chinese label (`subgroup`: emojibase's category number, e.g. "face-smiling")."""
    openmoji = npm_package(*OPENMOJI, ["color/svg/", "data/openmoji.json"], root)
    emojibase = npm_package(*EMOJIBASE, ["zh/data.json"], root)
    english = {e["hexcode"]: e["annotation"] for e in json.loads((openmoji / "data" / "openmoji.json").read_text())}
    images = cache_root(root) / "emoji" / f"png-{size}"
    images.mkdir(parents=True, exist_ok=True)
    rows = []
    for entry in json.loads((emojibase / "zh" / "data.json").read_text(encoding="utf-8")):
        hexcode = entry["hexcode"]
        for candidate in (hexcode, hexcode.replace("-FE0F", "")):
            svg = openmoji / "color" / "svg" / f"{candidate}.svg"
            if svg.is_file() and entry.get("label"):
                rows.append({"hexcode": hexcode, "svg": svg, "image": str(images / f"{hexcode}.png"),
                             "zh": entry["label"], "en": english.get(candidate, ""),
                             "subgroup": entry.get("subgroup", -1)})
                break
    todo = [row for row in rows if not (images / f"{row['hexcode']}.png").is_file()]
    for row in tqdm(todo, desc=f"rasterising {len(todo)} emoji", unit=" svg", disable=not todo):
        rasterise(row["svg"], row["image"], size)
    splits = {"train": [], "valid": [], "test": []}
    for row in rows:
        row.pop("svg")
        splits[split_of("emoji:" + row["hexcode"], valid_share=0.05, test_share=0.1)].append(row)
    return splits
