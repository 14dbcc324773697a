"""Build the dbt project on scratch DuckDB files (demo data) once per test session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
AS_OF_DATE = "2026-10-31"
MART_TABLES = [
    "fct_exposures",
    "fct_quarantine",
    "fct_arm_statistics",
    "fct_srm_checks",
    "fct_experiment_results",
    "fct_decision_records",
    "fct_experiment_health",
    "fct_factorial_anova",
    "fct_bandit_allocations",
]


@dataclass(frozen=True)
class Build:
    database: Path
    target_dir: Path
    scale: float
    seed: int


def run_dbt(args: list[str], database: Path, target_dir: Path, dbt_vars: dict | None = None):
    """Run the dbt CLI against `database`; raise with dbt's output when it fails."""
    env = dict(os.environ, DBT_PROFILES_DIR=str(ROOT), EXP_DUCKDB_PATH=str(database))
    command = [
        str(BIN / "dbt"), *args,
        "--project-dir", str(ROOT),
        "--target-path", str(target_dir),
        "--log-path", str(target_dir / "logs"),
        "--vars", json.dumps({"as_of_date": AS_OF_DATE, **(dbt_vars or {})}),
    ]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    if completed.returncode != 0:
        raise AssertionError(
            f"dbt {' '.join(args)} failed ({completed.returncode}):\n"
            f"{completed.stdout[-8000:]}\n{completed.stderr[-4000:]}"
        )
    return completed


def generate_demo(database: Path, scale: float, seed: int, parquet_dir: Path | None = None):
    command = [
        sys.executable, "-m", "exptools.demo_data",
        "--database", str(database), "--scale", str(scale), "--seed", str(seed),
    ]
    if parquet_dir is not None:
        command += ["--parquet-dir", str(parquet_dir)]
    subprocess.run(command, check=True, cwd=ROOT)


def build_demo(base: Path, scale: float, seed: int) -> Build:
    base.mkdir(parents=True, exist_ok=True)
    database = base / "warehouse.duckdb"
    generate_demo(database, scale, seed)
    run_dbt(["build"], database, base / "target")
    return Build(database=database, target_dir=base / "target", scale=scale, seed=seed)


@pytest.fixture(scope="session")
def small_build(tmp_path_factory) -> Build:
    """A small demo (exact comparisons against the independent reference)."""
    return build_demo(tmp_path_factory.mktemp("small"), scale=0.05, seed=7)


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory) -> Build:
    """The demo at its README size (planted effects, SRM and guardrail breach)."""
    return build_demo(tmp_path_factory.mktemp("demo"), scale=1.0, seed=42)


def read_table(database: Path, sql: str):
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql).df()
