#!/usr/bin/env bash
# Install crowdmesh (editable, with test tools) into the current Python.
# PyTorch: an existing install is kept (GPU users keep their CUDA build); otherwise a machine with an
# NVIDIA GPU gets the default CUDA build from PyPI and a machine without one gets the CPU build.
set -euo pipefail
cd "$(dirname "$0")"
py=${PYTHON:-python3}
pip=("$py" -m pip install --disable-pip-version-check)
if ! "$py" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    "${pip[@]}" torch
  else
    # a local CPU wheel if pip can find one, else PyTorch's CPU index
    "${pip[@]}" "torch==2.13.0+cpu" 2>/dev/null \
      || "${pip[@]}" torch --index-url https://download.pytorch.org/whl/cpu
  fi
fi
"${pip[@]}" -e ".[test]"
if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
"$py" -c "import torch; print('crowdmesh installed; torch', torch.__version__, 'cuda' if torch.cuda.is_available() else 'cpu')"
