# Sluice — two commands do everything on a fresh machine:
#   make up     install, start Kafka + registry + PostgreSQL + every service + the edge proxy + Prometheus, run a demo
#   make test   install, start the infrastructure, run unit, integration and end-to-end tests
#               (and, first, the promtool tests of the alerting rules)
SHELL := /bin/bash
.DEFAULT_GOAL := help
LOCAL := deploy/local
# Everything make starts is local development; a Sluice process defaults to production's rules.
export SLUICE_ENV ?= development

# Every recipe runs node, npm and npx of the Node.js release in .node-version: when the machine's node
# is of another line, deploy/local/node.sh installs that release from the npm registry (once, into
# ~/.cache/sluice/node) and prints its bin directory, which goes first on PATH.
NODE_BIN := $(shell $(LOCAL)/node.sh bin)
ifneq ($(.SHELLSTATUS),0)
$(error no Node.js of .node-version's line to run on; deploy/local/node.sh says why above)
endif
export PATH := $(if $(NODE_BIN),$(NODE_BIN):)$(PATH)
# node_modules belongs to one Node.js major (native addons, the engines npm checked): npm ci again on a new one.
NODE_MAJOR := $(shell PATH='$(PATH)' node -p 'process.versions.node.split(".")[0]')

.PHONY: help install build up down infra-up infra-down topics migrate demo status token test test-unit test-int rules-test check schemas schemas-release migrations clean

help:
	@echo "make up        start the whole platform and run a demo (make down stops it)"
	@echo "make test      run unit, integration and end-to-end tests against real services"
	@echo "make check     type-check, lint, format check and the schema evolution gate"
	@echo "make rules-test  promtool tests of the alerting rules in deploy/prometheus"
	@echo "make status    what is running"
	@echo "make token SUB=alice SCOPE=\"wallets:open wallets:read withdrawals:request\"   an access token of the local dev issuer"

# npm ci when package-lock.json changed since the last install, or the Node.js major did.
node_modules/.sluice-installed-node$(NODE_MAJOR): package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.sluice-installed-node$(NODE_MAJOR)

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
	-$(LOCAL)/node.sh status
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
