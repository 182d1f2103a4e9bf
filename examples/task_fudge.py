"""The future-attribute classifier of FUDGE (Yang & Klein 2021) for an
unconditional LM of Debian package synopses: p(Section class | prefix) at
every prefix, over the LM's own word vocabulary. With `FudgeProcessor` it
steers the LM at decoding time (the Diffusion-LM card's FUDGE baseline).

    python examples/task_conditional_language_model.py --data synopses --conditioning none --out /tmp/ar
    python examples/task_fudge.py --lm /tmp/ar --out /tmp/fudge

Trained on the training split's synopses as the LM reads them ([START],
words, [END]) with the text's class at every position; early stopping on
the valid split. Resumable with `--work`.

The recipe is `keras_cgen.families.diffusion_lm.train_prefix_classifier`.
"""

import argparse

from keras_cgen import training
from keras_cgen.data.debian import SECTION_CLASSES
from keras_cgen.data.debian import load_synopses
from keras_cgen.families.diffusion_lm.train import PREFIX_CLASSIFIER_DEFAULTS
from keras_cgen.families.diffusion_lm.train import train_prefix_classifier
from keras_cgen.zoo import record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm", required=True, help="the zoo-format folder of the LM to steer (its words.json)")
    parser.add_argument("--out", required=True, help="folder to write (must not exist)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--embedding-dim", type=int)
    parser.add_argument("--units", type=int)
    training.add_arguments(parser)
    parser.set_defaults(**PREFIX_CLASSIFIER_DEFAULTS)
    args = parser.parse_args(argv)

    splits = {name: [{"text": row["text"], "label": row["class"]} for row in rows]
              for name, rows in load_synopses().items()}
    settings = {key: value for key, value in vars(args).items() if key in PREFIX_CLASSIFIER_DEFAULTS}
    return train_prefix_classifier(splits["train"], valid=splits["valid"], labels=list(SECTION_CLASSES), lm=args.lm,
                                   out=args.out, work=args.work, command=record.command_line(__file__, args),
                                   **settings)


if __name__ == "__main__":
    main()
