"""Drivers: one module per command (grm, reml, assoc, merge, plot), each taking
its options dataclass (:mod:`.options`) and a run log; shared input handling
in :mod:`.inputs`, null-model making in :mod:`.models`, the one block loop in
:mod:`.scan_loop`."""
