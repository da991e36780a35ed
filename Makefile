# The team's habits. Every target sets itself up on a fresh machine (venv, pip, Debian packages).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: setup run test demo chaos lint package deploy deploy-args deploy-plan checkov checkov-setup bench bench-load clean

$(STAMP): requirements.txt requirements-dev.txt
	./.ci/install-system-packages
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check "pip>=24,<26.3"  # chalice 1.34 needs pip<26.3
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

# The `edoc` command line (edoc_cli/, pyproject.toml [project.scripts]) installed editable: .venv/bin/edoc runs the
# working tree's code. No build isolation when the venv has setuptools (Python 3.11's venvs do): nothing downloaded.
$(VENV)/bin/edoc: pyproject.toml $(STAMP)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps \
	  $$($(PY) -c 'import setuptools' 2>/dev/null && echo --no-build-isolation) -e .
	touch $@

setup: $(STAMP) $(VENV)/bin/edoc

## Start the embedded stack in the foreground (moto, axis simulator, API, event pump) until Ctrl-C.
run: setup
	$(PY) -m devstack run

## The whole test suite: unit, integration (moto), end-to-end (embedded stack), security.
test: setup checkov-setup
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q

## Push the sample documents through a running stack (or start one) and print the results table.
demo: setup
	$(PY) -m devstack demo

## The chaos run (issue 8, docs/chaos.md): N documents while 10% of the functions' DynamoDB and S3 calls fail and
## the pump processes are SIGKILLed twice; prints a table and fails unless every check holds.
N ?= 200
chaos: setup
	$(PY) -m devstack chaos --documents $(N)

lint: setup
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

## The deployable CloudFormation of one stage (STAGE=dev, staging or prod; default prod): Chalice's SAM output for
## that stage merged with infra/resources.yaml, its zip cut to what the functions run (infra/lean_package.py,
## docs/deployment.md), its Stage parameter set (infra/stage_template.py), in build/package/$(STAGE); prints the
## unzipped size per function. chalice needs a region to name ARNs; a newcomer's shell has none, so the target
## gives one (override it freely).
STAGE ?= prod
PACKAGE_DIR = build/package/$(STAGE)
package: setup
	rm -rf $(PACKAGE_DIR)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-ap-southeast-1} \
	  $(VENV)/bin/chalice package --stage $(STAGE) --merge-template infra/resources.yaml $(PACKAGE_DIR)
	$(PY) infra/stage_template.py set $(PACKAGE_DIR) $(STAGE)
	$(PY) infra/lean_package.py $(PACKAGE_DIR)

## Deploy a stage (issue 13, docs/operations.md#deploy): its package, the code and template uploaded to your
## artefacts bucket, a change set on the stack edoc-gateway-$(STAGE), shown, executed and waited for. Needs the
## account's credentials (any boto3 way: AWS_PROFILE, SSO, environment). PARAMETERS="AlarmEmail=a@b.vn ...".
ARTIFACTS_BUCKET ?=
PARAMETERS ?=
deploy: deploy-args package
	$(PY) infra/deploy.py $(STAGE) --artifacts-bucket $(ARTIFACTS_BUCKET) --package-dir $(PACKAGE_DIR) --execute \
	  $(addprefix --parameter ,$(PARAMETERS))
	$(PY) infra/web_publish.py $(STAGE)

deploy-args:
	@test -n "$(ARTIFACTS_BUCKET)" || { echo "make deploy needs ARTIFACTS_BUCKET=<an S3 bucket of yours for the code>"; exit 2; }

## The dry run of a deploy (issue 13), in a shell with no AWS configuration: the stage's package, cfn-lint and
## checkov on it, and the plan (every resource, its type and its name for the stage). Nothing is applied.
deploy-plan: package checkov-setup
	$(VENV)/bin/cfn-lint -c I -- $(PACKAGE_DIR)/sam.yaml
	$(CHECKOV_VENV)/bin/checkov -f $(PACKAGE_DIR)/sam.yaml --framework cloudformation --compact --quiet --skip-download
	$(PY) infra/stage_template.py plan $(PACKAGE_DIR)

## checkov on the deployable template: every failed check fixed, or suppressed in infra/resources.yaml with a
## written reason (docs/checkov.md). checkov has its own venv: it pins boto3 1.35 and networkx 2.x, which the
## project's venv (boto3 1.44 with moto, networkx 3 with cfn-lint) cannot take.
CHECKOV_VENV ?= .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell sha1sum requirements-checkov.txt | cut -c1-12)
$(CHECKOV_STAMP): requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-checkov.txt
	rm -f $(CHECKOV_VENV)/.installed-* && touch $(CHECKOV_STAMP)

checkov-setup: $(CHECKOV_STAMP)

# --skip-download: no call to Prisma Cloud (guideline links only); the checks themselves ship with checkov.
checkov: package checkov-setup
	$(CHECKOV_VENV)/bin/checkov -f $(PACKAGE_DIR)/sam.yaml --framework cloudformation --compact --quiet --skip-download

bench: setup
	$(PY) -m tests.bench.bench

## The load run (issue 11): a burst of N documents (default 1000; `make bench-load N=200`) from the five served
## agencies through a stack of its own; prints throughput, latency, CPU/RSS per process, AWS calls per document
## and the naive signing rate, writes build/bench-load.json, and fails unless every check holds.
## BENCH_LOAD_FLAGS passes more options (e.g. --sqs-processes 2 --sqs-concurrency 2; see --help).
bench-load: setup
	$(PY) -m tests.bench.bench_load --documents $(if $(filter command line environment,$(origin N)),$(N),1000) \
	  $(BENCH_LOAD_FLAGS)

clean:
	rm -rf build .local .pytest_cache
