"""Per-variant scans behind one interface (:mod:`.base`): the exact tests of
:mod:`.exact` and the fixed-variance tests of :mod:`.fixed`, on the designs
of :mod:`.designs`; p-values and lambda_GC in :mod:`.pvalues`."""
