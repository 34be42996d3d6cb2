PYTHON ?= .venv/bin/python

.PHONY: test demo bench

test:
	scripts/run.sh test

demo:
	scripts/run.sh demo

# AMI ingest, ACD routing, re-adoption, service cases (100,000 in Redis; ~2 min),
# reports (1.5 million records in bounded memory, the Redis read path; ~3 min) and
# end-to-end calls/s with CPU% (see server/bench; about 12
# minutes: the end-to-end ramp runs 3 times); figures also go to bench.json.
# One part only: .venv/bin/python -m server.bench --only routing (ami, routing, readopt, cases, reports, e2e).
bench:
	$(PYTHON) -m server.bench --json bench.json
