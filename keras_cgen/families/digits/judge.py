"""The evaluator of the digit generators: a small CNN trained here, on the
MNIST training split only (the digits are MNIST training images, so no
classifier pretrained on MNIST may judge them), cached after its first
training. One judge for the CVAE, the CGAN and the PixelCNN: its label
accuracy scores conditioning, its penultimate layer gives the features of the
Frechet distance, precision/recall and the memorisation share.
"""

import json

import numpy as np

from keras_cgen.data.registry import cache_root

VERSION = "1"  # bump when the architecture or the recipe changes: the cache is keyed on it
EPOCHS = 12


def build_digit_judge(num_classes=10, image_size=28):
    """Images float32 `[B, H, W]` in [0, 1] -> logits `[B, classes]`; its
    layer "Judge-Features" (128 units) gives the features."""
    import keras

    image = keras.Input((image_size, image_size), name="image")
    x = keras.layers.Reshape((image_size, image_size, 1))(image)
    x = keras.layers.RandomTranslation(0.08, 0.08, fill_mode="constant", seed=0)(x)  # training only
    for filters in (32, 64):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Dropout(0.25)(keras.layers.Flatten()(x))
    features = keras.layers.Dense(128, activation="relu", name="Judge-Features")(x)
    logits = keras.layers.Dense(num_classes, name="Judge-Logits")(keras.layers.Dropout(0.4)(features))
    return keras.Model(image, logits, name="digit_judge")


class DigitJudge:
    """Label probabilities and features of digit images (uint8 `[N, H, W]` or
    floats in [0, 1]).

    Example:
    >>> judge = DigitJudge.trained()                               # doctest: +SKIP
    >>> judge.accuracy(images, labels)                              # doctest: +SKIP
    """

    def __init__(self, model, info=None):
        import keras

        self.model = model
        self.info = info or {}
        self.feature_model = keras.Model(model.input, model.get_layer("Judge-Features").output)

    @staticmethod
    def scaled(images):
        images = np.asarray(images)
        return (images / 255.0 if images.dtype == np.uint8 else images).astype("float32")

    def log_probs(self, images, batch_size=500):
        from scipy.special import log_softmax

        logits = self.model.predict(self.scaled(images), batch_size=batch_size, verbose=0)
        return log_softmax(logits, axis=-1)

    def features(self, images, batch_size=500):
        return self.feature_model.predict(self.scaled(images), batch_size=batch_size, verbose=0)

    def accuracy(self, images, labels):
        return float((self.log_probs(images).argmax(-1) == np.asarray(labels)).mean())

    @classmethod
    def trained(cls, root=None, retrain=False):
        """The judge trained on `load_mnist()["train"]` (seeded), from the cache
        or trained now (about a minute on 2 cores) and cached; its test
        accuracy is in `.info`."""
        import keras

        from keras_cgen.data.mnist import load_mnist

        folder = cache_root(root) / "judges"
        weights, info_path = folder / f"digits-v{VERSION}.weights.h5", folder / f"digits-v{VERSION}.json"
        model = build_digit_judge()
        if weights.is_file() and info_path.is_file() and not retrain:
            model.load_weights(weights)
            return cls(model, json.loads(info_path.read_text()))
        splits = load_mnist(root)
        keras.utils.set_random_seed(0)
        model = build_digit_judge()
        model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"], jit_compile=False)
        (train_x, train_y), (valid_x, valid_y) = splits["train"], splits["valid"]
        model.fit(train_x / 255.0, train_y, validation_data=(valid_x / 255.0, valid_y), epochs=EPOCHS, batch_size=64,
                  verbose=2, callbacks=[keras.callbacks.ReduceLROnPlateau(patience=2, factor=0.3)])
        judge = cls(model)
        judge.info = {"version": VERSION, "epochs": EPOCHS, "trained_on": "train (8,000 digits)",
                      "valid_accuracy": judge.accuracy(*splits["valid"]),
                      "test_accuracy": judge.accuracy(*splits["test"])}
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f"digits-v{VERSION}.partial.weights.h5"
        model.save_weights(partial)
        partial.rename(weights)
        info_path.write_text(json.dumps(judge.info, indent=2) + "\n")
        return judge
