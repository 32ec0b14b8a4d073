"""The key the suites share: import it from here (a conftest.py of a sub-folder may shadow conftest)."""

SECRET = "test-secret-key-that-is-long-enough-0123456789"
