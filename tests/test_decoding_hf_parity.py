"""Same logits function and settings => the same sequences and scores as
Hugging Face transformers' generate. Runs where torch and transformers are
installed (`pip install torch==2.13.0 transformers`); skipped elsewhere."""

import numpy as np
import pytest

from keras_cgen.decoding import generate
from test_decoding_engine import HASHES
from test_decoding_engine import initial_state
from test_decoding_engine import make_model

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

VOCAB = 6


def hf_model(seed):
    table = torch.tensor(np.random.default_rng(seed).normal(size=(HASHES, VOCAB)).astype("float32") * 1.5)

    class ToyConfig(transformers.PretrainedConfig):
        model_type = "keras_cgen_toy"

    class ToyLM(transformers.PreTrainedModel, transformers.GenerationMixin):
        config_class = ToyConfig

        def __init__(self, config):
            super().__init__(config)
            self.anchor = torch.nn.Parameter(torch.zeros(1))

        def forward(self, input_ids, **kwargs):
            h = torch.zeros(input_ids.shape[0], dtype=torch.long)
            logits = []
            for t in range(input_ids.shape[1]):
                h = (h * 31 + input_ids[:, t] + 1) % HASHES
                logits.append(table[h])
            return transformers.modeling_outputs.CausalLMOutput(logits=torch.stack(logits, 1))

        def prepare_inputs_for_generation(self, input_ids, **kwargs):
            return {"input_ids": input_ids}

    config = ToyConfig(vocab_size=VOCAB, pad_token_id=0, eos_token_id=0, bos_token_id=1, is_encoder_decoder=False)
    return ToyLM(config).eval()


SETTINGS = [
    dict(num_beams=3, length_penalty=1.0, early_stopping=False, num_return_sequences=2),
    dict(num_beams=3, length_penalty=0.5, early_stopping=True, num_return_sequences=3),
    dict(num_beams=4, length_penalty=2.0, early_stopping="never", num_return_sequences=2),
    dict(num_beams=2, length_penalty=-0.5, early_stopping=False, num_return_sequences=1),
    dict(num_beams=3, length_penalty=1.0, repetition_penalty=1.3, no_repeat_ngram_size=2, min_new_tokens=2),
    dict(num_beams=1, repetition_penalty=1.5, bad_words_ids=[[3], [2, 4]], min_new_tokens=3),
    dict(num_beams=1, no_repeat_ngram_size=2),
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_same_as_hugging_face(settings):
    model = hf_model(0)
    step, _ = make_model(0, vocabulary=VOCAB, sharp=1.5)
    prompts = np.array([[1], [2], [3], [5]], "int32")
    max_new = 7
    with torch.no_grad():
        theirs = model.generate(
            torch.tensor(prompts, dtype=torch.long), max_new_tokens=max_new, do_sample=False, eos_token_id=0,
            pad_token_id=0, use_cache=False, output_scores=True, return_dict_in_generate=True, **settings)
    ours = generate(step, initial_state(len(prompts)), prompts, max_new_tokens=max_new, eos_token_id=0,
                    pad_token_id=0, **settings)
    count = settings.get("num_return_sequences", 1)
    sequences = theirs.sequences[:, 1:].numpy()
    sequences = np.pad(sequences, ((0, 0), (0, max_new - sequences.shape[1])))
    np.testing.assert_array_equal(ours.sequences.numpy().reshape(-1, max_new), sequences)
    if settings["num_beams"] > 1:
        np.testing.assert_allclose(ours.scores.numpy().reshape(-1), theirs.sequences_scores.numpy(), rtol=1e-5)
    assert ours.sequences.shape == (len(prompts), count, max_new)
