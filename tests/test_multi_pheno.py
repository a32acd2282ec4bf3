"""assoc with several phenotypes in one pass (issue 19): each phenotype's
result file equals its single run — byte for byte in the exact scan; with
--fast (the single run whitens, the shared pass rotates) to the last printed
digit — with LOCO and a chunk; the options it does not take yet are refused."""

from __future__ import annotations

import pytest

from conftest import SIM, run_cli

COMMON = ["--bfile", SIM, "--pheno", SIM + ".pheno", "--covar", SIM + ".covar",
          "--covar-name", "age,bmi", "--no-gzip"]


@pytest.mark.parametrize("extra", [["--test", "all"], ["--fast", "--loco", "--chunk", "2/3"]],
                         ids=["exact-all", "fast-loco-chunk"])
def test_each_phenotype_equals_its_single_run(tmp_path, extra):
    """trait and trait2 have different missing samples: two patterns, two
    decompositions; every row and the analysed samples equal the single runs."""
    r = run_cli(["assoc", *COMMON, "--pheno-name", "trait,trait2", *extra, "--out",
                 tmp_path / "m"])
    assert r.exit_code == 0, r.output
    chunk = ".chunk2of3" if "--chunk" in extra else ""
    assert "2 phenotypes in 2 missingness pattern(s)" in (tmp_path / f"m{chunk}.log").read_text()
    for p in ("trait", "trait2"):
        r = run_cli(["assoc", *COMMON, "--pheno-name", p, *extra, "--out", tmp_path / p])
        assert r.exit_code == 0, r.output
        many = (tmp_path / f"m.{p}{chunk}.assoc.tsv").read_text().splitlines()
        one = (tmp_path / f"{p}{chunk}.assoc.tsv").read_text().splitlines()
        assert len(many) == len(one) > 1000 and many[0] == one[0]
        if "--fast" not in extra:  # the exact scan rotates either way: every byte
            assert many == one
        for x, y in zip(many[1:], one[1:]):  # --fast: whitening vs the shared rotation
            for u, v in zip(x.split("\t"), y.split("\t")):
                if u != v:
                    assert float(u) == pytest.approx(float(v), rel=2e-7), (x, y)
        assert ((tmp_path / f"m.{p}{chunk}.samples.tsv").read_text()
                == (tmp_path / f"{p}{chunk}.samples.tsv").read_text())


def test_all_pheno_and_refusals(tmp_path):
    r = run_cli(["assoc", *COMMON, "--all-pheno", "--fast", "--chr", "8", "--out",
                 tmp_path / "a"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "a.trait.assoc.tsv").exists() and (tmp_path / "a.trait2.assoc.tsv").exists()
    for opts, text in ((["--gxe", "age"], "--gxe"), (["--plot"], "--plot"),
                       (["--random", "x", "--no-kinship"], "variance components")):
        r = run_cli(["assoc", *COMMON, "--pheno-name", "trait,trait2", *opts, "--out",
                     tmp_path / "e"])
        assert r.exit_code == 2 and text in r.output and "not offered" in r.output, r.output
