"""A notes API guarded by tokenguard: the example Django project."""
