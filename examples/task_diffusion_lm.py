"""Diffusion-LM (Li et al. 2022) on Debian package synopses, and the
plug-and-play classifier that steers it by Section class.

    python examples/task_diffusion_lm.py --out zoo/diffusion-lm-debian-en --work /tmp/dlm

Stage 1 trains the diffusion LM (`DiffusionLM`: embedding, rounding head and
denoiser, the paper's "e2e" loss) with AdamW, linear decay and an exponential
moving average of the weights (the weights it ships). Stage 2 trains the
guidance classifier on the frozen embeddings noised at the 200-step schedule;
the diffusion LM is not touched (that is the point of plug and play). Both
stages are resumable: rerun with the same `--work` and each goes on from its
last finished epoch (a finished stage is not trained again).

Deviation from the paper's recipe, for a 2-core budget of ~20K steps instead
of 200K: the learning rate peaks at 3e-4 after a 500-step warm-up (the paper:
1e-4, no warm-up) and the EMA momentum is 0.999 (the paper: 0.9999).

The recipe is `keras_cgen.families.diffusion_lm.train`; this script loads the
synopses and passes its options on.
"""

import argparse

from keras_cgen import training
from keras_cgen.data.debian import SECTION_CLASSES
from keras_cgen.data.debian import load_synopses
from keras_cgen.families.diffusion_lm.train import DEFAULTS
from keras_cgen.families.diffusion_lm.train import train
from keras_cgen.zoo import record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="zoo folder to write (must not exist)")
    parser.add_argument("--sequence-length", type=int)
    parser.add_argument("--embedding-dim", type=int)
    parser.add_argument("--width", type=int)
    parser.add_argument("--num-layers", type=int)
    parser.add_argument("--num-heads", type=int)
    parser.add_argument("--min-count", type=int, help="words seen fewer times in training are [UNK]")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--warmup", type=int)
    parser.add_argument("--steps", type=int, help="training steps of the diffusion LM")
    parser.add_argument("--steps-per-epoch", type=int)
    parser.add_argument("--ema", type=float)
    parser.add_argument("--minutes", type=float, help="wall-clock budget of the diffusion LM")
    parser.add_argument("--classifier-steps", type=int)
    parser.add_argument("--classifier-minutes", type=float)
    parser.add_argument("--fluency", type=float, help="default lambda of guided sampling")
    training.add_arguments(parser)
    parser.set_defaults(**DEFAULTS)
    args = parser.parse_args(argv)
    strategy = training.distribution_strategy(args.strategy)

    splits = {name: [{"text": row["text"], "label": row["class"]} for row in rows]
              for name, rows in load_synopses().items()}
    settings = {key: value for key, value in vars(args).items() if key in DEFAULTS}
    return train(splits["train"], valid=splits["valid"], labels=list(SECTION_CLASSES), out=args.out, work=args.work,
                 strategy=strategy, command=record.command_line(__file__, args),
                 data_record={"dataset": "Debian package synopses (Translation-en) labelled by Section (Packages)",
                              "sections": SECTION_CLASSES}, **settings)


if __name__ == "__main__":
    main()
