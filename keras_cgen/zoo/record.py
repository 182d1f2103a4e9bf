"""The "training" entry of a zoo config: how long, on what, by which command."""

import os
import platform
import time
from pathlib import Path


def hardware():
    import tensorflow as tf

    cpus = len(tf.config.list_physical_devices("CPU"))
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores" + (
        f", GPUs: {gpus}" if gpus else f", no GPU ({cpus} CPU device)")


def record(command, minutes, **extra):
    """The "training" entry of a zoo config: time, hardware, the command, the date."""
    return {"minutes": round(minutes, 1), "hardware": hardware(), "command": command,
            "finished": time.strftime("%Y-%m-%d"), **extra}


def call_line(function, examples, settings):
    """What a Python call of a family's `train` records as its command (a
    recipe passes its own command line instead)."""
    given = "".join(f", {key}={value!r}" for key, value in settings.items())
    return f"{function.__module__}.{function.__name__}(<{examples} examples>{given})"


def stage_commands(trained):
    """The commands of a zoo config's "training" entry, oldest stage first: a
    recipe run in stages records each earlier one under `continued_from`."""
    commands = []
    while trained:
        commands.insert(0, trained.get("command", ""))
        trained = trained.get("continued_from")
    return commands


def command_line(script, args):
    """The command that reruns a recipe with these arguments (for the config and card)."""
    parts = [f"python examples/{Path(script).name}"]
    for key, value in vars(args).items():
        if key in ("out", "work") or value in (False, None) or (key == "checkpoint" and Path(value).exists()):
            continue  # local paths (a named checkpoint such as "m3e-small" is kept)
        parts.append(f"--{key.replace('_', '-')}" + ("" if value is True else f" {value}"))
    return " ".join(parts)
