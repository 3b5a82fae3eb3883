# Sluice — two commands do everything on a fresh machine:
#   make up     install, start Kafka + registry + PostgreSQL + every service + the edge proxy + Prometheus, run a demo
#   make test   install, start the infrastructure, run unit, integration and end-to-end tests
#               (and, first, the promtool tests of the alerting rules)
SHELL := /bin/bash
.DEFAULT_GOAL := help
LOCAL := deploy/local
# Everything make starts is local development; a Sluice process defaults to production's rules.
export SLUICE_ENV ?= development

.PHONY: help install build up down infra-up infra-down topics migrate demo status token test test-unit test-int rules-test check schemas schemas-release migrations clean

help:
	@echo "make up        start the whole platform and run a demo (make down stops it)"
	@echo "make test      run unit, integration and end-to-end tests against real services"
	@echo "make check     type-check, lint, format check and the schema evolution gate"
	@echo "make rules-test  promtool tests of the alerting rules in deploy/prometheus"
	@echo "make status    what is running"
	@echo "make token SUB=alice SCOPE=\"wallets:open wallets:read withdrawals:request\"   an access token of the local dev issuer"

# npm ci when package-lock.json changed since the last install.
node_modules/.sluice-installed: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.sluice-installed

build: install
	npm run build

infra-up: build
	$(LOCAL)/postgres.sh start
	$(LOCAL)/kafka.sh start
	$(LOCAL)/registry.sh start

infra-down:
	$(LOCAL)/registry.sh stop
	$(LOCAL)/kafka.sh stop
	$(LOCAL)/postgres.sh stop

# As the admin principal of the local broker (deploy/local/kafka.sh writes its settings).
KAFKA_ADMIN := set -a && . "$${SLUICE_RUN_DIR:-.run}/credentials/kafka-admin.env" && set +a &&

topics: infra-up
	$(KAFKA_ADMIN) node dist/services/cli/src/main.js topics apply
	$(KAFKA_ADMIN) node dist/services/cli/src/main.js acls apply

# Database roles, every service's migrations, the outbox's slot and the grants (platform.sh up runs it too).
migrate: infra-up
	$(LOCAL)/platform.sh migrate

up: infra-up topics
	$(LOCAL)/zipkin.sh start
	$(LOCAL)/platform.sh up
	$(LOCAL)/edge.sh start
	$(LOCAL)/prometheus.sh start
	node dist/deploy/local/demo.js

down:
	$(LOCAL)/prometheus.sh stop
	$(LOCAL)/edge.sh stop
	$(LOCAL)/platform.sh down
	$(LOCAL)/zipkin.sh stop
	$(MAKE) --no-print-directory infra-down

demo:
	node dist/deploy/local/demo.js

# An access token of the local dev issuer (.run/auth, made by make up): make token SUB=alice SCOPE="wallets:read".
token:
	@[ -f dist/services/cli/src/main.js ] || npm run build >/dev/null
	@node dist/services/cli/src/main.js token --sub "$(SUB)" --scope "$(SCOPE)"

status:
	-$(LOCAL)/postgres.sh status
	-$(LOCAL)/kafka.sh status
	-$(LOCAL)/registry.sh status
	-$(LOCAL)/platform.sh status
	-$(LOCAL)/edge.sh status
	-$(LOCAL)/prometheus.sh status
	-$(LOCAL)/zipkin.sh status

# The rules' tests take seconds and need no service: they run first, so a broken rule fails fast.
test: rules-test infra-up
	npm test

test-unit: install
	npm run test:unit

test-int: infra-up
	npm run test:int

# promtool check rules + promtool test rules over deploy/prometheus (alerts, recording rules, runbook links).
rules-test:
	$(LOCAL)/prometheus.sh test

check: build
	npm run typecheck
	npm run lint
	npm run format:check
	node dist/schemas/scripts/compatibility.js check .

# Records every changed or new event schema as its next released version in schemas/released
# (the schema gate of make check compares the current schemas with every released one).
schemas-release: build
	node dist/schemas/scripts/compatibility.js release .

# Regenerates schemas/src/generated.ts from schemas/avro/**/*.avsc.
schemas: build
	node dist/schemas/scripts/generate.js .

# Regenerates drizzle migrations after a table change (name: make migrations NAME=add_x).
migrations: install
	npx drizzle-kit generate --config services/command-api/drizzle.config.ts --name $(or $(NAME),change)
	npx drizzle-kit generate --config projections/wallet/drizzle.config.ts --name $(or $(NAME),change)
	npx drizzle-kit generate --config projections/transactions/drizzle.config.ts --name $(or $(NAME),change)
	npx drizzle-kit generate --config projections/withdrawals/drizzle.config.ts --name $(or $(NAME),change)
	npx drizzle-kit generate --config services/projector/drizzle.config.ts --name $(or $(NAME),change)
	npx drizzle-kit generate --config services/outbox-relay/drizzle.config.ts --name $(or $(NAME),change)
	npx drizzle-kit generate --config services/payments-worker/drizzle.config.ts --name $(or $(NAME),change)

clean:
	rm -rf dist .nx
