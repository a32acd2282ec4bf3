#!/usr/bin/env bash
# Install the peer tools the benchmark compares gwaslmm with.
#
#   bash benchmarks/setup_peers.sh            # from the repository root, as root
#   bash benchmarks/setup_peers.sh --no-apt   # only the FaST-LMM virtual environment
#
# Debian packages: gemma (GEMMA 0.98.5), plink2 (PLINK 2), bolt-lmm (binary `bolt`).
# FaST-LMM: PyPI `fastlmm` in its own virtual environment, benchmarks/.venv-fastlmm
# (kept apart from the project's .venv so its pins cannot disturb gwaslmm's);
# single_snp needs `six` beside it.  benchmarks/run.py finds it there, or at
# $FASTLMM_PYTHON.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"

if [[ "${1:-}" != "--no-apt" ]]; then
    apt-get update
    apt-get install -y gemma plink2 bolt-lmm
fi

VENV="$HERE/.venv-fastlmm"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip
"$VENV/bin/pip" install fastlmm six
"$VENV/bin/python" -c "import six; from importlib.metadata import version; from fastlmm.association import single_snp; print('fastlmm', version('fastlmm'))"
