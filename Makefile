# Two commands do all the set-up on a fresh machine:
#   make run    — install, migrate the SQLite database, load demo data, serve on :8080
#   make test   — install, then run the whole test suite
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask
HOST  ?= 127.0.0.1
PORT  ?= 8080
APT_PACKAGES := wkhtmltopdf poppler-utils fonts-liberation2 fonts-dejavu-core chromium
FAB_DIR = $(shell $(PY) -c "import flask_appbuilder, os; print(os.path.dirname(flask_appbuilder.__file__))")
export FLASK_APP := app

.PHONY: run test install install-prod lock system-packages translations compile-translations

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Debian packages the product needs (PDF engine, PDF text reader, fonts, browser for tests).
system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Cài gói hệ thống:$$missing"; \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "Thiếu gói hệ thống. Hãy chạy: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

install: system-packages $(VENV)/.installed compile-translations

# Production: exactly the versions of requirements.lock, then the project itself without
# resolving anything again (editable: it runs from this checkout, where config.py, migrations/
# and translations/ live); no test tools (pytest, Playwright, aiosmtpd). The Debian packages
# it needs: wkhtmltopdf poppler-utils fonts-liberation2 fonts-dejavu-core.
install-prod:
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-virtualenv -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(VENV)/bin/pybabel -q compile -d translations

# Regenerate requirements.lock after changing [project] dependencies in pyproject.toml:
# the production closure resolved in a throw-away venv (no test extras, no project itself).
LOCK_VENV := $(shell mktemp -u /tmp/qms-lock-XXXXXX)
lock:
	python3 -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/pip install --quiet .
	{ echo "# Production dependencies of qms-improvement, pinned. Regenerate with: make lock"; \
	  $(LOCK_VENV)/bin/pip freeze --exclude-editable | grep -v -i '^qms-improvement' | LC_ALL=C sort -f; } > requirements.lock
	rm -rf $(LOCK_VENV)

compile-translations:
	$(VENV)/bin/pybabel -q compile -d translations

# Re-extract our strings and FAB's own (FAB ships no Vietnamese), then merge into vi.
translations: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F translations/babel.cfg -k lazy_gettext -k _l \
	  -k lazy_formatter_gettext --no-location --sort-output -o translations/messages.pot \
	  app $(wildcard reports) $(FAB_DIR)
	$(VENV)/bin/pybabel update -i translations/messages.pot -d translations -l vi --no-fuzzy-matching --ignore-obsolete
	$(MAKE) compile-translations

# The demo's throwaway signing authority (flask qms demo --certificates) is trusted by `make run` only.
DEMO_ROOT = $(or $(QMS_INSTANCE_DIR),$(CURDIR)/instance)/demo-root-ca.pem

run: install
	$(FLASK) qms setup
	$(FLASK) qms demo --certificates
	@echo; echo "Bảng điều khiển: http://$(HOST):$(PORT)/  (Ctrl+C để dừng)"; echo
	QMS_SIGNING_TRUST_ROOTS="$${QMS_SIGNING_TRUST_ROOTS:+$$QMS_SIGNING_TRUST_ROOTS:}$(DEMO_ROOT)" \
	  $(FLASK) run --host $(HOST) --port $(PORT)

test: install
	$(VENV)/bin/pytest
