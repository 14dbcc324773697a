"""A scratch copy of the dbt project with the benchmark registry, and measured dbt runs.

The repo's seeds are never touched: the project files (dbt_project.yml, profiles.yml, models/,
macros/, tests/dbt/, seeds/reference/, seeds/_registry__seeds.yml) are copied from the working
tree (default) or from a git revision (``git archive``, read-only) into a scratch directory, and
the benchmark registry CSVs are written into its seeds/ with the column order of the repo's
current seed files (columns the benchmark registry lacks are left empty).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

from .generate import experiment_dates

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_DIR = Path(__file__).resolve().parent / "registry"
REGISTRY_FILES = ("experiments", "variants", "metrics", "experiment_metrics", "experiment_dimensions")
PROJECT_PATHS = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests/dbt",
                 "seeds/reference", "seeds/_registry__seeds.yml")
BIN = Path(sys.executable).parent
PYTHON_PACKAGES = ("analysis_py", "exptools")
PINNED_PYTHON_DIR = "_pinned_python"


def _seed_header(source: Path, name: str) -> list[str] | None:
    path = source / "seeds" / f"{name}.csv"
    if not path.exists():
        return None
    with path.open(newline="") as fh:
        return next(csv.reader(fh))


def materialize_registry(dest: Path, days: int, header_source: Path = ROOT) -> Path:
    """Write the benchmark registry CSVs (dates for ``days`` of data) into ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    dates = experiment_dates(days)
    start = min(a for a, _ in dates.values())
    late = max(a for a, _ in dates.values())
    end = max(b for _, b in dates.values())
    fill = {"start": start.isoformat(), "start_late": late.isoformat(), "end": end.isoformat()}
    for name in REGISTRY_FILES:
        text = (REGISTRY_DIR / f"{name}.csv").read_text()
        for key, value in fill.items():
            text = text.replace("{" + key + "}", value)
        rows = list(csv.DictReader(io.StringIO(text)))
        header = _seed_header(header_source, name) or list(rows[0].keys())
        with (dest / f"{name}.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore", lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow({column: row.get(column, "") for column in header})
    return dest


def make_project(dest: Path, days: int, revision: str | None = None) -> Path:
    """Scratch dbt project at ``dest`` (replaced): project files from the working tree or from
    ``revision`` (git archive), benchmark registry in seeds/."""
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if revision:
        seed_files = [f"seeds/{name}.csv" for name in REGISTRY_FILES]  # for their headers only
        archive = subprocess.run(["git", "archive", "--format=tar", revision, *PROJECT_PATHS, *seed_files],
                                 cwd=ROOT, check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(dest, filter="data")
        # The dbt Python models import analysis_py / exptools: pin those to the revision too
        # (PYTHONPATH of the dbt runs, see dbt_env), else they come from the working tree.
        archive = subprocess.run(["git", "archive", "--format=tar", revision, *PYTHON_PACKAGES],
                                 cwd=ROOT, check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(dest / PINNED_PYTHON_DIR, filter="data")
        header_source = dest
    else:
        for rel in PROJECT_PATHS:
            src = ROOT / rel
            if src.is_dir():
                shutil.copytree(src, dest / rel)
            elif src.exists():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / rel)
        header_source = ROOT
    materialize_registry(dest / "seeds", days, header_source=header_source)
    return dest


def project_revision() -> dict:
    """git HEAD and whether the project files differ from it (for the record)."""
    def git(*args):
        r = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return r.stdout.strip()
    return {"head": git("rev-parse", "--short", "HEAD"),
            "dirty_project_files": bool(git("status", "--porcelain", "--", *PROJECT_PATHS))}


class PeakMemory:
    """Polls the summed RSS of a process tree (psutil) every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            import psutil
        except ImportError:  # psutil is in the bench extra; wait4's ru_maxrss still works
            return
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                rss = 0
                for proc in procs:
                    try:
                        rss += proc.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, rss)
            except psutil.Error:
                break
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def measured_run(command: list[str], env: dict | None = None, cwd: Path | None = None) -> dict:
    """Run ``command``; wall time, CPU time (user + system), peak RSS (wait4 ru_maxrss of the
    child, and the polled sum over its process tree), the 1-minute load average before the run
    (other work on the machine inflates wall time but hardly CPU time), return code, output tail."""
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdin=devnull,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output: list[bytes] = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)
    reader.start()
    with PeakMemory(proc.pid) as peak:
        _, status, rusage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = b"".join(output).decode(errors="replace")
    return {"wall_s": wall, "cpu_s": rusage.ru_utime + rusage.ru_stime,
            "maxrss_bytes": rusage.ru_maxrss * 1024, "polled_rss_bytes": peak.peak,
            "load_avg_1m_before": load_before, "returncode": proc.returncode, "output_tail": text[-6000:]}


def dbt_command(args: list[str], project: Path, target: Path, dbt_vars: dict) -> list[str]:
    return [str(BIN / "dbt"), *args, "--project-dir", str(project), "--profiles-dir", str(project),
            "--target-path", str(target), "--log-path", str(target / "logs"),
            "--vars", json.dumps(dbt_vars)]


def dbt_env(database: Path, threads: int, memory_limit: str, project: Path | None = None) -> dict:
    env = dict(os.environ)
    pinned = Path(project) / PINNED_PYTHON_DIR if project is not None else None
    if pinned is not None and pinned.is_dir():
        env["PYTHONPATH"] = os.pathsep.join([str(pinned), *filter(None, [env.get("PYTHONPATH")])])
    env.update(EXP_DUCKDB_PATH=str(database), EXP_DUCKDB_THREADS=str(threads),
               EXP_DUCKDB_MEMORY_LIMIT=memory_limit, DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    env.pop("EXP_DBT_TARGET", None)
    return env


def run_dbt(args: list[str], project: Path, target: Path, database: Path, dbt_vars: dict,
            threads: int = 2, memory_limit: str = "6GB", check: bool = True) -> dict:
    result = measured_run(dbt_command(args, project, target, dbt_vars),
                          env=dbt_env(database, threads, memory_limit, project), cwd=project)
    if check and result["returncode"] != 0:
        raise RuntimeError(f"dbt {' '.join(args)} failed ({result['returncode']}):\n{result['output_tail']}")
    results_path = target / "run_results.json"
    if results_path.exists():
        result["node_timings"] = node_timings(results_path)
    return result


def node_timings(run_results: Path) -> list[dict]:
    """Per-node execution time (s) and status from dbt's run_results.json, slowest first."""
    data = json.loads(Path(run_results).read_text())
    rows = []
    for r in data.get("results", []):
        rows.append({"node": r["unique_id"], "status": r.get("status"),
                     "seconds": float(r.get("execution_time") or 0.0)})
    return sorted(rows, key=lambda r: -r["seconds"])


def last_day(days: int) -> dt.date:
    return max(b for _, b in experiment_dates(days).values())
