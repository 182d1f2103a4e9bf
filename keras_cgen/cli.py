"""The `cgen` command line."""

import argparse
import sys


def data_command(args):
    from keras_cgen.data import debian

    if args.dataset != "debian-descriptions":
        raise SystemExit(f"cgen data: unknown dataset {args.dataset!r}; known: debian-descriptions")
    for language in args.languages:
        try:
            splits = debian.load_pairs(language, root=args.cache_dir, refresh=args.refresh)
        except (RuntimeError, FileNotFoundError) as error:
            print(f"cgen data: {error}", file=sys.stderr)
            return 1
        counts = ", ".join(f"{name} {len(rows):,}" for name, rows in splits.items())
        print(f"debian-descriptions [{language}]: {counts} pairs in {debian.split_dir(language, args.cache_dir)}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cgen", description="keras-cgen: conditional text generation.")
    commands = parser.add_subparsers(dest="command", required=True)
    data = commands.add_parser("data", help="fetch, clean and split a corpus into the cache")
    data.add_argument("dataset", help="debian-descriptions")
    data.add_argument("--languages", nargs="+", default=["en", "zh_CN"], choices=["en", "zh_CN"])
    data.add_argument("--cache-dir", help="cache root (default $KERAS_CGEN_CACHE or ~/.cache/keras_cgen)")
    data.add_argument("--refresh", action="store_true", help="re-parse and re-split the fetched files")
    data.set_defaults(run=data_command)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
