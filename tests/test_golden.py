"""Every command's outputs on the bundled data equal those captured before the
round-2 restructuring (issue 11), except columns added on purpose.

See tests/golden/runs.py for what is compared and how; the capture's commit,
environment and commands are in tests/golden/manifest.json.
"""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden"))

import runs as R  # noqa: E402


@pytest.fixture(scope="module")
def golden_runs(tmp_path_factory):
    from click.testing import CliRunner

    d = str(tmp_path_factory.mktemp("golden"))
    cli = R.cli_main()

    def invoke(name, argv):
        res = CliRunner().invoke(cli, argv, catch_exceptions=False)
        assert res.exit_code == 0, f"{name}: {res.output}"

    R.run_all(d, invoke)
    with open(os.path.join(R.HERE, "manifest.json")) as fh:
        manifest = json.load(fh)
    strict = manifest["environment"] == R.environment()
    if not strict:
        print(f"golden outputs: this environment {R.environment()} differs from the capture's "
              f"{manifest['environment']}; numbers compared to a relative 1e-6, not bytes")
    return d, strict


CASES = [(name, out) for name, argv, outs in R.runs("D") for out in outs if out != "kin.txt"]


@pytest.mark.parametrize("name,output", CASES, ids=[f"{n}:{o}" for n, o in CASES])
def test_output_equals_capture(golden_runs, name, output):
    d, strict = golden_runs
    problems = R.compare(os.path.join(d, output), output, strict)
    assert not problems, "\n".join(problems)


def test_comparison_catches_a_changed_digit(golden_runs, tmp_path):
    """The comparison itself can fail: one digit changed in one row is caught."""
    d, strict = golden_runs
    name = "a_lrt.chunk1of5.assoc.tsv.gz"
    text = R.read_text(os.path.join(d, name)).splitlines()
    f = text[5].split("\t")
    j = text[0].split("\t").index("beta")
    f[j] = f[j][:-1] + ("1" if f[j][-1] != "1" else "2")
    text[5] = "\t".join(f)
    import gzip

    p = tmp_path / name
    with gzip.open(p, "wt") as fh:
        fh.write("\n".join(text) + "\n")
    assert R.compare(str(p), name, strict=True)
