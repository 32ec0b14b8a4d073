"""The Django project of ``bench_django.py``: one DRF endpoint, bare and behind each token library."""
