"""Image-generation measures against closed forms and constructed cases."""

import numpy as np

from keras_cgen.families.digits.image_metrics import frechet_distance
from keras_cgen.families.digits.image_metrics import memorised_share
from keras_cgen.families.digits.image_metrics import precision_recall


def test_frechet_distance_of_gaussians(rng):
    a = rng.normal(size=(20000, 3))
    b = rng.normal(size=(20000, 3)) * 2 + np.array([1.0, 0.0, -1.0])
    # N(0, I) vs N(m, 4I): |m|^2 + 3 * (1 + 4 - 2 * 2) = 2 + 3
    assert abs(frechet_distance(a, b) - 5.0) < 0.15
    assert frechet_distance(a, a) < 1e-6


def test_precision_recall_separate_fidelity_from_coverage(rng):
    real = rng.normal(size=(400, 2))
    collapsed = rng.normal(size=(400, 2)) * 0.05  # every sample near the real mode: faithful, no coverage
    precision, recall = precision_recall(real, collapsed)
    assert precision > 0.95 and recall < 0.3
    far = rng.normal(size=(400, 2)) + 20  # nowhere near the data
    assert precision_recall(real, far) == (0.0, 0.0)
    same = precision_recall(real, rng.normal(size=(400, 2)))
    assert min(same) > 0.8


def test_memorised_share_counts_copies(rng):
    train, test = rng.normal(size=(300, 4)), rng.normal(size=(50, 4))
    copies = train[:10] + 1e-6
    fresh = rng.normal(size=(90, 4))
    share = memorised_share(np.concatenate([copies, fresh]), train, test)
    assert 0.1 <= share <= 0.2  # the ten copies, and few if any of the fresh draws
