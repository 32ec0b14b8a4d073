"""Revisions of the tokenguard schema, oldest first."""
