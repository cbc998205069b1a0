"""dealflow's HTTP API (FastAPI): facts in; deals, views, reports, audit and tokens out.

The app factory is :func:`engine.api.app.create_app`; tokens live in
:mod:`engine.serve.tokens` (imported by the service wiring, so this package imports nothing
eagerly).
"""
