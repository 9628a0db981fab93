"""The cvjobs commands beside the parser in cvjobs.cli, one module each: serve, import
(imports.py: job files into store batches, NDJSON in worker processes), copy, and user,
token and audit (accounts.py); bulk.py holds what demo, import and copy share."""
