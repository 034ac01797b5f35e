# Sightline: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
DATA   := var
DEMO_PASSWORD_FILE := $(DATA)/demo-password

.PHONY: run serve test test-fast test-browser lint format messages browser-deps bench clean-db help

help:
	@echo "make run    - install, migrate, load demo data, serve on http://127.0.0.1:$(PORT)/"
	@echo "make serve  - production: refuse an unsafe environment, migrate, collect static, gunicorn"
	@echo "make test   - run the whole test suite (SQLite, or PostgreSQL when DATABASE_URL is set)"
	@echo "make lint   - ruff check and format check"
	@echo "make messages - refresh and compile the Spanish catalogue (needs GNU gettext)"
	@echo "make bench  - every benchmark (long: builds 1M-entry logs)"

$(VENV)/.installed: requirements.txt verifier/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(DEMO_PASSWORD_FILE):
	@mkdir -p $(DATA)
	@$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(12))" > $@
	@chmod 600 $@

# The server runs in the foreground (Ctrl-C stops it as usual); beside it, a watcher waits until
# it answers and only then prints the URLs and logins, so they are the last thing on screen.
# A second run reuses .venv, the database and its demo data: migrate and seed_demo are no-ops.
RUN_URL := http://127.0.0.1:$(PORT)
run: $(VENV)/.installed $(DEMO_PASSWORD_FILE)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty --demo-password "$$(cat $(DEMO_PASSWORD_FILE))"
	@server=$$$$; \
	( for _ in $$(seq 1 600); do \
	    kill -0 $$server 2>/dev/null || exit 0; \
	    $(PY) -c "import sys, urllib.request as r; r.urlopen(sys.argv[1], timeout=30)" \
	      "$(RUN_URL)/" >/dev/null 2>&1 && break; \
	    sleep 0.2; \
	  done; \
	  echo ""; \
	  echo "Sightline is up on $(RUN_URL)/"; \
	  echo "  Public transparency page  $(RUN_URL)/   (Español: the switch in the header)"; \
	  echo "  Spending                  $(RUN_URL)/spending/"; \
	  echo "  Open data                 $(RUN_URL)/open-data/"; \
	  echo "  Verify the log            $(RUN_URL)/log/"; \
	  echo "  Council reports           $(RUN_URL)/reports/"; \
	  echo "  Auditor workspace         $(RUN_URL)/audit/"; \
	  echo "  Administration            $(RUN_URL)/admin/"; \
	  echo "  API docs                  $(RUN_URL)/api/docs/"; \
	  echo "Demo logins (password for all three: $$(cat $(DEMO_PASSWORD_FILE))):"; \
	  echo "  council   - council member    auditor - auditor    admin - administrator"; \
	  echo "Press Ctrl-C to stop."; \
	) & \
	exec env DEBUG=1 $(PY) manage.py runserver --skip-checks 127.0.0.1:$(PORT)

# Production (docs/deploy.md). The preflight refuses to start, naming every problem, unless
# SECRET_KEY, DATABASE_URL (PostgreSQL) and ALLOWED_HOSTS are set and safe and DEBUG is off.
# gunicorn.conf.py: HOST/PORT (default 127.0.0.1:8000), WEB_CONCURRENCY (default 2 x cores + 1),
# GUNICORN_TIMEOUT (default 1800 s, for long exports), access log on standard output.
serve: $(VENV)/.installed
	$(PY) -m portal.preflight
	$(PY) manage.py check --deploy
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	exec $(VENV)/bin/gunicorn --config gunicorn.conf.py

# Debian's chromium for the browser tests (Playwright's own browser download cannot work here).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests..."; \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# pytest exits 5 when it collected no tests; make treats that (like any failure) as an error.
test: $(VENV)/.dev-installed browser-deps
	$(PY) -m pytest -q

test-fast: $(VENV)/.dev-installed
	$(PY) -m pytest -q -m "not browser"

test-browser: $(VENV)/.dev-installed browser-deps
	$(PY) -m pytest -q -m browser

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev-installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(VENV)/.dev-installed
	$(PY) bench/ingest.py
	$(PY) bench/verify.py
	$(PY) bench/public.py
	$(PY) bench/load.py

# Refresh the Spanish catalogue after changing text (needs GNU gettext), then translate the new
# entries in locale/es/LC_MESSAGES/django.po and run this again to compile them.
messages: $(VENV)/.installed
	$(PY) manage.py makemessages -l es --no-location -i "tests/*" -i "bench/*" -i "var/*" -i "staticfiles/*" -i "test-artifacts/*"
	$(PY) manage.py compilemessages -l es -i .venv

clean-db:
	rm -f $(DATA)/db.sqlite3 $(DATA)/db.sqlite3-wal $(DATA)/db.sqlite3-shm
