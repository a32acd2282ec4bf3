"""Chromosome labels: one canonical form, one sort order, one ``--chr`` syntax."""

from __future__ import annotations

from .errors import UsageError

# PLINK's numeric aliases of the non-autosomal human chromosomes.
_CHR_ALIASES = {"23": "X", "24": "Y", "25": "XY", "26": "MT", "M": "MT", "XY": "XY",
                "X": "X", "Y": "Y", "MT": "MT"}
CHR_ORDER_TAIL = ["X", "Y", "XY", "MT"]


def normalize_chromosome(code: str) -> str:
    """Canonical chromosome label: '01'/'chr1' -> '1', '23'/'chrX' -> 'X', '26'/'M' -> 'MT'.

    Unplaced ('0') and non-human names (e.g. 'scaffold_12') are kept as given.
    """
    c = code.strip()
    if c[:3].lower() == "chr" and (c[3:].isdigit() or c[3:].upper() in _CHR_ALIASES):
        c = c[3:]
    if c.isdigit():
        c = str(int(c))
    up = c.upper()
    return _CHR_ALIASES.get(up, c)


def chromosome_sort_key(label: str):
    """Order 1..22 (numerically, any count), X, Y, XY, MT, 0, then other names."""
    if label.isdigit() and label != "0":
        return (0, int(label), "")
    if label in CHR_ORDER_TAIL:
        return (1, CHR_ORDER_TAIL.index(label), "")
    if label == "0":
        return (2, 0, "")
    return (3, 0, label)


def parse_chr_spec(spec: str) -> tuple[set, list]:
    """Parse ``--chr`` like '1-5,7,X' into a set of canonical labels.

    Ranges are numeric ('1-5'; 'X' style codes only singly, numeric aliases
    23-26 expand to X, Y, XY, MT).  Returns (labels, tokens) for error messages.
    """
    labels: set = set()
    tokens = [t.strip() for t in spec.split(",") if t.strip()]
    if not tokens:
        raise UsageError(f"--chr '{spec}' names no chromosome")
    for tok in tokens:
        if "-" in tok[1:]:
            lo, hi = tok.split("-", 1)
            if not (lo.strip().isdigit() and hi.strip().isdigit()):
                raise UsageError(f"--chr range '{tok}' must be numeric (for example 1-5)")
            a, b = int(lo), int(hi)
            if a > b:
                raise UsageError(f"--chr range '{tok}' runs backwards")
            for k in range(a, b + 1):
                labels.add(normalize_chromosome(str(k)))
        else:
            labels.add(normalize_chromosome(tok))
    return labels, tokens
