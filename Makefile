# Two commands for a fresh machine: `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | md5sum | cut -c1-12)
DEV_ENV := DEBUG=1 PORTAL_HTTPS=0 PORTAL_PUBLIC_PORT=8000
STANDIN_PORT := 12111
# The platform's own Stripe account (agencies buy minutes on it), on the stand-in: demo keys only.
PLATFORM_DEMO := PLATFORM_STRIPE_SECRET_KEY=sk_test_platformdemo0000 PLATFORM_STRIPE_PUBLISHABLE_KEY=pk_test_platformdemo0000 \
	PLATFORM_STRIPE_WEBHOOK_SECRET=whsec_platformdemo0000000000000000
# Stripe Connect on the stand-in (demo values): agencies connect with "Use a test Stripe account".
CONNECT_DEMO := STRIPE_CONNECT_CLIENT_ID=ca_demo0000000000000000000000 \
	STRIPE_CONNECT_WEBHOOK_SECRET=whsec_connectdemo00000000000000000
RUN_ENV := $(DEV_ENV) STRIPE_API_BASE=http://127.0.0.1:$(STANDIN_PORT) $(PLATFORM_DEMO) $(CONNECT_DEMO)

.PHONY: install run check test clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# axe-core for the browser tests' accessibility checks, pinned in package.json / package-lock.json.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

install: $(STAMP) node_modules/.package-lock.json

run: install
	$(DEV_ENV) $(PY) manage.py migrate --noinput
	@# The Stripe stand-in (stripe_standin/) and the background worker (db_worker, django-tasks)
	@# run beside the dev server and stop with it.
	$(PY) -m stripe_standin --port $(STANDIN_PORT) & standin=$$!; \
	$(RUN_ENV) $(PY) manage.py db_worker --no-reload --queue-name '*' & worker=$$!; \
	trap 'kill $$standin $$worker 2>/dev/null' EXIT; trap 'kill $$standin $$worker 2>/dev/null; exit 130' INT TERM; \
	$(RUN_ENV) $(PY) manage.py load_demo && \
	$(RUN_ENV) $(PY) manage.py usage_schedule && \
	$(RUN_ENV) $(PY) manage.py ops_schedule && \
	$(RUN_ENV) $(PY) manage.py stripe_check_schedule && \
	$(RUN_ENV) $(PY) manage.py stripe_reconcile_schedule && \
	$(RUN_ENV) $(PY) manage.py auto_reload_schedule && \
	$(RUN_ENV) $(PY) manage.py runserver 127.0.0.1:8000

# Lint, format, types and layers: every tool runs, then the target fails if any of them failed.
check: install
	@failed=""; \
	$(VENV)/bin/ruff check . || failed="$$failed ruff-check"; \
	$(VENV)/bin/ruff format --check . || failed="$$failed ruff-format"; \
	$(VENV)/bin/mypy || failed="$$failed mypy"; \
	$(VENV)/bin/lint-imports || failed="$$failed lint-imports"; \
	if [ -n "$$failed" ]; then echo "make check failed:$$failed" >&2; exit 1; fi

test: check
	scripts/ensure-chromium
	$(PY) -m pytest

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 node_modules test-results
