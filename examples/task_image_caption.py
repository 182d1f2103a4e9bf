"""Image captioning with Conditional LayerNorm, bert4keras's task_image_caption.py:
an image encoder's pooled vector (through Dense(128, swish)) conditions every
LayerNorm of a small causal transformer that writes the caption; beam search.

    python examples/task_image_caption.py --out zoo/caption-cln-zh
    python examples/task_image_caption.py --language en --out /tmp/caption-cln-en

Data: OpenMoji's emoji images (rasterised) captioned with emojibase's Chinese
labels (or OpenMoji's English annotations). No ImageNet weights are reachable
here, so the encoder is a small CNN trained with the captioner
(`--backbone MobileNetV2 --backbone-weights FILE` uses a keras.applications
backbone with your weights instead).
"""

import argparse
import time
from pathlib import Path

import keras
import numpy as np

import keras_cgen  # noqa: F401
from keras_cgen import training
from keras_cgen import zoo
from keras_cgen.data.emoji import load_emoji
from keras_cgen.images import read_image
from keras_cgen.models import BertConfig
from keras_cgen.models import build_image_captioner
from keras_cgen.models import build_image_encoder
from keras_cgen.text import CharVocabulary


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
    parser.add_argument("--max-length", type=int, default=16, help="caption characters kept")
    parser.add_argument("--patience", type=int, default=8)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--augment", type=float, default=0.1, help="random shift/zoom fraction in training")
    parser.add_argument("--encoder-pretraining-epochs", type=int, default=20,
                        help="first train the CNN to classify emojibase's subgroups (the stand-in for the ImageNet "
                             "weights bert4keras started from); 0 = off")
    parser.add_argument("--thumbnail", action="store_true", help="the encoder also passes on an 8x8 thumbnail")
    parser.add_argument("--freeze-encoder", action="store_true",
                        help="keep the (pre-trained) encoder fixed while the captioner trains")
    parser.add_argument("--backbone", help="a keras.applications model name instead of the small CNN")
    parser.add_argument("--backbone-weights", help="that backbone's weights file")
    parser.add_argument("--no-jit-compile", action="store_true")
    training.add_arguments(parser)
    args = parser.parse_args()
    strategy = training.distribution_strategy(args.strategy)  # first: multiworker sets up collectives
    if args.backbone and not (args.backbone_weights and Path(args.backbone_weights).is_file()):
        parser.error(f"--backbone {args.backbone} needs --backbone-weights FILE (an existing weights file; no ImageNet "
                     f"download is reachable and a random backbone is never used silently), got "
                     f"{args.backbone_weights!r}.")
    keras.utils.set_random_seed(0)

    splits = load_emoji(size=args.image_size)
    vocabulary = CharVocabulary.build([row[args.language] for row in splits["train"]], min_count=1,
                                      raw=args.language == "zh")
    train, valid = (arrays(splits[s], vocabulary, args.language, args.image_size, args.max_length)
                    for s in ("train", "valid"))
    print(f"{len(splits['train'])} train / {len(splits['valid'])} valid images, {len(vocabulary)} symbols")

    encoder_config = {"image_size": args.image_size, **({"backbone": args.backbone} if args.backbone else {}),
                      **({"thumbnail": True} if args.thumbnail else {})}
    transformer = BertConfig(vocabulary_size=len(vocabulary), hidden_size=args.hidden_size,
                             num_layers=args.num_layers, num_heads=args.hidden_size // 64,
                             intermediate_size=2 * args.hidden_size, max_position=args.max_length + 2,
                             dropout=args.dropout, attention_dropout=args.dropout)
    steps = args.epochs * -(-len(splits["train"]) // args.batch_size)
    with strategy.scope():
        model = build_image_captioner(transformer, build_image_encoder(**encoder_config,
                                                                       backbone_weights=args.backbone_weights),
                                      augment=args.augment)
        schedule = keras.optimizers.schedules.CosineDecay(0.0, steps, alpha=0.05, warmup_target=args.learning_rate,
                                                          warmup_steps=max(1, steps // 20))
        model.compile(keras.optimizers.AdamW(schedule, weight_decay=0.01, clipnorm=1.0), training.target_loss(),
                      jit_compile=not args.no_jit_compile)
    minutes = 0
    if args.encoder_pretraining_epochs and not args.backbone:
        minutes += pretrain_encoder(model.get_layer("Image-Encoder"), splits, train[0]["image"], valid[0]["image"],
                                    args)
    if args.freeze_encoder:
        model.get_layer("Image-Encoder").trainable = False
        model.compile(model.optimizer, training.target_loss(), jit_compile=not args.no_jit_compile)
    work = training.work_dir("caption", args.work)
    minutes += training.fit(model, train, (valid[0], valid[1], valid[2]), epochs=args.epochs,
                           batch_size=args.batch_size, work=work, patience=args.patience)

    # The zoo model is the same network without the augmentation layers (their
    # seed state is not a weight of the captioner).
    final = build_image_captioner(transformer, build_image_encoder(**encoder_config))
    for part in ("Image-Encoder", "Caption-LM"):
        final.get_layer(part).set_weights(model.get_layer(part).get_weights())
    config = zoo.ZooConfig(family="image_caption", language=args.language, transformer=transformer.to_dict(),
                           encoder=encoder_config, vocabulary="vocab.json", max_new_tokens=args.max_length + 1,
                           generation={"num_beams": 4}, training=training.record(__file__, args, minutes))
    training.save_zoo_model(args.out, config, final, vocabulary, work)


if __name__ == "__main__":
    main()
