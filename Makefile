# The README's commands. Everything installs into .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck chromium deploy-tools image compose-smoke bench bench-data bench-eval bench-models bench-serving bench-serving-external bench-accuracy bench-fair bench-backtest bench-streaming bench-simulation bench-ranker bench-cold-start bench-deep bench-explain bench-spark bench-scale clean

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

test: $(STAMP) lint typecheck chromium deploy-tools
	$(BIN)/python -m pytest -q -p no:cacheprovider

# Container tooling for tests/deploy (docs/deploy.md): podman + runc + debootstrap (the image
# test), podman-compose, docker-compose (the compose schema), python3-venv (wheels resolved by
# Debian's Python 3.11, the image's), and checkov in its own venv (its pins clash with ours).
# Locally the tests skip without them; with CI=true a failed install fails here.
TOOLS := .venv-tools
deploy-tools: $(TOOLS)/.installed
	command -v podman >/dev/null && command -v debootstrap >/dev/null \
		&& command -v docker-compose >/dev/null && /usr/bin/python3 -c 'import ensurepip' \
		|| (apt-get update -qq && apt-get install -y -qq podman runc debootstrap podman-compose \
			docker-compose python3-venv) \
		|| if [ "$$CI" = true ]; then \
			echo "container tools could not be installed and CI=true" >&2; exit 1; \
		else echo "container tools could not be installed: tests/deploy will skip"; fi

$(TOOLS)/.installed:
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install -q "checkov==3.3.30"
	touch $@

# The image with podman and no registry (docs/deploy.md); `docker build -t tailor .` elsewhere
image:
	bash scripts/build_image.sh localhost/tailor:latest

# The documented podman-compose run: Redis, PostgreSQL, serve, stream, train (about 4 minutes)
compose-smoke:
	bash scripts/compose_smoke.sh

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

# Cache hits at 1,000 req/s through hey (docs/serving.md); a quiet machine for the p99
bench-serving-external: $(STAMP)
	$(BIN)/python bench/serving/external.py --seconds 10 --repeat 3 --out bench/results/serving_external_fastpath.json
	$(BIN)/python bench/serving/external.py --seconds 10 --repeat 3 --connections 10 --out bench/results/serving_external_fastpath_c10.json

# Issue 14's models (docs/benchmarks.md, docs/models.md): the LightGBM ranker (long: it fits its
# candidate models four times), cold start, Wide & Deep + ONNX inference, explain=true latency
bench-ranker: $(STAMP)
	$(BIN)/python bench/accuracy/ranker.py --part retail
	$(BIN)/python bench/accuracy/ranker.py --part retail_repeat
	$(BIN)/python bench/accuracy/ranker.py --part ml100k
	$(BIN)/python bench/accuracy/ranker.py --part backtest
	$(BIN)/python bench/accuracy/ranker.py --report

bench-cold-start: $(STAMP)
	$(BIN)/python bench/accuracy/cold_start.py
	$(BIN)/python bench/accuracy/cold_start_served.py

bench-deep: $(STAMP)
	$(BIN)/python bench/deep/accuracy.py
	$(BIN)/python bench/deep/inference.py
	$(BIN)/python bench/deep/train_speed.py --epochs 1

bench-explain: $(STAMP)
	$(BIN)/python bench/serving/explain.py --requests 1000

# Issue 15: Spark ALS vs local ALS on ML-100K (docs/spark.md); scale curves, ANN at 10^6 items and
# several servers behind one Redis (docs/scale.md)
bench-spark: $(STAMP)
	$(BIN)/python bench/spark/als.py

bench-scale: $(STAMP)
	$(BIN)/python bench/scale/curves.py --sizes 100000,1000000,3000000,10000000
	$(BIN)/python bench/serving/ann_recall.py --sizes 1000000x64 --out bench/results/scale_ann.json
	$(BIN)/python bench/scale/servers.py

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
	rm -rf $(VENV) $(TOOLS) demo-output .mypy_cache .ruff_cache
