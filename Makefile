# The two commands of the README are `make run` and `make test`; everything else is a helper they use.
SHELL := /bin/bash
VENV := .venv
RASA_VENV := .venv-rasa
BIN := $(VENV)/bin
PORT ?= 8000
ASSETS := henkham/web/console/assets

.PHONY: setup run test lint format migrate demo clean bench bench-conversation bench-emr bench-record bench-console bench-province train nlu-eval

setup: $(VENV)/.installed $(RASA_VENV)/.installed $(ASSETS)/node_modules/.installed

# The staff console's front-end libraries (htmx, Chart.js), exactly as package-lock.json pins them.
$(ASSETS)/node_modules/.installed: $(ASSETS)/package.json $(ASSETS)/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm is needed for the console's libraries (apt-get install -y npm)" >&2; exit 1; }
	@echo "==> installing the console's front-end libraries (npm ci, $(ASSETS)/package-lock.json)"
	@cd $(ASSETS) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(VENV)/.installed: requirements.lock pyproject.toml scripts/bootstrap
	@scripts/bootstrap app

$(RASA_VENV)/.installed: requirements-rasa.lock scripts/bootstrap scripts/find-python310
	@scripts/bootstrap rasa

## run: set up what is missing, migrate the database, load demo data, start everything, print the URLs
run: setup
	@PORT=$(PORT) scripts/run-dev

## test: set up what is missing, lint, check the import contracts (layers), run the whole suite (SQLite, and PostgreSQL when reachable)
test: setup
	@echo "==> ruff"
	@$(BIN)/ruff check .
	@echo "==> import contracts"
	@$(BIN)/lint-imports --no-cache
	@echo "==> pytest"
	@$(BIN)/pytest

lint: $(VENV)/.installed
	@$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(VENV)/.installed
	@$(BIN)/ruff check --fix . && $(BIN)/ruff format .

migrate: $(VENV)/.installed
	@$(BIN)/henkham migrate

demo: migrate
	@$(BIN)/henkham demo load

bench: $(VENV)/.installed
	@$(BIN)/python bench/booking.py

## bench-conversation: 20 users booking by chat through the whole stack, Rasa NLU parse latency and memory
bench-conversation: $(VENV)/.installed $(RASA_VENV)/.installed
	@$(BIN)/python bench/conversation.py $(ARGS)
bench-reminders: $(VENV)/.installed ; @$(BIN)/python bench/reminders.py $(ARGS)
## bench-province: 20 hospitals on the production recipe: turns/s, p95, CPU per turn per role, capacity table
bench-province: $(VENV)/.installed $(RASA_VENV)/.installed ; @$(BIN)/python bench/province.py $(ARGS)
## bench-emr: import a 10,000-visit HIS file (visits/s) and read a 50-visit record (p50/p99), PostgreSQL
bench-emr: $(VENV)/.installed ; @$(BIN)/python bench/emr_import.py $(ARGS)
## bench-record: 2,000 record-summary look-ups in core as the chat asks them (50-visit records, audit included), PostgreSQL
bench-record: $(VENV)/.installed ; @$(BIN)/python bench/record_summary.py $(ARGS)
## bench-console: the desk's code -> checked-in in Chromium (median, p95, keystrokes) and the figures page for a province, PostgreSQL
bench-console: setup ; @$(BIN)/python bench/console.py $(ARGS)

## train: train the Rasa model (NLU + dialogue) into models/, with the fixed seeds of bot/config.yml
train: $(RASA_VENV)/.installed
	@scripts/train

## nlu-eval: NLU on two held-out sets, ours beside WhitespaceTokenizer and DIET; writes reports/nlu-eval.json
nlu-eval: $(RASA_VENV)/.installed
	@PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 $(RASA_VENV)/bin/python -m bot.nlu.evaluate $(ARGS)

clean:
	rm -rf $(VENV) $(RASA_VENV) var/*.db
