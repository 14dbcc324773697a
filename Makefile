# Two commands do everything on a fresh machine (Python 3.11, pip, gcc):
#   make demo   generate demo data, dbt build on DuckDB, print results and decisions
#   make test   run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DB     ?= warehouse.duckdb
SCALE  ?= 1.0
SEED   ?= 42
AS_OF  ?= 2026-10-31

export DBT_PROFILES_DIR := $(CURDIR)
export EXP_DUCKDB_PATH  ?= $(CURDIR)/$(DB)

.PHONY: install demo build summary quality test bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dbt,test,quality]"
	touch $@

install: $(BIN)/.installed

demo: install
	rm -f $(DB) $(DB).wal
	$(BIN)/python -m exptools.demo_data --database $(DB) --scale $(SCALE) --seed $(SEED)
	$(MAKE) --no-print-directory build quality summary

build: install
	$(BIN)/dbt build --vars '{as_of_date: "$(AS_OF)"}'

summary: install
	$(BIN)/python -m exptools.summary --database $(DB)

# Great Expectations suites over the raw inputs and the result tables (docs/data_quality.md)
quality: install
	$(BIN)/python -m exptools.quality --database $(DB) --report target/quality_report.md > /dev/null
	@echo "data quality: all expectations pass (report: target/quality_report.md)"

# Benchmark against a hand-written DuckDB floor query (docs/benchmarks.md); SIZE=S|M|L
SIZE ?= S
bench: install
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python -m exptools.benchmark --size $(SIZE)

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf target logs $(DB) $(DB).wal .pytest_cache
