"""The `cgen` command line: data, train, evaluate, generate, zoo, export, serve-check."""

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# The recipes: the repository's examples/ (a clone), else those installed with the package (a wheel).
RECIPES = (PACKAGE.parent / "examples", PACKAGE / "recipes")


def data_command(args):
    from keras_cgen.data import debian
    from keras_cgen.data import emoji
    from keras_cgen.data import mnist
    from keras_cgen.data import shakespeare
    from keras_cgen.data import snownlp
    from keras_cgen.data.registry import cache_root

    # Each corpus reader takes the cache root; Debian's also takes a language and --refresh.
    readers = {"shakespeare": shakespeare.load_works, "snownlp-reviews": snownlp.load_reviews,
               "peoples-daily-titles": snownlp.load_news_titles, "emoji": emoji.load_emoji, "mnist": mnist.load_mnist}
    if args.dataset == "debian-descriptions":
        runs = [(f"{args.dataset} [{language}]", lambda language=language: debian.load_pairs(
                    language, root=args.cache_dir, refresh=args.refresh)) for language in args.languages]
    elif args.dataset in readers:
        runs = [(args.dataset, lambda: readers[args.dataset](args.cache_dir))]
    else:
        raise SystemExit(f"cgen data: unknown dataset {args.dataset!r}; known: {', '.join(readers)}, "
                         "debian-descriptions")
    for label, load in runs:
        try:
            splits = load()
        except (RuntimeError, FileNotFoundError) as error:
            print(f"cgen data: {error}", file=sys.stderr)
            return 1
        counts = ", ".join(f"{name} {len(rows):,}" for name, rows in splits.items())
        print(f"{label}: {counts} (cache: {cache_root(args.cache_dir)})")
    return 0


def recipe_argv(command, out, extra=()):
    """A recorded recipe command (`python examples/<script> ...`) as the argv that
    reruns it with this Python, writing to `out`."""
    command = shlex.split(command)
    if len(command) < 2 or not command[1].startswith("examples/"):
        raise SystemExit(f"cgen: no recipe command recorded (got {shlex.join(command)!r}).")
    name = command[1].removeprefix("examples/")
    script = next((folder / name for folder in RECIPES if (folder / name).is_file()), None)
    if script is None:
        raise SystemExit(f"cgen: the recipe {name} is in none of {', '.join(map(str, RECIPES))}.")
    return [sys.executable, str(script), *command[2:], *extra, "--out", str(out)]


def train_command(args):
    """Runs the recipe recorded in zoo model `name`'s config. A recipe run in
    stages (each `continued_from` the one before, its `--initial-weights`
    recorded as STAGE<k>) runs stage k into `<out>-stage<k>`, oldest first."""
    from keras_cgen.zoo import record
    from keras_cgen import zoo

    recorded = zoo.ZooConfig.read(zoo.find(args.name)).training
    stages = record.stage_commands(recorded) or [""]  # "": recipe_argv refuses, naming the problem
    folders = {f"STAGE{k}": f"{args.out}-stage{k}" for k in range(1, len(stages))}
    for k, command in enumerate(stages, start=1):
        last = k == len(stages)
        argv = recipe_argv(command, args.out if last else folders[f"STAGE{k}"], args.recipe_args if last else ())
        argv = [folders.get(part, part) for part in argv]
        print("running:", shlex.join(argv), flush=True)
        code = subprocess.call(argv)
        if code or last:
            return code


def zoo_build_command(args):
    from keras_cgen import zoo

    out = Path(args.out or Path.home() / ".cache" / "keras_cgen" / "zoo" / args.name)
    code = train_command(argparse.Namespace(name=args.name, out=out, recipe_args=[]))
    if code == 0:
        zoo.verify(out)
        print(f"built {out}; use it with keras_cgen.zoo.load({str(out)!r}) or KERAS_CGEN_ZOO={out.parent}")
    return code


def zoo_list_command(args):
    from keras_cgen import zoo

    for name in zoo.names():
        config = zoo.ZooConfig.read(zoo.zoo_dir() / name)
        print(f"{name:24s} {config.family:14s} {config.language:6s}")
    return 0


def generate_command(args):
    """The inputs are what the model reads: texts to title, prompts, labels or image files."""
    from keras_cgen import zoo

    options = {"num_beams": args.num_beams, "n": args.n, "seed": args.seed, "max_new_tokens": args.max_new_tokens,
               "scores": args.scores, "out": args.out, "temperature": args.temperature,
               "draw_options": {"guidance": args.guidance}}  # None: the model's default
    try:
        generator = zoo.load(args.name)
        if args.out and not generator.writes_files:
            raise ValueError(f"`--out` is for models that write images; {args.name} prints its answers.")
        lines = generator.cli_lines(args.texts, options)
    except (ValueError, FileNotFoundError) as error:
        print(f"cgen generate: {error}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0


def evaluate_command(args):
    from keras_cgen import zoo

    compare = dict(item.split("=", 1) for item in args.compare)
    directory = zoo.find(args.name)
    evaluation = zoo.family(zoo.ZooConfig.read(directory).family).evaluation_module()
    report = evaluation.evaluate(args.name, split=args.split, limit=args.limit, compare=compare)
    print(evaluation.summary(report))
    if args.write_card:
        # $HOME in place of this machine's home: the card's command runs on the reader's machine
        command = "cgen evaluate " + " ".join(shlex.quote(a).replace(str(Path.home()), "$HOME") for a in sys.argv[2:])
        evaluation.write_card(report, directory, command)
        print(f"wrote {directory / 'MODEL_CARD.md'}")
    return 0


def export_command(args):
    from keras_cgen import export
    from keras_cgen import zoo

    try:
        generator = zoo.load(args.name)
        settings = {"num_beams": args.num_beams} if args.num_beams else {}
        if args.format == "saved_model":
            out = export.export_saved_model(generator, args.out, version=args.version, **settings)
        else:
            out = export.export_onnx(generator, args.out, **settings)
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"cgen export: {error}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


def serve_check_command(args):
    from keras_cgen.export.check import serve_check

    try:
        answer = serve_check(args.dir)
    except (FileNotFoundError, RuntimeError) as error:
        print(f"cgen serve-check: {error}", file=sys.stderr)
        return 1
    print(f"{answer['kind']} export {answer['path']} answered {len(answer['requests'])} requests in "
          f"{answer['seconds']:.2f} s (fresh process importing {', '.join(answer['requires'])}):")
    for i, request in enumerate(answer["requests"]):
        outputs = ", ".join(f"{key} {values[i]!r}" for key, values in answer["answer"].items())
        print(f"  {request[:40]!r:44s} -> {outputs}")
    return 0


def convert_checkpoint_command(args):
    from keras_cgen.checkpoints import convert_torch_checkpoint

    try:
        count = convert_torch_checkpoint(args.source, args.destination)
    except (ValueError, FileNotFoundError, ImportError) as error:
        print(f"cgen convert-checkpoint: {error}", file=sys.stderr)
        return 2
    print(f"wrote {count} tensors to {args.destination}")
    return 0


def convert_weights_command(args):
    from keras_cgen.zoo.store import convert_weights

    try:
        out = convert_weights(args.model, args.destination, args.dtype)
    except (ValueError, FileExistsError) as error:
        print(f"cgen convert-weights: {error}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({sum(p.stat().st_size for p in out.iterdir()) / 1e6:.1f} MB)")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cgen", description="keras-cgen: conditional text generation.")
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="fetch, clean and split a corpus into the cache")
    data.add_argument("dataset", help="debian-descriptions, peoples-daily-titles, snownlp-reviews, shakespeare, emoji, mnist")
    data.add_argument("--languages", nargs="+", default=["en", "zh_CN"], choices=["en", "zh_CN"],
                      help="debian-descriptions only")
    data.add_argument("--cache-dir", help="cache root (default $KERAS_CGEN_CACHE or ~/.cache/keras_cgen)")
    data.add_argument("--refresh", action="store_true", help="re-parse and re-split the fetched files")
    data.set_defaults(run=data_command)

    train = commands.add_parser("train", help="train a zoo model's recipe (extra recipe options after --)")
    train.add_argument("name", help="zoo model whose recipe to run")
    train.add_argument("--out", required=True, help="zoo folder to write (must not exist)")
    train.add_argument("recipe_args", nargs="*", help="after `--`: options passed on to the recipe, e.g. -- --epochs 2")
    train.set_defaults(run=train_command)

    evaluate = commands.add_parser("evaluate", help="ROUGE/BLEU with bootstrap intervals, greedy vs beam, lead")
    evaluate.add_argument("name")
    evaluate.add_argument("--split", default="test", choices=["train", "valid", "test"])
    evaluate.add_argument("--limit", type=int, help="score a seeded sample of this many pairs")
    evaluate.add_argument("--compare", nargs="*", default=[], metavar="LABEL=FOLDER",
                          help="other zoo-format models to score the same way (e.g. copy prior off); "
                               "for a conditional LM: first_token=FOLDER and unconditional=FOLDER; for a title "
                               "model LABEL=EVALUATION.json keeps a row of an earlier report (a model no longer at "
                               "hand, measured on the same pairs)")
    evaluate.add_argument("--write-card", action="store_true", help="write MODEL_CARD.md and figures")
    evaluate.set_defaults(run=evaluate_command)

    generate = commands.add_parser("generate", help='cgen generate NAME "text" ... (texts to title, prompts '
                                   "of a character LM, labels of a conditional LM, image files to caption, "
                                   "digits to draw: 7, seven, 七)")
    generate.add_argument("name")
    generate.add_argument("texts", nargs="+")
    generate.add_argument("--num-beams", type=int, help="default: the model's own setting (beam 4 for titles and "
                          "captions, sampling for LMs)")
    generate.add_argument("--n", type=int, default=1, help="samples per prompt or label (LMs, image models)")
    generate.add_argument("--seed", type=int, help="sampling seed (LMs, image models)")
    generate.add_argument("--max-new-tokens", type=int)
    generate.add_argument("--temperature", type=float, help="image models: scales the noise (default: the model's)")
    generate.add_argument("--guidance", type=float, help="pixelcnn models: weight of the model's own class "
                          "posterior in sampling (default: the model's; 0 samples it as trained)")
    generate.add_argument("--scores", action="store_true", help="also print each title's or caption's log-probability")
    generate.add_argument("--out", help="image models: the PNG grid to write (one row per condition, --n per row)")
    generate.set_defaults(run=generate_command)

    zoo_parser = commands.add_parser("zoo", help="list the zoo, or rebuild a model from its recipe")
    zoo_commands = zoo_parser.add_subparsers(dest="zoo_command", required=True)
    zoo_commands.add_parser("list").set_defaults(run=zoo_list_command)
    build = zoo_commands.add_parser("build", help="retrain NAME from its recorded recipe")
    build.add_argument("name")
    build.add_argument("--out", help="default ~/.cache/keras_cgen/zoo/NAME")
    build.set_defaults(run=zoo_build_command)

    export = commands.add_parser("export", help="export a zoo model for TF Serving or ONNX Runtime")
    export.add_argument("name")
    export.add_argument("--format", required=True, choices=["saved_model", "onnx"])
    export.add_argument("--out", required=True, help="saved_model: the base dir (versions go inside); onnx: a new dir")
    export.add_argument("--version", type=int, default=1, help="saved_model version folder")
    export.add_argument("--num-beams", type=int, help="fixed in the export (default: the model's own setting)")
    export.set_defaults(run=export_command)

    check = commands.add_parser("serve-check", help="load an export in a fresh process and answer requests")
    check.add_argument("dir")
    check.set_defaults(run=serve_check_command)

    convert = commands.add_parser("convert-checkpoint", help="a PyTorch weights file (.bin/.pth, read with "
                                  "torch.load(weights_only=True)) -> safetensors, names kept")
    convert.add_argument("source")
    convert.add_argument("destination", help="a new .safetensors file")
    convert.set_defaults(run=convert_checkpoint_command)

    weights = commands.add_parser("convert-weights", help="copy a zoo model with its weights stored in int8 "
                                  "(weight-only, per-row scales; a quarter of float32) or float16")
    weights.add_argument("model", help="a zoo model name or folder")
    weights.add_argument("destination", help="the new zoo folder")
    weights.add_argument("--dtype", choices=("int8", "float16"), default="int8")
    weights.set_defaults(run=convert_weights_command)

    # `cgen train NAME --out DIR -- --epochs 5`: what follows "--" goes to the recipe untouched
    argv = list(sys.argv[1:] if argv is None else argv)
    passed_on = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if passed_on and args.command != "train":
        parser.error(f"options after `--` ({' '.join(passed_on)}) are only for `cgen train`")
    if args.command == "train":
        args.recipe_args = [*args.recipe_args, *passed_on]
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
