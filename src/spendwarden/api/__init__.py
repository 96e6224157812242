"""The HTTP API (FastAPI): thin routes over the domain, errors mapped in one place."""
