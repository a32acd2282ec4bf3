"""Timing whole processes, describing the machine, and the dense-algebra floor.

Every tool is timed as a whole process under GNU ``/usr/bin/time -v`` (wall
clock 'Elapsed' and 'Maximum resident set size'): GEMMA's own log reports CPU
time, not wall time, and Python tools spend seconds importing before their
first stage, so only the whole process is comparable.  GNU time's maximum RSS
is that of the largest single process it waited for (all our tools run as one
process).  Without GNU time the wall clock comes from ``time.perf_counter`` and
the peak memory is reported as unknown.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass

import numpy as np

GNU_TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") else shutil.which("time")


@dataclass
class Timing:
    wall_s: float  # GNU time's Elapsed (or perf_counter)
    max_rss_mb: float  # NaN if unknown
    rc: int | None  # None: killed at the timeout
    tail: str  # last lines of the output, for the report when it failed
    cpu_s: float = float("nan")  # the process's user + system CPU seconds (GNU time)
    other_cpu_share: float = float("nan")  # CPU used by other processes meanwhile, / (wall x cores)


def _gnu_time_works():
    if not GNU_TIME:
        return False
    try:
        p = subprocess.run([GNU_TIME, "-v", "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "Maximum resident set size" in p.stderr


HAVE_GNU_TIME = _gnu_time_works()


def _parse_elapsed(text):
    """'h:mm:ss' or 'm:ss.ss' -> seconds."""
    parts = [float(x) for x in text.strip().split(":")]
    s = 0.0
    for p in parts:
        s = s * 60 + p
    return s


def _busy_cpu_seconds():
    """Machine-wide busy CPU seconds so far (/proc/stat: all but idle and iowait)."""
    try:
        with open("/proc/stat") as fh:
            f = fh.readline().split()
    except OSError:
        return float("nan")
    jiffies = [int(x) for x in f[1:]]
    busy = sum(jiffies) - jiffies[3] - (jiffies[4] if len(jiffies) > 4 else 0)
    # guest time is already counted in user time
    busy -= sum(jiffies[8:10]) if len(jiffies) >= 10 else 0
    return busy / os.sysconf("SC_CLK_TCK")


def parse_gnu_cpu(text):
    """User + system CPU seconds from ``/usr/bin/time -v`` output."""
    u = re.search(r"User time \(seconds\): (\S+)", text)
    s = re.search(r"System time \(seconds\): (\S+)", text)
    if not (u and s):
        return float("nan")
    return float(u.group(1)) + float(s.group(1))


def parse_gnu_time(text):
    """(wall seconds, max RSS in MB) from ``/usr/bin/time -v`` output."""
    wall = rss = float("nan")
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
    if m:
        wall = _parse_elapsed(m.group(1))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if m:
        rss = int(m.group(1)) / 1024.0
    return wall, rss


def run_timed(argv, env_extra, log_path, timeout_s) -> Timing:
    """Run ``argv`` as one process (stdout+stderr to ``log_path``), timed whole."""
    env = dict(os.environ)
    env.update(env_extra or {})
    time_file = log_path + ".time"
    cmd = ([GNU_TIME, "-v", "-o", time_file] if HAVE_GNU_TIME else []) + list(argv)
    busy0 = _busy_cpu_seconds()
    t0 = time.perf_counter()
    with open(log_path, "w") as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                             start_new_session=True)
        try:
            rc = p.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)  # the process group we started, nothing else
            p.wait()
            rc = None
    wall = time.perf_counter() - t0
    busy = _busy_cpu_seconds() - busy0
    rss = cpu = float("nan")
    if HAVE_GNU_TIME and os.path.exists(time_file):
        text = open(time_file).read()
        w, rss = parse_gnu_time(text)
        cpu = parse_gnu_cpu(text)
        if w == w:  # not NaN
            wall = w
    # What the rest of the machine used meanwhile (this harness only waits): a share of
    # the cores' time above a few percent means the timing was contended.
    other = max(0.0, busy - cpu) / (max(wall, 1e-3) * (os.cpu_count() or 1))
    with open(log_path, errors="replace") as fh:
        tail = "".join(fh.readlines()[-8:])
    return Timing(wall, rss, rc, tail, cpu, other)


def machine_info():
    """CPU model, cores, memory, BLAS (threadpoolctl) of the harness's numpy,
    which is the numpy gwaslmm runs with."""
    cpu = "unknown"
    flags = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name") and cpu == "unknown":
                    cpu = line.split(":", 1)[1].strip()
                if line.startswith("flags") and not flags:
                    fl = line.split(":", 1)[1].split()
                    flags = " ".join(f for f in ("avx2", "fma", "avx512f") if f in fl)
    except OSError:
        pass
    mem_gb = float("nan")
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal"):
                    mem_gb = int(line.split()[1]) / 1024 ** 2
    except OSError:
        pass
    try:
        from threadpoolctl import threadpool_info

        blas = [f"{d.get('internal_api')} {d.get('version')} ({d.get('threading_layer', '?')}, "
                f"{d.get('num_threads')} threads, {os.path.basename(d.get('filepath', ''))})"
                for d in threadpool_info() if d.get("user_api") == "blas"]
    except ImportError:
        blas = ["threadpoolctl not installed"]
    return dict(cpu=cpu, cpu_flags=flags, cores=os.cpu_count(),
                affinity=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
                mem_gb=mem_gb, blas="; ".join(blas) or "none found",
                python=platform.python_version(),
                numpy=np.__version__, kernel=platform.release())


def git_state(root, paths=("gwaslmm", "cli")):
    """'<short commit>' of the repository at ``root``, plus the files under
    ``paths`` with uncommitted changes (the editable install runs the working
    tree, so that is what gets benchmarked)."""
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", *paths],
                               capture_output=True, text=True, timeout=30).stdout.split("\n")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (git not available)"
    dirty = [line[3:] for line in dirty if line.strip()]
    if not head:
        return "unknown (not a git checkout)"
    return head + (f" with uncommitted changes in {', '.join(dirty)}" if dirty else " (clean)")


def load_average():
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


@dataclass
class Floor:
    """Dense-algebra floor of the machine at one dataset's shape."""

    n: int
    k: int  # inner dimension of the timed matmul
    gflops: float  # float64 matmul rate, (n x n) @ (n x k), best of 3
    eigh_evd_s: float  # scipy.linalg.eigh(driver='evd') at n (best of the tries)
    eigh_evr_s: float  # driver='evr', for comparison
    eigh_evd_1thread_s: float  # driver='evd' with BLAS limited to 1 thread (contention check)

    def seconds(self, term, m, n_chrom=1, n_snps_scanned=None):
        """Floor seconds of one stage: kinship n^2 m, rotation 2 n^2 m (over the
        scanned SNPs), eigh (once, or once per chromosome for LOCO)."""
        rate = self.gflops * 1e9
        if term == "kinship":
            return self.n ** 2 * m / rate
        if term == "rotation":
            return 2.0 * self.n ** 2 * (n_snps_scanned or m) / rate
        if term == "eigh":
            return self.eigh_evd_s
        if term == "eigh_per_chrom":
            return n_chrom * self.eigh_evd_s
        raise ValueError(term)


def measure_floor(n: int, m: int, log=print) -> Floor:
    """Time numpy's float64 matmul at the rotation shape (n x n) @ (n x k),
    k = min(m, 2048) (2 n^2 k flops; the kinship's X Xᵀ runs at the same rate),
    and scipy.linalg.eigh of an n x n symmetric positive definite matrix."""
    import scipy.linalg

    rng = np.random.default_rng(0)
    k = int(min(m, 2048))
    A = rng.standard_normal((n, n))
    X = rng.standard_normal((n, k))
    best = float("inf")
    A @ X[:, : min(k, 64)]  # warm the BLAS threads
    for _ in range(3):
        t = time.perf_counter()
        A @ X
        best = min(best, time.perf_counter() - t)
    gflops = 2.0 * n * n * k / best / 1e9
    S = A @ A.T / n + np.eye(n)
    del A, X
    tries = 2 if n <= 3000 else 1
    evd = evr = float("inf")
    for _ in range(tries):
        t = time.perf_counter()
        scipy.linalg.eigh(S, driver="evd", check_finite=False)
        evd = min(evd, time.perf_counter() - t)
        t = time.perf_counter()
        scipy.linalg.eigh(S, driver="evr", check_finite=False)
        evr = min(evr, time.perf_counter() - t)
    one = float("nan")
    try:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            t = time.perf_counter()
            scipy.linalg.eigh(S, driver="evd", check_finite=False)
            one = time.perf_counter() - t
    except ImportError:
        pass
    log(f"floor at n={n}: matmul {gflops:.1f} GFLOP/s ((n x n) @ (n x {k}) float64), "
        f"eigh evd {evd:.2f}s (1 thread {one:.2f}s), evr {evr:.2f}s")
    return Floor(n, k, gflops, evd, evr, one)
