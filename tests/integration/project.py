"""A scratch copy of the dbt project for tests that change the registry or the raw data.

``ScratchProject(tmp_path)`` copies dbt_project.yml, profiles.yml, models/, macros/, seeds/ and
tests/dbt/ into ``tmp_path/project`` (so seeds can be edited without touching the repo), points
the DuckDB profile at ``tmp_path/warehouse.duckdb`` and runs the dbt CLI there.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SEED_NAMES = ("experiments", "variants", "metrics", "experiment_metrics", "experiment_dimensions")


class ScratchProject:
    def __init__(self, base: Path, database: Path | None = None):
        self.base = Path(base)
        self.dir = self.base / "project"
        self.database = database or (self.base / "warehouse.duckdb")
        self.dir.mkdir(parents=True, exist_ok=True)
        for name in ("dbt_project.yml", "profiles.yml"):
            shutil.copy(ROOT / name, self.dir / name)
        for name in ("models", "macros", "seeds"):
            shutil.copytree(ROOT / name, self.dir / name, dirs_exist_ok=True)
        shutil.copytree(ROOT / "tests" / "dbt", self.dir / "tests" / "dbt", dirs_exist_ok=True)

    # ---- registry --------------------------------------------------------------------------
    def read_seed(self, name: str) -> list[dict]:
        with open(self.dir / "seeds" / f"{name}.csv", newline="") as f:
            return list(csv.DictReader(f))

    def write_seed(self, name: str, rows: list[dict], fieldnames: list[str] | None = None) -> None:
        if fieldnames is None:
            with open(self.dir / "seeds" / f"{name}.csv", newline="") as f:
                fieldnames = next(csv.reader(f))
        with open(self.dir / "seeds" / f"{name}.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fieldnames, lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in fieldnames})

    # ---- raw data ----------------------------------------------------------------------------
    def sql(self, statement: str, params=None):
        with duckdb.connect(str(self.database)) as connection:
            result = connection.execute(statement, params or [])
            try:
                return result.fetchall()
            except duckdb.InvalidInputException:
                return None

    def query_df(self, statement: str):
        with duckdb.connect(str(self.database), read_only=True) as connection:
            return connection.execute(statement).df()

    # ---- dbt ---------------------------------------------------------------------------------
    def command(self, args: list[str], dbt_vars: dict | None = None) -> list[str]:
        return [
            str(BIN / "dbt"), *args,
            "--project-dir", str(self.dir),
            "--target-path", str(self.base / "target"),
            "--log-path", str(self.base / "logs"),
            "--vars", json.dumps(dbt_vars or {}),
        ]

    def env(self) -> dict:
        return dict(os.environ, DBT_PROFILES_DIR=str(self.dir), EXP_DUCKDB_PATH=str(self.database))

    def dbt(self, args: list[str], dbt_vars: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
        completed = subprocess.run(self.command(args, dbt_vars), env=self.env(), capture_output=True, text=True,
                                   cwd=self.dir)
        if check and completed.returncode != 0:
            raise AssertionError(
                f"dbt {' '.join(args)} failed ({completed.returncode}):\n"
                f"{completed.stdout[-8000:]}\n{completed.stderr[-4000:]}"
            )
        return completed
