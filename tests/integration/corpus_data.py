"""Builders for hand-written registries and raw tables (the bad-input corpus and the injection
tests): tiny experiments whose every expected count is known by construction.

A registry is written with ``write_registry`` (rows as dicts, keyed by the column names of the
seed CSVs; a key that is not a seed column is an error, a missing column is written blank), the
raw tables with ``create_raw_tables`` (DDL of schema.sql; the timestamp and value columns can be
created as VARCHAR to exercise the text parsing paths). ``scenario_runner`` builds one scenario
after another in a single scratch project (see ``ScenarioRunner``).
"""
from __future__ import annotations

import csv
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .project import SEED_NAMES, ScratchProject

AS_OF_DATE = "2026-10-31"

#: defaults the builders fill in; dropped (not an error) if a seed no longer has the column
OPTIONAL_DEFAULT_COLUMNS = {"design", "use_cuped", "srm_alpha", "power", "randomization_unit", "owner"}


def experiment(experiment_id, start_date="2026-10-01", end_date="2026-10-25", **overrides) -> dict:
    row = {
        "experiment_id": experiment_id,
        "experiment_name": f"Experiment {experiment_id}",
        "hypothesis": "A hand-written test experiment.",
        "owner": "qa (tests)",
        "start_date": start_date,
        "end_date": end_date,
        "randomization_unit": "customer",
        "alpha": "0.05",
        "power": "0.8",
        "analysis_method": "fixed_horizon",
        "use_cuped": "false",
        "srm_alpha": "0.001",
        "design": "ab",
    }
    row.update(overrides)
    return row


def variant(experiment_id, variant_id, is_control, traffic_weight=0.5, **overrides) -> dict:
    row = {
        "experiment_id": experiment_id,
        "variant_id": variant_id,
        "variant_name": f"Variant {variant_id}",
        "is_control": "true" if is_control else "false",
        "traffic_weight": str(traffic_weight),
    }
    row.update(overrides)
    return row


def metric(metric_id, aggregation, source_event, attribution_window_days=7, pre_period_days=0, **overrides) -> dict:
    row = {
        "metric_id": metric_id,
        "metric_name": f"Metric {metric_id}",
        "description": "A hand-written test metric.",
        "aggregation": aggregation,
        "source_event": source_event,
        "attribution_window_days": str(attribution_window_days),
        "pre_period_days": str(pre_period_days),
        "desired_direction": "increase",
    }
    row.update(overrides)
    return row


def experiment_metric(experiment_id, metric_id, metric_role="primary", **overrides) -> dict:
    row = {
        "experiment_id": experiment_id,
        "metric_id": metric_id,
        "metric_role": metric_role,
        "practical_threshold": "0",
        "threshold_scale": "relative",
        "guardrail_tolerance": "0.1" if metric_role == "guardrail" else "",
    }
    row.update(overrides)
    return row


@dataclass
class Registry:
    experiments: list[dict] = field(default_factory=list)
    variants: list[dict] = field(default_factory=list)
    metrics: list[dict] = field(default_factory=list)
    experiment_metrics: list[dict] = field(default_factory=list)
    experiment_dimensions: list[dict] = field(default_factory=list)


def write_registry(project: ScratchProject, registry: Registry) -> None:
    """Replace the five registry seeds of the scratch project (headers kept from its copy)."""
    for name in SEED_NAMES:
        with open(project.dir / "seeds" / f"{name}.csv", newline="") as f:
            header = next(csv.reader(f))
        rows = [{k: v for k, v in row.items() if k in header or k not in OPTIONAL_DEFAULT_COLUMNS}
                for row in getattr(registry, name)]
        for row in rows:
            unknown = set(row) - set(header)
            assert not unknown, f"seeds/{name}.csv has no column(s) {sorted(unknown)} (header: {header})"
        project.write_seed(name, rows, header)


def create_raw_tables(
    project: ScratchProject,
    exposures: list[tuple],
    events: list[tuple],
    *,
    exposed_at_type: str = "timestamp",
    event_at_type: str = "timestamp",
    value_type: str = "double",
) -> None:
    """(Re)create raw.exposures / raw.metric_events with the schema.sql DDL and insert the rows
    (tuples in column order; Python floats such as nan / inf are stored as DOUBLE values)."""
    project.sql("create schema if not exists raw")
    project.sql("drop table if exists raw.exposures")
    project.sql("drop table if exists raw.metric_events")
    project.sql(
        "create table raw.exposures (experiment_id varchar, unit_id varchar, variant_id varchar, "
        f"exposed_at {exposed_at_type}, platform varchar, country varchar, city varchar, "
        "is_internal boolean, is_bot boolean)"
    )
    project.sql(
        f"create table raw.metric_events (unit_id varchar, event_name varchar, event_at {event_at_type}, "
        f"value {value_type})"
    )
    with duckdb.connect(str(project.database)) as connection:
        if exposures:
            connection.executemany("insert into raw.exposures values (?, ?, ?, ?, ?, ?, ?, ?, ?)", exposures)
        if events:
            connection.executemany("insert into raw.metric_events values (?, ?, ?, ?)", events)


def quarantine_counts(project: ScratchProject) -> dict[tuple, tuple]:
    """fct_quarantine as {(source_table, experiment_id, reason): (is_exclusion, n_rows, n_units)}."""
    rows = project.sql(
        "select source_table, experiment_id, reason, is_exclusion, n_rows, n_units from main.fct_quarantine"
    )
    out = {}
    for source_table, experiment_id, reason, is_exclusion, n_rows, n_units in rows:
        key = (source_table, experiment_id, reason)
        assert key not in out, f"fct_quarantine has two rows for {key}"
        out[key] = (bool(is_exclusion), int(n_rows), int(n_units))
    return out


def registry_error_lines(built) -> list[str]:
    """The '- table (row): problem' lines under dbt's 'Invalid experiment registry' message
    (sorted, deduplicated: dbt may print the message more than once)."""
    header = "Invalid experiment registry (seeds/), fix these rows:"
    lines = built.output.splitlines()
    starts = [i for i, line in enumerate(lines) if header in line]
    assert starts, f"no registry error in dbt's output:\n{built.output[-6000:]}"
    found = set()
    for start in starts:
        for line in lines[start + 1:]:
            text = line.strip()
            if not text.startswith("- "):
                break
            found.add(text[2:])
    return sorted(found)


# ---- building scenarios ----------------------------------------------------------------------

@dataclass
class BuiltScenario:
    """The outcome of one scenario: dbt's exit code and output, and a copy of the database."""
    name: str
    database: Path
    completed: subprocess.CompletedProcess
    compiled_staging: Path | None = None

    def compiled_sql(self, model_name: str) -> str:
        """The SQL dbt compiled for a staging model in this scenario's build."""
        return (self.compiled_staging / f"{model_name}.sql").read_text()

    @property
    def returncode(self) -> int:
        return self.completed.returncode

    @property
    def output(self) -> str:
        return self.completed.stdout + self.completed.stderr

    def sql(self, statement: str, params=None) -> list[tuple]:
        with duckdb.connect(str(self.database), read_only=True) as connection:
            return connection.execute(statement, params or []).fetchall()

    def query_df(self, statement: str):
        with duckdb.connect(str(self.database), read_only=True) as connection:
            return connection.execute(statement).df()

    def assert_succeeded(self) -> None:
        assert self.returncode == 0, f"dbt build of scenario {self.name} failed:\n{self.output[-8000:]}"


class ScenarioRunner:
    """One scratch dbt project that builds scenario after scenario on the same database path, so
    dbt's partial parsing carries over between builds (a full parse takes ~20 s; the saved
    manifest is only reused when the profile, i.e. the database path, is unchanged). Each
    scenario starts from an empty database; after the build the file is copied aside."""

    def __init__(self, base: Path):
        self.base = Path(base)
        self.project = ScratchProject(self.base / "runner")
        self.built_dir = self.base / "built"
        self.built_dir.mkdir(parents=True, exist_ok=True)

    def _reset_database(self) -> None:
        for path in (self.project.database, Path(f"{self.project.database}.wal")):
            if path.exists():
                path.unlink()

    def build(
        self,
        name: str,
        registry: Registry,
        exposures: list[tuple],
        events: list[tuple],
        *,
        args: tuple[str, ...] = ("build",),
        dbt_vars: dict | None = None,
        **column_types,
    ) -> BuiltScenario:
        self._reset_database()
        write_registry(self.project, registry)
        create_raw_tables(self.project, exposures, events, **column_types)
        completed = self.project.dbt(list(args), dbt_vars={"as_of_date": AS_OF_DATE, **(dbt_vars or {})}, check=False)
        copy = self.built_dir / f"{name}.duckdb"
        shutil.copy(self.project.database, copy)
        wal = Path(f"{self.project.database}.wal")
        if wal.exists():
            shutil.copy(wal, Path(f"{copy}.wal"))
        compiled = self.base / "runner" / "target" / "compiled" / "warehouse_experiments" / "models" / "staging"
        compiled_copy = self.built_dir / f"{name}_compiled_staging"
        if compiled.exists():
            shutil.copytree(compiled, compiled_copy, dirs_exist_ok=True)
        return BuiltScenario(name=name, database=copy, completed=completed, compiled_staging=compiled_copy)


_RUNNER: ScenarioRunner | None = None


def scenario_runner(tmp_path_factory) -> ScenarioRunner:
    """The test session's runner (created on first use; builds run one after another)."""
    global _RUNNER
    if _RUNNER is None:
        _RUNNER = ScenarioRunner(tmp_path_factory.mktemp("scenarios"))
    return _RUNNER
