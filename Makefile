# Partner Portal: the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck install run web worker beat emulator clean

# Virtual environment with the project and its dev/test extras installed (re-run when
# pyproject.toml changes).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# Everything on the embedded defaults: the local Microsoft emulator, migrations, a demo
# administrator, web + worker + beat, customers onboarded through the real consent flow and
# the first sync. Prints the URL and login; Ctrl-C stops it all.
demo: install
	$(BIN)/python scripts/demo.py

# The whole test suite (pytest + pytest-django). Uses PostgreSQL / Redis when DATABASE_URL /
# REDIS_URL point at them; tests that need them are skipped, with the reason, otherwise.
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy .

# The processes one by one, as docker-compose.yml runs them.
web: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable
	$(BIN)/gunicorn partner_portal.wsgi --bind 127.0.0.1:8000 --workers 3 --timeout 120 --access-logfile -

worker: install
	$(BIN)/celery -A partner_portal.celery worker --loglevel=INFO --concurrency=4

beat: install
	$(BIN)/celery -A partner_portal.celery beat --loglevel=INFO

emulator: install
	$(BIN)/python -m emulator serve --port 8443 --data-dir var/emulator

clean:
	rm -rf var/ staticfiles/ .pytest_cache .mypy_cache .ruff_cache
