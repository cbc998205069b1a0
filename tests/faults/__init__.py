"""Fault tests: the database going away, serve killed mid-ingest; each ends by comparing
the store with a clean ingest of the same facts (tests/faults/equality.py)."""
