"""numba kernels of the BGEN reader (:mod:`gwaslmm.genotypes.bgen`): the
variant index (one pass over the variant headers) and the decode of
probability blocks into effect-allele dosages.

Plain-numpy / pure-Python references: :func:`bgen_index_reference` and
:func:`bgen_decode_reference`, which the tests compare the kernels with.

Layouts (BGEN spec, https://www.well.ox.ac.uk/~gav/bgen_format/spec/latest.html):
layout 1 (BGEN 1.1) stores three 16-bit probabilities per sample
(P(AA), P(AB), P(BB) times 32768); layout 2 (BGEN 1.2/1.3) stores, per
sample, a ploidy byte (bit 7 = missing) and B-bit probabilities packed
little-endian: unphased, the first K-1 of the genotype probabilities in
colex order (biallelic diploid: P(AA), P(AB)); phased, P(first allele) of
each haplotype.  The dosage written is the expected count of the SECOND
allele ("B"), or of the first with ``count_first``; a haploid sample's
dosage is doubled (0..2, PLINK's coding of haploid calls as homozygous).
"""

from __future__ import annotations

import numpy as np

from .._jit import jit

# error codes of bgen_decode_kernel, per variant
DECODE_ERRORS = {
    1: "the probability block's sample count differs from the header's",
    2: "not two alleles",
    3: "a ploidy other than 1 or 2",
    4: "bits per probability outside 1-32",
    5: "the probability block is shorter than its layout needs",
    6: "a phased flag other than 0 or 1",
}


@jit()
def _u16(buf, p):
    return np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8)


@jit()
def _u32(buf, p):
    return (np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8) | (np.int64(buf[p + 2]) << 16)
            | (np.int64(buf[p + 3]) << 24))


@jit()
def bgen_index_kernel(buf, start, m, layout, compressed, n_file, spans, pos, n_alleles,
                      data_off, data_len):
    """Walk ``m`` variant headers from byte ``start`` of the file ``buf``.

    buf : uint8 (file size,).  spans : int64 (m, 5, 2), filled with [start,
    end) byte ranges of variant ID, rsID, chromosome, first and second allele;
    pos, n_alleles : int64 (m,); data_off, data_len : int64 (m,), the byte
    range of each variant's genotype block after its length fields (for a
    compressed layout 2 block: the compressed bytes, whose decompressed size
    is stored in the 4 bytes just before ``data_off``; an uncompressed layout 1
    block has no length field: 6 bytes per each of the ``n_file`` samples).
    Returns (j, p): the variants indexed (m unless the file ends early) and
    the byte after the last one.
    """
    size = buf.shape[0]
    p = start
    for j in range(m):
        if layout == 1:
            p += 4  # the variant's sample count, checked at decode
        for f in range(3):  # variant ID, rsID, chromosome: u16 length + text
            if p + 2 > size:
                return j, p
            ln = _u16(buf, p)
            spans[j, f, 0] = p + 2
            spans[j, f, 1] = p + 2 + ln
            p += 2 + ln
        if p + 6 > size:
            return j, p
        pos[j] = _u32(buf, p)
        p += 4
        if layout == 1:
            k = 2
        else:
            k = _u16(buf, p)
            p += 2
        n_alleles[j] = k
        for a in range(k):
            if p + 4 > size:
                return j, p
            ln = _u32(buf, p)
            if a < 2:
                spans[j, 3 + a, 0] = p + 4
                spans[j, 3 + a, 1] = p + 4 + ln
            p += 4 + ln
        if k < 2:
            spans[j, 4, 0] = p
            spans[j, 4, 1] = p
        if layout == 1 and compressed == 0:  # 6 bytes per sample, no length field
            data_off[j] = p
            data_len[j] = 6 * n_file
            if p + 6 * n_file > size:
                return j, p
            p += 6 * n_file
            continue
        if p + 4 > size:
            return j, p
        c = _u32(buf, p)
        p += 4
        if layout == 2 and compressed != 0:
            data_off[j] = p + 4  # after the decompressed length
            data_len[j] = c - 4
        else:
            data_off[j] = p
            data_len[j] = c
        if p + c > size or (layout == 2 and compressed != 0 and c < 4):
            return j, p
        p += c
    return m, p


@jit()
def _bits(buf, p, bitoff, nbits):
    """An nbits-wide unsigned integer starting ``bitoff`` bits after byte p."""
    q = p + (bitoff >> 3)
    sh = bitoff & 7
    v = np.int64(0)
    need = (sh + nbits + 7) >> 3
    for t in range(need):
        v |= np.int64(buf[q + t]) << (8 * t)
    return (v >> sh) & ((np.int64(1) << nbits) - 1)


@jit()
def _finish(j, e, f, c, count_first, out, stats):
    """Store one present sample's dosage e (second allele) and E[x^2] f."""
    if count_first:
        f = 4.0 - 4.0 * e + f
        e = 2.0 - e
    x = np.float32(e)
    out[j, c] = x
    stats[j, 0] += x
    stats[j, 1] += f - e * e
    if x < stats[j, 2]:
        stats[j, 2] = x
    if x > stats[j, 3]:
        stats[j, 3] = x


@jit()
def bgen_decode_kernel(buf, offs, lens, layout, n_file, outcol, count_first, out, stats,
                       n_missing, err):
    """Dosages of decompressed probability blocks, with their counts.

    buf : uint8, holding variant j's block at [offs[j], offs[j] + lens[j]).
    outcol : int64 (n_file,), the output column of each file sample (-1:
    not read).  out : float32 (m, n_out), dosages (NaN missing), variant-major.
    stats : float64 (m, 4): over the samples read and present, the sum of
    the (float32) dosages, the sum of the per-sample genotype variances
    E[x^2] - E[x]^2 (for IMPUTE's INFO), the smallest and largest dosage.
    n_missing : int64 (m,).  err : int64 (m,), 0 or a code of DECODE_ERRORS.
    """
    m = offs.shape[0]
    for j in range(m):
        err[j] = 0
        n_missing[j] = 0
        stats[j, 0] = 0.0
        stats[j, 1] = 0.0
        stats[j, 2] = np.inf
        stats[j, 3] = -np.inf
        p = offs[j]
        ln = lens[j]
        if layout == 1:
            if ln < 6 * n_file:
                err[j] = 5
                continue
            for i in range(n_file):
                c = outcol[i]
                if c < 0:
                    continue
                q = p + 6 * i
                a = _u16(buf, q) / 32768.0
                b = _u16(buf, q + 2) / 32768.0
                d = _u16(buf, q + 4) / 32768.0
                s = a + b + d
                if s == 0.0:
                    out[j, c] = np.nan
                    n_missing[j] += 1
                    continue
                _finish(j, (b + 2.0 * d) / s, (b + 4.0 * d) / s, c, count_first, out, stats)
            continue
        if ln < 10 or _u32(buf, p) != n_file:
            err[j] = 1 if ln >= 10 else 5
            continue
        if _u16(buf, p + 4) != 2:
            err[j] = 2
            continue
        if ln < 10 + n_file:
            err[j] = 5
            continue
        phased = buf[p + 8 + n_file]
        nbits = np.int64(buf[p + 9 + n_file])
        if phased > 1:
            err[j] = 6
            continue
        if nbits < 1 or nbits > 32:
            err[j] = 4
            continue
        # values stored per sample: ploidy z (biallelic: z unphased or phased)
        nval = np.int64(0)
        if buf[p + 6] == 2 and buf[p + 7] == 2:  # every ploidy 2 (header's min and max)
            nval = 2 * n_file
        else:
            for i in range(n_file):
                z = np.int64(buf[p + 8 + i] & 63)
                if z < 1 or z > 2:
                    err[j] = 3
                    break
                nval += z
            if err[j]:
                continue
        pp = p + 10 + n_file
        if pp + (nval * nbits + 7) // 8 > p + ln:
            err[j] = 5
            continue
        scale = 1.0 / ((np.int64(1) << nbits) - 1)
        if nval == 2 * n_file and phased == 0 and (nbits == 16 or nbits == 8):
            # the common case, with local sums: diploid, unphased, 8 or 16 bits
            step = nbits // 4  # bytes per sample
            s0 = 0.0
            s1 = 0.0
            lo = np.inf
            hi = -np.inf
            nm = 0
            for i in range(n_file):
                c = outcol[i]
                if c < 0:
                    continue
                if buf[p + 8 + i] >= 128:
                    out[j, c] = np.nan
                    nm += 1
                    continue
                q = pp + step * i
                if nbits == 16:
                    v0 = _u16(buf, q) * scale
                    v1 = _u16(buf, q + 2) * scale
                else:
                    v0 = buf[q] * scale
                    v1 = buf[q + 1] * scale
                e = 2.0 - 2.0 * v0 - v1
                f = v1 + 4.0 * (1.0 - v0 - v1)
                if count_first:
                    f = 4.0 - 4.0 * e + f
                    e = 2.0 - e
                x = np.float32(e)
                out[j, c] = x
                s0 += x
                s1 += f - e * e
                lo = min(lo, x)
                hi = max(hi, x)
            stats[j, 0] = s0
            stats[j, 1] = s1
            stats[j, 2] = lo
            stats[j, 3] = hi
            n_missing[j] = nm
            continue
        bit = np.int64(0)
        for i in range(n_file):
            z = np.int64(buf[p + 8 + i] & 63)
            c = outcol[i]
            if c >= 0:
                if buf[p + 8 + i] >= 128:
                    out[j, c] = np.nan
                    n_missing[j] += 1
                elif phased == 0 and z == 2:
                    v0 = _bits(buf, pp, bit, nbits) * scale
                    v1 = _bits(buf, pp, bit + nbits, nbits) * scale
                    _finish(j, 2.0 - 2.0 * v0 - v1, v1 + 4.0 * (1.0 - v0 - v1), c, count_first,
                            out, stats)
                elif z == 1:  # haploid: doubled
                    q = 1.0 - _bits(buf, pp, bit, nbits) * scale
                    _finish(j, 2.0 * q, 4.0 * q, c, count_first, out, stats)
                else:  # phased diploid: two independent haplotypes
                    q0 = 1.0 - _bits(buf, pp, bit, nbits) * scale
                    q1 = 1.0 - _bits(buf, pp, bit + nbits, nbits) * scale
                    _finish(j, q0 + q1, q0 + q1 + 2.0 * q0 * q1, c, count_first, out, stats)
            bit += z * nbits


# ---------------------------------------------------------------------------
# plain-Python / numpy references
# ---------------------------------------------------------------------------

def bgen_index_reference(data: bytes, start: int, m: int, layout: int):
    """Pure-Python :func:`bgen_index_kernel` for a compressed file: a list of
    (varid, rsid, chrom, pos, alleles, data_off, data_len) per variant."""
    import struct

    out, p = [], start
    for _ in range(m):
        if layout == 1:
            p += 4
        fields = []
        for _f in range(3):
            (ln,) = struct.unpack_from("<H", data, p)
            fields.append(data[p + 2:p + 2 + ln])
            p += 2 + ln
        (pos,) = struct.unpack_from("<I", data, p)
        p += 4
        if layout == 1:
            k = 2
        else:
            (k,) = struct.unpack_from("<H", data, p)
            p += 2
        alleles = []
        for _a in range(k):
            (ln,) = struct.unpack_from("<I", data, p)
            alleles.append(data[p + 4:p + 4 + ln])
            p += 4 + ln
        (c,) = struct.unpack_from("<I", data, p)
        p += 4
        off, ln = (p + 4, c - 4) if layout == 2 else (p, c)
        out.append((*fields, pos, alleles, off, ln))
        p += c
    return out


def bgen_decode_reference(block: bytes, layout: int, n_file: int, count_first: bool = False):
    """Pure-numpy decode of one decompressed probability block of a
    biallelic variant: (dosage float64 (n_file,), NaN missing; the
    per-sample variance float64 (n_file,), NaN missing)."""
    if layout == 1:
        P = np.frombuffer(block[:6 * n_file], dtype="<u2").reshape(n_file, 3) / 32768.0
        s = P.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            e = (P[:, 1] + 2 * P[:, 2]) / s
            f = (P[:, 1] + 4 * P[:, 2]) / s
        e[s == 0] = np.nan
        f[s == 0] = np.nan
    else:
        b = np.frombuffer(block, dtype=np.uint8)
        assert int.from_bytes(block[:4], "little") == n_file
        ploidy = b[8:8 + n_file]
        phased, nbits = int(b[8 + n_file]), int(b[9 + n_file])
        z = (ploidy & 63).astype(np.int64)
        bits = np.unpackbits(b[10 + n_file:], bitorder="little")
        nval = int(z.sum())
        vals = bits[:nval * nbits].reshape(nval, nbits).astype(np.float64) @ (
            2.0 ** np.arange(nbits)) / (2.0 ** nbits - 1)
        start = np.concatenate([[0], np.cumsum(z)[:-1]])
        e = np.empty(n_file)
        f = np.empty(n_file)
        for i in range(n_file):
            v = vals[start[i]:start[i] + z[i]]
            if z[i] == 1:
                e[i], f[i] = 2 * (1 - v[0]), 4 * (1 - v[0])
            elif phased:
                q = 1 - v
                e[i], f[i] = q.sum(), q.sum() + 2 * q[0] * q[1]
            else:
                e[i], f[i] = 2 - 2 * v[0] - v[1], v[1] + 4 * (1 - v[0] - v[1])
        e[ploidy >= 128] = np.nan
        f[ploidy >= 128] = np.nan
    if count_first:
        f = 4 - 4 * e + f
        e = 2 - e
    return e, f - e * e
