"""Emoji images with captions: OpenMoji's colour SVGs (npm `openmoji`, CC BY-SA
4.0) rasterised, captioned with emojibase's Chinese labels (npm
`emojibase-data`, MIT) and OpenMoji's English annotations. No photo-caption
set is reachable from here; these are real images with real captions.

Split by a hash of the emoji's code points (deterministic). Images are cached
as RGB PNGs on a white background.
"""

import json

import numpy as np
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


def read_image(path_or_image, size=64):
    """A PNG/JPEG path, a PIL image or an array -> float32 `[size, size, 3]` in
    [0, 1]. Anything else, or an image that is not RGB/RGBA/grey, is an error."""
    from PIL import Image
    from PIL import UnidentifiedImageError

    image = path_or_image
    if isinstance(image, (str, bytes)) or hasattr(image, "__fspath__"):
        try:
            image = Image.open(image)
            image.load()
        except (UnidentifiedImageError, OSError) as error:
            raise ValueError(f"images: {path_or_image!r} is not a readable image file ({error}).") from None
    if isinstance(image, Image.Image):
        if image.mode in ("RGBA", "LA", "P"):
            white = Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = Image.alpha_composite(white, image.convert("RGBA"))
        image = np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR), "float32") / 255.0
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"images: an array must be [height, width, 3] (or [height, width]), got shape {array.shape}.")
    if array.dtype == np.uint8:
        array = array.astype("float32") / 255.0
    if array.shape[:2] != (size, size):
        array = np.asarray(Image.fromarray((np.clip(array, 0, 1) * 255).astype("uint8")).resize((size, size)),
                           "float32") / 255.0
    return array.astype("float32")
