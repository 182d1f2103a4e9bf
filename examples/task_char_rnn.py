"""A character-level LSTM language model on Shakespeare's works (the seed lesson
on character-level generation with temperature), held-out plays for validation.

    python examples/task_char_rnn.py --out zoo/charrnn-shakespeare

The recipe is `keras_cgen.families.char_lm.train` (its docstring says what it
does); this script fetches the plays and passes its options on.
"""

import argparse

from keras_cgen import training
from keras_cgen.data.shakespeare import load_works
from keras_cgen.families.char_lm.train import DEFAULTS
from keras_cgen.families.char_lm.train import train
from keras_cgen.zoo import record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="zoo folder to write (must not exist)")
    parser.add_argument("--steps", type=int, help="training steps (the learning-rate schedule's length)")
    parser.add_argument("--steps-per-epoch", type=int)
    parser.add_argument("--minutes", type=float, help="stop after this wall-clock budget")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--sequence-length", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--embedding-dim", type=int)
    parser.add_argument("--hidden-units", type=int)
    parser.add_argument("--num-layers", type=int)
    parser.add_argument("--dropout", type=float)
    parser.add_argument("--no-jit-compile", action="store_true")
    training.add_arguments(parser)
    parser.set_defaults(**{k: v for k, v in DEFAULTS.items() if k != "min_count"})
    args = parser.parse_args(argv)
    strategy = training.distribution_strategy(args.strategy)  # first: multiworker sets up collectives

    works = load_works()
    settings = {key: value for key, value in vars(args).items() if key in DEFAULTS}
    return train(list(works["train"].values()), valid=list(works["valid"].values()), out=args.out,
                 work=args.work, strategy=strategy, command=record.command_line(__file__, args),
                 data_record={"valid": sorted(works["valid"]), "test": sorted(works["test"])}, **settings)


if __name__ == "__main__":
    main()
