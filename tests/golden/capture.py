"""Capture the outputs of every run in runs.py into tests/golden/expected/.

Run once, with the code before the restructuring (commit c1687e9):

    .venv/bin/python tests/golden/capture.py

It writes the outputs (tables gzipped, binaries and .npz files summarized,
see runs.py) and manifest.json: the commit, the environment and every command.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import runs as R  # noqa: E402


def main() -> None:
    from click.testing import CliRunner

    cli = R.cli_main()
    os.makedirs(R.EXPECTED, exist_ok=True)
    commands = []
    with tempfile.TemporaryDirectory() as d:
        def invoke(name, argv):
            res = CliRunner().invoke(cli, argv, catch_exceptions=False)
            if res.exit_code != 0:
                raise SystemExit(f"{name} failed: {res.output}")
            commands.append([name, "gwaslmm " + " ".join(a.replace(d, "OUT") for a in argv)])
        R.run_all(d, invoke)
        for name, _, outputs in R.runs(d):
            for out in outputs:
                src = os.path.join(d, out)
                dst = os.path.join(R.EXPECTED, R.expected_name(out))
                k = R.kind(out)
                if k in ("npz", "binary"):
                    summary = R.summarize(src, out)
                    with open(dst, "w") as fh:
                        json.dump(summary, fh, indent=0)
                        fh.write("\n")
                elif k == "table" and not out.endswith(".gz"):
                    with open(src, "rb") as fi, gzip.GzipFile(dst, "wb", mtime=0) as fo:
                        shutil.copyfileobj(fi, fo)
                elif out == "kin.txt":
                    continue  # an input made by plain numpy, not an output
                else:
                    shutil.copyfile(src, dst)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                            cwd=R.ROOT).stdout.strip()
    manifest = dict(commit=commit, environment=R.environment(), commands=commands)
    with open(os.path.join(R.HERE, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")
    print(f"captured {len(commands)} runs into {R.EXPECTED}")


if __name__ == "__main__":
    main()
