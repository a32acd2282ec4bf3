"""Run log: ``<out>.log`` (command line, version, inputs, counts, timings) and
progress lines on stderr.  The CLI may install a nicer progress display
(click's bar on a terminal) through ``progress_factory``."""

from __future__ import annotations

import json
import os
import platform
import sys
import time

from . import __version__
from .writers import atomic_text, ensure_parent, output_error, refuse_symlink, reporting


class RunLog:
    def __init__(self, path: str | None, command_line: str = "", quiet: bool = False,
                 progress_factory=None):
        """path: the log file (:attr:`gwaslmm.paths.Outputs.log`), or None for
        stderr only."""
        self.t0 = time.perf_counter()
        self.quiet = quiet
        self.timings: dict = {}
        self.progress_factory = progress_factory
        self._fh = None
        self.path = path
        if path:
            ensure_parent(path)
            refuse_symlink(path)
            with reporting(path):  # never through a link planted at the log's name
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                             | getattr(os, "O_NOFOLLOW", 0), 0o644)
            self._fh = os.fdopen(fd, "w", encoding="utf-8")
        self.write(f"gwaslmm {__version__}  (python {platform.python_version()}, "
                   f"{platform.machine()}, {time.strftime('%Y-%m-%d %H:%M:%S')})")
        if command_line:
            self.write(f"command: {command_line}")

    def write(self, msg: str, echo: bool = True) -> None:
        if self._fh:
            try:
                self._fh.write(msg + "\n")
                self._fh.flush()
            except OSError as exc:  # the log's disk is full: stop writing it, say why
                fh, self._fh = self._fh, None
                try:
                    fh.close()
                except OSError:
                    pass
                raise output_error(exc, self.path) from None
        if echo and not self.quiet:
            print(msg, file=sys.stderr, flush=True)

    info = write

    def lines(self, lines) -> None:
        for ln in lines:
            self.write(ln)

    def file_info(self, label: str, path: str) -> None:
        size = os.path.getsize(path) if os.path.exists(path) else -1
        self.write(f"{label}: {path} ({size} bytes)")

    def stage(self, name: str, seconds: float) -> None:
        self.timings[name] = self.timings.get(name, 0.0) + float(seconds)

    def progress(self, label: str, total: int):
        """A callback(done, total) for a stage with ``total`` units."""
        if self.progress_factory is not None and not self.quiet:
            return self.progress_factory(label, total)
        state = {"last": -1.0, "t": time.perf_counter()}

        def cb(done, total=total):
            if self.quiet:
                return
            frac = done / max(total, 1)
            now = time.perf_counter()
            if frac >= 1.0 or frac - state["last"] >= 0.1 or now - state["t"] > 30:
                state["last"], state["t"] = frac, now
                print(f"  {label}: {done}/{total} ({100 * frac:.0f}%)", file=sys.stderr,
                      flush=True)
        return cb

    def close(self, timings_path: str | None = None) -> None:
        """End the log with the stage timings; ``timings_path`` (after a
        successful run only) gets them as JSON."""
        total = time.perf_counter() - self.t0
        self.timings["total"] = total
        try:
            if self.timings:
                parts = ", ".join(f"{k} {v:.2f}s" for k, v in self.timings.items())
                self.write(f"timings: {parts}")
            if timings_path:
                with atomic_text(timings_path) as fh:
                    json.dump({k: round(v, 4) for k, v in self.timings.items()}, fh, indent=1)
                    fh.write("\n")
        finally:
            if self._fh:
                try:
                    self._fh.close()
                except OSError:
                    pass
                self._fh = None
