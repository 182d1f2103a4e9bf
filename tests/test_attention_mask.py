import keras
import numpy as np
import pytest

from conftest import roundtrip_keras_file
from keras_cgen.layers import AttentionMask
from keras_cgen.layers import causal_attention_mask
from keras_cgen.layers import unilm_attention_mask


def unilm_reference(segment_ids, padding):
    """UniLM by definition: everyone sees the source; the source does not see the
    target; a target token sees the targets up to itself. Padding is never a key."""
    b, t = segment_ids.shape
    out = np.zeros((b, t, t), bool)
    for n in range(b):
        first_target = int(np.argmax(segment_ids[n])) if segment_ids[n].any() else t
        for i in range(t):
            for j in range(t):
                if j < first_target:
                    seen = True
                elif i < first_target:
                    seen = False
                else:
                    seen = j <= i
                out[n, i, j] = seen and padding[n, j]
    return out


def test_unilm_mask_semantics():
    segment_ids = np.array([[0, 0, 0, 1, 1, 1, 0], [0, 0, 1, 1, 1, 1, 1]])
    token_ids = np.array([[5, 6, 7, 8, 9, 3, 0], [5, 6, 7, 8, 9, 3, 4]])
    padding = token_ids != 0
    mask = np.asarray(unilm_attention_mask(segment_ids, padding))
    expected = unilm_reference(segment_ids, padding)
    np.testing.assert_array_equal(mask[padding], expected[padding])  # rows of real query tokens
    # Written out for row 0: the source block is bidirectional, the target causal.
    assert mask[0, 0, :3].all() and not mask[0, 0, 3:].any()     # source sees only source
    assert mask[0, 4, :5].all() and not mask[0, 4, 5:].any()     # target 4 sees source + targets 3..4
    assert not mask[0, :, 6].any()                               # padding is never a key


def test_causal_mask_matches_numpy(rng):
    padding = rng.random((3, 6)) > 0.3
    mask = np.asarray(causal_attention_mask(padding))
    expected = np.tril(np.ones((6, 6), bool))[None] & padding[:, None, :]
    np.testing.assert_array_equal(mask, expected)


def test_layer_modes_and_serialisation(tmp_path):
    token_ids = np.array([[5, 6, 7, 8, 0]], "int32")
    segment_ids = np.array([[0, 0, 1, 1, 0]], "int32")
    padding = token_ids != 0
    expected = {
        "unilm": np.asarray(unilm_attention_mask(segment_ids, padding)),
        "causal": np.asarray(causal_attention_mask(padding)),
        "bidirectional": np.broadcast_to(padding[:, None, :], (1, 5, 5)),
    }
    for mode, want in expected.items():
        layer = AttentionMask(mode)
        np.testing.assert_array_equal(layer(token_ids, segment_ids), want)
        assert AttentionMask.from_config(layer.get_config()).mode == mode
    ids_in = keras.Input((None,), dtype="int32")
    seg_in = keras.Input((None,), dtype="int32")
    mask = AttentionMask("unilm", pad_token_id=0)(ids_in, seg_in)
    model = keras.Model([ids_in, seg_in], keras.ops.cast(mask, "int32"))
    roundtrip_keras_file(model, tmp_path, [token_ids, segment_ids])


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode.*'left'"):
        AttentionMask("left")
    with pytest.raises(ValueError, match="segment_ids"):
        AttentionMask("unilm")(np.ones((1, 3), "int32"))
