"""Measures for generated images, computed on an independent evaluator's
features (never the generator's own): Frechet distance, k-NN precision and
recall, and how many samples sit closer to a training image than real
held-out images do (memorisation)."""

import numpy as np


def frechet_distance(a, b):
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussians
    fitted to feature rows `a` and `b` (the FID formula, on any features)."""
    from scipy import linalg

    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    if not np.isfinite(root).all():  # near-singular products: regularise, as the FID reference code does
        offset = np.eye(len(cov_a)) * 1e-6
        root = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * np.real(root)))


def pairwise_distances(a, b):
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    squared = (a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(squared, 0))


def precision_recall(real, generated, k=3):
    """Kynkaanniemi et al. 2019: precision = share of generated rows inside
    some real row's k-NN ball (fidelity), recall = share of real rows inside
    some generated row's k-NN ball (coverage)."""
    def coverage(manifold, queries):
        within = pairwise_distances(manifold, manifold)
        radius = np.sort(within, axis=1)[:, k]  # the k-th neighbour (index 0 is the row itself)
        return float((pairwise_distances(queries, manifold) <= radius[None, :]).any(1).mean())

    return coverage(real, generated), coverage(generated, real)


def memorised_share(generated, train, test):
    """Share of generated rows nearer to a training row than any held-out real
    row is: samples closer to the training set than real unseen data ever gets."""
    threshold = pairwise_distances(test, train).min(1).min()
    return float((pairwise_distances(generated, train).min(1) < threshold).mean())
