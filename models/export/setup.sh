#!/usr/bin/env bash
# Makes .venv-export, a Python with models/export/requirements.txt, unless it already has them.
# The export tests use it (test/export); without it they are skipped and say why.
# Usage: bash models/export/setup.sh   (PYTHON=python3.11 to choose the interpreter)
# From PyPI, torch comes with its CUDA libraries (several GB); for the CPU build add
# PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.venv-export
check='import torch, transformers, peft, onnx, onnxscript, onnxruntime, sentencepiece, tokenizers'
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$check" 2>/dev/null; then
  echo "$venv is ready"
  exit 0
fi
"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --retries 0 -r models/export/requirements.txt
"$venv/bin/python" -c "$check"
echo "$venv is ready: $("$venv/bin/python" -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)')"
