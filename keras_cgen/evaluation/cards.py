"""What every model card shares: the training lines, a recipe's stages, and
writing the card, its figures and evaluation.json into the zoo folder."""

import json
from pathlib import Path


def recipe_stages(trained):
    """The commands of a recipe run in stages (each `continued_from` the one
    before), oldest first, as card text."""
    from keras_cgen.zoo.record import stage_commands

    stages = [command or "n/a" for command in stage_commands(trained)] or ["n/a"]
    if len(stages) == 1:
        return f"`{stages[0]}`"
    return ", then ".join(f"`{c} --out STAGE{i + 1}`" if i < len(stages) - 1 else f"`{c}`" for i, c in enumerate(stages))


# The licences of the pretrained checkpoints zoo models start from, by a name their record holds.
CHECKPOINT_LICENCES = {
    "all-MiniLM-L6-v2": "Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2)",
    "m3e-small": "non-commercial, research use only (m3e-small's README); this model inherits that restriction",
}


def checkpoint_licence(checkpoint):
    """The licence of a recorded checkpoint description (`config.training["checkpoint"]`)."""
    for name, licence in CHECKPOINT_LICENCES.items():
        if name.lower() in checkpoint.lower():
            return licence
    return "not recorded here: see the checkpoint's own licence"


def weights_storage(generator):
    """How a zoo model's weights are stored, for its card."""
    from keras_cgen.zoo.store import weights_dtype

    if weights_dtype(generator.directory / generator.config.weights) == "int8":
        return ("int8 safetensors (weight-only: one float16 scale per matrix row, `cgen convert-weights`), "
                "run in float32")
    return "fp16 safetensors, run in float32"


def training_lines(config):
    """The card's training command(s), time and note, and what was tried and
    not kept (`training["tried"]`: measured attempts, each with its commands),
    from a `ZooConfig`."""
    trained = config.training or {}
    return (f"- Command: {recipe_stages(trained)}\n"
            f"- Time: {trained.get('minutes', 'n/a')} minutes on {trained.get('hardware', 'n/a')}, "
            f"{trained.get('finished', '')}." + (f"\n- {trained['note']}" if trained.get("note") else "")
            + "".join(f"\n- Tried, not kept: {attempt}" for attempt in trained.get("tried", [])))


def finish_card(directory, text, report):
    """Writes the training curve, MODEL_CARD.md and evaluation.json of a zoo
    folder, then re-writes its manifest (the new files are checksummed too)."""
    from keras_cgen import zoo

    directory = Path(directory)
    plot_history(directory / "history.csv", directory / "training_curve.png", directory.name)
    (directory / "MODEL_CARD.md").write_text(text, encoding="utf-8")
    (directory / "evaluation.json").write_text(json.dumps(report, default=vars, indent=1, ensure_ascii=False) + "\n",
                                               encoding="utf-8")
    zoo.write_manifest(directory)


def plot_history(history_csv, png, title):
    """The training curves (every logged loss per epoch: train and valid, or a
    GAN's discriminator and generator losses) as a PNG."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(open(history_csv)))
    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    for column in [c for c in rows[0] if c.endswith("loss") and rows[0][c] not in ("", "NA")]:
        label = {"loss": "train", "val_loss": "valid"}.get(column, column.replace("_", " "))
        ax.plot(epochs, [float(r[column]) for r in rows], "s-" if column.startswith("val_") else "o-", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (the recipe's unit: see the card)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
