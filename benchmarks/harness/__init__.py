"""The gwaslmm benchmark harness: simulate data, run gwaslmm and its peers one
after another, time whole processes, check agreement, write a markdown report.

Modules, one per stage: ``suites`` (what to run), ``datasets`` (simulate and
write every tool's input files), ``tools`` (find the peers, build their
command lines), ``measure`` (time a whole process; the machine's dense-algebra
floor), ``agreement`` (read every tool's output, compare), ``report``
(markdown table and scaling figure).  ``benchmarks/run.py`` is the driver.
"""
