# The README's commands. Everything installs into .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck chromium bench bench-data bench-eval bench-models bench-serving bench-accuracy bench-fair bench-backtest bench-streaming bench-simulation clean

$(STAMP): pyproject.toml requirements/lock.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=25.1"
	$(BIN)/python -m pip install -q -c requirements/lock.txt -e ".[implicit,serve,stream,train,deep,rank,spark]" --group test --group dev
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tailor demo --out demo-output

# Debian's chromium for the browser test of report.html. Locally the test skips without it; with
# CI=true (.ci/run) a failed install fails here, and the test would fail too.
chromium:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) \
		|| if [ "$$CI" = true ]; then \
			echo "chromium could not be installed and CI=true: the browser test cannot run" >&2; \
			exit 1; \
		else echo "chromium could not be installed: the report.html browser test will be skipped"; fi

test: $(STAMP) lint typecheck chromium
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# Benchmarks write their results under bench/results/ and into docs/; none runs in `make test`.
# bench-streaming (live events: freshness, throughput, fold-in vs refit; docs/streaming.md,
# "Measured") needs the machine's Redis on 127.0.0.1:6379 and ../shared/data/ml-100k.
bench: bench-data bench-eval bench-models bench-serving bench-accuracy

bench-data: $(STAMP)
	$(BIN)/python bench/data_prepare_split.py

bench-eval: $(STAMP)
	$(BIN)/python bench/evaluate_speed.py

bench-models: $(STAMP)
	$(BIN)/python bench/models_speed.py
	$(BIN)/python bench/mf_sgd.py

bench-serving: $(STAMP)
	$(BIN)/python bench/serving/run.py
	$(BIN)/python bench/serving/hot_path.py
	$(BIN)/python bench/serving/hot_path.py --redis redis://127.0.0.1:6379/0
	$(BIN)/python bench/serving/ann_recall.py

bench-accuracy: $(STAMP)
	bash bench/accuracy/setup_peers.sh
	bench/.venv-peers/bin/python bench/accuracy/run.py

# About 10 minutes on 2 cores; results in bench/results/streaming_*.json
bench-streaming: $(STAMP)
	$(BIN)/python bench/streaming/freshness.py
	$(BIN)/python bench/streaming/throughput.py --batch-max 5000,1000,20000
	$(BIN)/python bench/streaming/incremental.py
	$(BIN)/python bench/streaming/crash.py --events 10000 --kills 8 --produce-s 30 --seed 1 --control

# The shop simulator's three proofs at full size (docs/simulation.md), about 3 minutes
bench-simulation: $(STAMP)
	$(BIN)/python bench/simulation/proofs.py

# More tuning for the peers (docs/benchmarks.md, "Fair comparisons"): capped at 30 minutes
bench-fair: $(STAMP)
	bash bench/accuracy/setup_peers.sh
	cd bench/accuracy && ../.venv-peers/bin/python fair.py --deadline-min 30

# Online Retail month by month (docs/backtests.md); the project's pandas prepares the data
bench-backtest: $(STAMP)
	bash bench/accuracy/setup_peers.sh
	$(BIN)/tailor data prepare online-retail --out bench/results/.online-retail --force
	bench/.venv-peers/bin/python bench/backtest/run.py --prepared bench/results/.online-retail
	rm -rf bench/results/.online-retail

clean:
	rm -rf $(VENV) demo-output .mypy_cache .ruff_cache
