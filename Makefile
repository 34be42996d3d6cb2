PYTHON ?= .venv/bin/python

.PHONY: test demo bench

test:
	scripts/run.sh test

demo:
	scripts/run.sh demo

# AMI ingest throughput (see server/bench); figures also go to bench.json.
bench:
	$(PYTHON) -m server.bench --json bench.json
