"""A real BERT checkpoint through keras-cgen (`python examples/bert_checkpoints.py`).

1. Loads the real all-MiniLM-L6-v2 (Hugging Face safetensors) into our
   named-layer transformer and shows sentence similarity: related sentences
   are close, unrelated ones are not.
2. Writes it as a Google TF1 checkpoint and loads that back: same outputs.
3. Makes it a *conditional* UniLM (every LayerNorm conditional): at step 0 the
   conditional model still gives the pretrained hidden states.
"""

import tempfile
import warnings
from pathlib import Path

import numpy as np

import keras_cgen  # noqa: F401  (selects the TensorFlow backend)
from keras_cgen.checkpoints import load_bert
from keras_cgen.checkpoints import minilm_directory
from keras_cgen.checkpoints import save_tf1_checkpoint
from keras_cgen.text import encode_texts
from keras_cgen.text import load_bert_tokenizer

SENTENCES = [
    "A man is playing a guitar.",
    "Someone plays an acoustic guitar on stage.",
    "The stock market fell sharply this morning.",
    "Shares dropped as investors sold off.",
    "A cat sleeps on the sofa.",
]


def mean_pooled(hidden, token_ids):
    mask = (token_ids != 0)[..., None]
    pooled = (np.asarray(hidden) * mask).sum(1) / mask.sum(1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def main():
    directory = minilm_directory()
    print(f"Loading the real all-MiniLM-L6-v2 from {directory}")
    model = load_bert(directory)
    tokenizer = load_bert_tokenizer(directory)
    report = model.checkpoint_report
    print(f"  format={report['format']}  loaded {len(report['loaded'])} tensors, "
          f"missing {len(report['missing'])}, unused {report['unused']}")
    inputs = encode_texts(tokenizer, SENTENCES)
    hidden = np.asarray(model(inputs))
    embeddings = mean_pooled(hidden, inputs["token_ids"])
    similarity = embeddings @ embeddings.T
    print("\nCosine similarity of mean-pooled embeddings:")
    for i, sentence in enumerate(SENTENCES):
        print(f"  {sentence[:42]:42s} " + " ".join(f"{s:5.2f}" for s in similarity[i]))

    with tempfile.TemporaryDirectory() as tmp:
        path = save_tf1_checkpoint(model, Path(tmp) / "minilm_tf1", vocabulary=directory)
        again = load_bert(path)
        diff = np.abs(np.asarray(again(inputs)) - hidden).max()
        print(f"\nHF -> Google TF1 checkpoint -> loaded again: max |diff| = {diff:.2e}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the MLM head is not in a sentence-embedding checkpoint
        conditional = load_bert(directory, application="encoder", condition_size=4)
    inputs["condition"] = np.random.default_rng(0).normal(size=(len(SENTENCES), 4)).astype("float32")
    diff = np.abs(np.asarray(conditional(inputs)) - hidden).max()
    print(f"Conditional LayerNorm model at step 0 vs pretrained: max |diff| = {diff:.2e}")


if __name__ == "__main__":
    main()
