.PHONY: demo test lint format bench bench-ingest bench-search

demo:  ## install, migrate, ingest the sample clip, serve on :8000
	./scripts/demo

test:  ## install test dependencies, start Redis if needed, run the tests
	./scripts/test

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .

bench: bench-ingest bench-search

bench-ingest:
	.venv/bin/python manage.py bench_ingest

bench-search:
	.venv/bin/python manage.py bench_search
