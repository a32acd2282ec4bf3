#!/usr/bin/env bash
# BGEN files written by plink2 from the project's own simulations, for
# tests/test_bgen.py (issue 14).  From the repository root:
#     bash testdata/reference/bgen/make_bgen.sh
#
# sim8.b12   chromosome 8 of testdata/sim (1,000 samples x 1,250 variants,
#            hard calls with missing ones): BGEN 1.2, 16-bit, zlib, ALT first
#            (plink2's default; gwaslmm's default --ref-last counts it)
# sim8.b13   the same as BGEN 1.3 (zstd), REF first ('ref-first': read with
#            gwaslmm --ref-first)
# sim8.b8    300 of those variants, BGEN 1.2 with 8-bit probabilities
# sim8.b11   the same 300 as BGEN 1.1 (layout 1)
# dose.b16   the dosage simulation of ../dosage (dose.pgen, true dosages):
#            BGEN 1.2, 16-bit, compared with GEMMA's -lmm 4 on those dosages
# dose.plink2.afreq  plink2 --freq cols=+machr2 of ../dosage/dose.pgen
# multi       a tri-allelic variant in a .pgen (from multi.vcf)
# Each .bgen stores its sample IDs; the .sample files give FID and IID.
set -euo pipefail
HERE=testdata/reference/bgen
P="plink2 --threads 1"
$P --bfile testdata/sim --chr 8 --export bgen-1.2 bits=16 --out "$HERE/sim8.b12" > /dev/null
$P --bfile testdata/sim --chr 8 --export bgen-1.3 ref-first --out "$HERE/sim8.b13" > /dev/null
$P --bfile testdata/sim --chr 8 --thin-count 300 --seed 8 --write-snplist --out "$HERE/sim8.thin" > /dev/null
$P --bfile testdata/sim --extract "$HERE/sim8.thin.snplist" --export bgen-1.2 bits=8 --out "$HERE/sim8.b8" > /dev/null
$P --bfile testdata/sim --extract "$HERE/sim8.thin.snplist" --export bgen-1.1 --out "$HERE/sim8.b11" > /dev/null
$P --pfile testdata/reference/dosage/dose --export bgen-1.2 bits=16 --out "$HERE/dose.b16" > /dev/null
# plink2's MaCH R2 of the dosage .pgen, the reference for gwaslmm's info column
$P --pfile testdata/reference/dosage/dose --freq cols=+machr2 --out "$HERE/dose.plink2" > /dev/null
# a tri-allelic variant between two biallelic ones, as plink2 stores it in a
# .pgen (ALT "C,T"): skipped and counted (plink2 2.00a3.5 does not export
# multi-allelic BGEN: "under development"; tests/test_bgen.py writes one)
cat > "$HERE/multi.vcf" <<'VCF'
##fileformat=VCFv4.2
##contig=<ID=1>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
#CHROM	POS	ID	REF	ALT	QUAL	FILTER	INFO	FORMAT	a	b	c	d	e	f	g	h	i	j	k	l
1	100	v1	A	G	.	.	.	GT	0/0	0/1	1/1	0/1	0/0	0/1	1/1	0/1	0/0	0/1	1/1	0/1
1	200	v2	A	C,T	.	.	.	GT	0/1	0/2	1/2	0/0	0/1	0/2	1/2	0/0	0/1	0/2	1/2	0/0
1	300	v3	G	T	.	.	.	GT	1/1	0/0	0/1	0/1	1/1	0/0	0/1	0/1	1/1	0/0	0/1	0/1
VCF
$P --vcf "$HERE/multi.vcf" --make-pgen --out "$HERE/multi" > /dev/null
rm -f "$HERE"/*.log "$HERE"/sim8.thin.log
{ date -u +%F; plink2 --version | head -1; } > "$HERE/versions.txt"
ls -l "$HERE"  # plink2 warns that IDs hold "_": harmless, the .sample files keep FID and IID apart
