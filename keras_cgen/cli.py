"""The `cgen` command line."""

import argparse


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cgen", description=__doc__)
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
