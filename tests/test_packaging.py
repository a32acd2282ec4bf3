"""Packaging (issue 11): the command-line package is installed under a
gwaslmm-specific name, and numba's compiled kernels are cached outside the
installed package (a cache inside it survived a reinstall and shadowed the
new code).  .ci/run runs the README's two commands in sequence on a clean
clone and checks that gwaslmm still starts."""

import os
import subprocess
import sys
from importlib import metadata


def test_entry_point_is_the_gwaslmm_cli_package():
    eps = [ep for ep in metadata.entry_points(group="console_scripts") if ep.name == "gwaslmm"]
    assert [ep.value for ep in eps] == ["gwaslmm_cli.main:main"]
    import gwaslmm_cli.main  # noqa: F401


def test_no_numba_cache_inside_the_package():
    """The suite has run every kernel by now (this file sorts late); none was
    cached beside the package's sources."""
    import numpy as np

    import gwaslmm
    from gwaslmm.scan.kernels import fixed_lambda_sums

    a, b = np.empty(3), np.empty(3)
    fixed_lambda_sums(np.ones(4), np.ones(4), np.ones((4, 3)), a, b)  # compiled and cached

    root = os.path.dirname(gwaslmm.__file__)
    found = [os.path.join(d, f) for d, _, files in os.walk(root) for f in files
             if f.endswith((".nbi", ".nbc"))]
    assert not found, found


def test_cache_folder_is_a_user_cache_and_can_be_moved(tmp_path):
    code = "from gwaslmm._jit import cache_dir; print(cache_dir())"
    env = {k: v for k, v in os.environ.items()
           if k not in ("GWASLMM_CACHE_DIR", "NUMBA_CACHE_DIR", "GWASLMM_NUMBA_CACHE")}
    run = lambda **e: subprocess.run([sys.executable, "-c", code], capture_output=True,  # noqa
                                     text=True, env=dict(env, **e)).stdout.strip()
    assert run(XDG_CACHE_HOME=str(tmp_path)) == os.path.join(str(tmp_path), "gwaslmm", "numba")
    assert run(GWASLMM_CACHE_DIR=str(tmp_path / "c")) == os.path.join(str(tmp_path / "c"), "numba")
    assert run(GWASLMM_NUMBA_CACHE="0") == "None"


def test_first_run_compilation_is_reported_once(tmp_path):
    """The first run with an empty kernel cache says it compiled the kernels
    (and how long that took); the next run loads them and says nothing."""
    env = dict(os.environ, GWASLMM_CACHE_DIR=str(tmp_path / "cache"))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tiny = os.path.join(root, "testdata", "tiny")
    logs = []
    for k in (1, 2):
        r = subprocess.run([sys.executable, "-m", "gwaslmm", "grm", "--bfile", tiny, "--out",
                            str(tmp_path / f"g{k}")], capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        with open(tmp_path / f"g{k}.log") as fh:
            logs.append(fh.read())
    assert "numba: compiled kernels on first use in" in logs[0]
    assert "compiled kernels" not in logs[1]
