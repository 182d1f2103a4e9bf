"""PyTorch weight files, converted once to safetensors.

A `.bin` / `.pth` file is a pickle; it is read only by
`torch.load(..., weights_only=True)` (tensors and plain containers, never
arbitrary objects), here, in a conversion step. Everything else in keras-cgen
reads the safetensors file it writes (`cgen convert-checkpoint SRC DST`).
"""

import os
import tempfile
from pathlib import Path


def convert_torch_checkpoint(source, destination):
    """Writes the tensors of the PyTorch state dict `source` to the
    safetensors file `destination` (names kept; written to a temporary file
    first, so a failure leaves no partial file). Returns the tensor count."""
    source, destination = Path(source), Path(destination)
    if not source.is_file():
        raise FileNotFoundError(f"`source` must be a PyTorch weights file (.bin, .pth, .pt), got '{source}'.")
    if destination.suffix != ".safetensors":
        raise ValueError(f"`destination` must end in .safetensors, got '{destination}'.")
    try:
        import torch
    except ImportError as error:
        raise ImportError("Converting a PyTorch file needs torch (CPU build: `make install` installs it).") from error
    from safetensors.numpy import save_file

    state = torch.load(source, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not state:
        raise ValueError(f"'{source}' does not hold a state dict (name -> tensor), but a {type(state).__name__}.")
    not_tensors = sorted(name for name, value in state.items() if not isinstance(value, torch.Tensor))
    if not_tensors:
        raise ValueError(f"'{source}' holds entries that are not tensors: {not_tensors[:5]}.")
    # torch may share storage between tensors (tied embeddings); safetensors wants each its own copy
    arrays = {name: value.detach().contiguous().numpy().copy() for name, value in state.items()}
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".safetensors", dir=destination.parent)
    os.close(handle)
    try:
        save_file(arrays, temporary, metadata={"converted_from": source.name})
        os.replace(temporary, destination)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return len(arrays)
