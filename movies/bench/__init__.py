"""Stand-alone loops that ``manage.py bench_ingest`` runs in their own processes, to compare the
product's ingest with what a user would write. Never imported by the product."""
