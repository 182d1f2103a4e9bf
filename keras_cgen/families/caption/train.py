"""The captioning recipe as library code (bert4keras's task_image_caption.py):
`train(rows, valid=...)` on `{"image", <caption key>}` rows (the zoo's: OpenMoji
images with emojibase's Chinese or OpenMoji's English captions,
`examples/task_image_caption.py`).

An image encoder's pooled vector (through Dense(128, swish)) conditions every
LayerNorm of a small causal transformer that writes the caption. The encoder
is torchvision's ImageNet MobileNetV2 (`backbone="MobileNetV2"`) or a small
CNN trained with the captioner, optionally first taught to classify the rows'
"subgroup" (`encoder_pretraining_epochs`). A frozen backbone's features are
computed once, and only the caption LM trains.
"""

import time

import keras
import numpy as np

from keras_cgen import training
from keras_cgen import zoo
from keras_cgen.checkpoints import mobilenet_v2_weights
from keras_cgen.families.caption.model import build_image_captioner
from keras_cgen.families.caption.model import build_image_encoder
from keras_cgen.families.caption.preprocess import caption_arrays
from keras_cgen.models import BertConfig
from keras_cgen.text import CharVocabulary
from keras_cgen.text import WordVocabulary
from keras_cgen.zoo import record

DEFAULTS = dict(epochs=30, batch_size=32, learning_rate=1e-3, image_size=64, hidden_size=128, num_layers=2,
                max_length=16, unit="characters", patience=8, dropout=0.3, augment=0.1,
                encoder_pretraining_epochs=20, thumbnail=False, freeze_encoder=False, backbone=None,
                backbone_weights=None, keep="best", token_dropout=0.0, token_dropout_copies=4, no_jit_compile=False)


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


def pretrain_encoder(encoder, rows, valid, train_images, valid_images, hp):
    """Trains `encoder` + a softmax over the rows' subgroups (emojibase's faces,
    flags, hands, animals...): features that group similar images, before the
    captioner's zero-initialised conditional LayerNorms start reading them."""
    subgroups = sorted({row["subgroup"] for row in rows})
    index = {s: i for i, s in enumerate(subgroups)}
    labels = {name: np.array([index.get(row["subgroup"], 0) for row in split])
              for name, split in (("train", rows), ("valid", valid))}
    image = keras.Input(train_images.shape[1:])
    pixels = keras.layers.RandomTranslation(hp.augment, hp.augment, fill_mode="constant", fill_value=1.0)(image)
    classifier = keras.Model(image, keras.layers.Dense(len(subgroups))(
        keras.layers.Dropout(0.3)(encoder(pixels))))
    classifier.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                       metrics=["accuracy"], jit_compile=not hp.no_jit_compile)
    start = time.time()
    print(f"encoder pre-training: {len(subgroups)} subgroups")
    classifier.fit(train_images, labels["train"], validation_data=(valid_images, labels["valid"]),
                   epochs=hp.encoder_pretraining_epochs, batch_size=hp.batch_size, verbose=2)
    return (time.time() - start) / 60


def train(rows, *, valid, out, work=None, strategy="default", command=None, language="zh", **settings):
    """Trains a captioner on `rows` (dicts with "image": a path, PIL image or
    array, and the caption under the key `language`; "subgroup" for the
    encoder's pre-training) and writes the zoo folder `out`; `valid` rows give
    the kept checkpoint. `settings` override `DEFAULTS`. Returns `out`."""
    hp = training.recipe_settings(DEFAULTS, settings, "caption.train")
    strategy = training.strategy_of(strategy)
    backbone_weights = hp.backbone_weights or (str(mobilenet_v2_weights()) if hp.backbone else None)
    keras.utils.set_random_seed(0)
    captions = [row[language] for row in rows]
    vocabulary = (WordVocabulary.build(captions, min_count=1) if hp.unit == "words" else
                  CharVocabulary.build(captions, min_count=1, raw=language == "zh"))
    train_data, valid_data = (caption_arrays(split, vocabulary, language, hp.image_size, hp.max_length)
                              for split in (rows, valid))
    print(f"{len(rows)} train / {len(valid)} valid images, {len(vocabulary)} symbols")

    encoder_config = {"image_size": hp.image_size, **({"backbone": hp.backbone} if hp.backbone else {}),
                      **({"thumbnail": True} if hp.thumbnail else {})}
    transformer = BertConfig(vocabulary_size=len(vocabulary), hidden_size=hp.hidden_size,
                             num_layers=hp.num_layers, num_heads=max(1, hp.hidden_size // 64),
                             intermediate_size=2 * hp.hidden_size, max_position=hp.max_length + 2,
                             dropout=hp.dropout, attention_dropout=hp.dropout)
    copies = hp.token_dropout_copies if hp.token_dropout else 1
    steps = hp.epochs * -(-len(rows) * copies // hp.batch_size)
    with strategy.scope():
        encoder = build_image_encoder(**encoder_config, backbone_weights=backbone_weights)
        model = captioner = build_image_captioner(transformer, encoder, augment=hp.augment)
        schedule = keras.optimizers.schedules.CosineDecay(0.0, steps, alpha=0.05, warmup_target=hp.learning_rate,
                                                          warmup_steps=max(1, steps // 20))
        model.compile(keras.optimizers.AdamW(schedule, weight_decay=0.01, clipnorm=1.0), training.target_loss(),
                      jit_compile=not hp.no_jit_compile)
    minutes = 0
    if hp.encoder_pretraining_epochs and not hp.backbone:
        minutes += pretrain_encoder(encoder, rows, valid, train_data[0]["image"], valid_data[0]["image"], hp)
    if hp.freeze_encoder:
        encoder.trainable = False
        if hp.backbone:  # a fixed ImageNet encoder: its features once, then only the caption LM trains
            start = time.time()
            lm = model.get_layer("Caption-LM")
            for inputs, *_ in (train_data, valid_data):
                inputs["condition"] = encoder.predict(inputs.pop("image"), batch_size=64, verbose=0)
            minutes += (time.time() - start) / 60
            model = lm
            model.compile(keras.optimizers.AdamW(schedule, weight_decay=0.01, clipnorm=1.0), training.target_loss(),
                          jit_compile=not hp.no_jit_compile)
        else:
            model.compile(model.optimizer, training.target_loss(), jit_compile=not hp.no_jit_compile)
    if hp.token_dropout:
        train_data = token_dropout(train_data, hp.token_dropout, hp.token_dropout_copies, vocabulary.unk_id)
    work = training.work_dir("caption", work)
    minutes += training.fit(model, train_data, valid_data, epochs=hp.epochs, batch_size=hp.batch_size, work=work,
                            patience=hp.patience, keep=hp.keep)

    # The zoo model is the same network without the augmentation layers (their
    # seed state is not a weight of the captioner).
    final = build_image_captioner(transformer, build_image_encoder(**encoder_config))
    for part in ("Image-Encoder", "Caption-LM"):
        final.get_layer(part).set_weights(captioner.get_layer(part).get_weights())
    config = zoo.ZooConfig(family="image_caption", language=language, transformer=transformer.to_dict(),
                           encoder=encoder_config, vocabulary="words.json" if hp.unit == "words" else "vocab.json",
                           max_new_tokens=hp.max_length + 1, generation={"num_beams": 4},
                           training=record.record(command or record.call_line(train, len(rows), settings), minutes))
    return zoo.save_zoo_model(out, config, final, vocabulary, work)
