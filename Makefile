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

.PHONY: run test install system-packages translations compile-translations

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
