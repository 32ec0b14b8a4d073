"""Values the tests' Django project is configured with (by conftest.py), for the tests to use."""

SECRET = "django-tests-secret-key-0123456789abcdefghij"
#: settings.TOKENGUARD of the tests' project
TOKENGUARD = {"secret_key": SECRET, "max_tokens_per_owner": 5}
