"""Alembic migrations of the SQLAlchemy store, shipped in the package and run programmatically."""
