"""The package as a user installs it: `pip install .` (a wheel, not a clone)
gives a zoo that loads and a `cgen` that generates."""

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_every_subpackage_is_listed_for_the_wheel():
    listed = set(re.search(r"^packages = \[(.*?)\]", (ROOT / "pyproject.toml").read_text(), re.S | re.M)
                 .group(1).replace('"', "").replace("\n", "").replace(" ", "").split(","))
    found = {".".join(path.parent.relative_to(ROOT).parts) for path in (ROOT / "keras_cgen").rglob("__init__.py")}
    assert listed == found | {"keras_cgen.zoo_models", "keras_cgen.recipes"}


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_loads_the_zoo_and_runs_cgen(tmp_path):
    """Build the wheel, install it (no dependencies: they come from this
    environment through a .pth file) into a new venv, and use it from a folder
    outside the repository."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(ROOT)],
                   check=True, timeout=600)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next((tmp_path / "dist").glob("keras_cgen-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, timeout=600)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KERAS_CGEN", "PYTHONPATH"))}
    script = """
import keras_cgen
from keras_cgen.cli import recipe_argv
print(keras_cgen.__file__)
print(",".join(keras_cgen.zoo.list()))
print(keras_cgen.zoo.load("charrnn-shakespeare").generate("KING.\\n", max_new_tokens=30, seed=0))
print(recipe_argv("python examples/task_char_rnn.py --steps 10", "out")[1])
"""
    run = subprocess.run([python, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    installed, names, sample, recipe = run.stdout.strip().split("\n")[-4:]
    assert installed.startswith(site)  # the wheel's copy, not the repository's
    assert names.split(",") == sorted(path.name for path in (ROOT / "zoo").iterdir() if (path / "config.json").is_file())
    assert recipe.startswith(site) and recipe.endswith("keras_cgen/recipes/task_char_rnn.py")
    cgen = subprocess.run([venv / "bin" / "cgen", "generate", "charrnn-shakespeare", "KING.\n", "--seed", "0",
                           "--max-new-tokens", "30"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert cgen.returncode == 0, cgen.stderr[-3000:]
    assert cgen.stdout == "KING.\n" + sample + "\n"
