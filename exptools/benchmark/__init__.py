"""Benchmark of the pipeline: data generator (generate), the floor query (floor), a scratch dbt
project with the benchmark registry and measured dbt runs (project), peers (peers) and the runner
(``python -m exptools.benchmark``). Results and how to reproduce them: docs/benchmarks.md."""
