"""Settings for the test project. The database and the rota store come from the environment
tests/test_django.py sets: ``TEST_DJANGO_DB`` (a SQLite path, or a ``postgresql://`` URL of
the throwaway server) and ``TEST_ROTA_STORE`` (the store URL)."""

import json
import os
from urllib.parse import urlsplit

SECRET_KEY = "only-for-tests"  # a test project, never deployed
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["127.0.0.1"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["rota.contrib.django", "orders"]

_db = os.environ["TEST_DJANGO_DB"]
if _db.startswith("postgresql://"):
    _url = urlsplit(_db)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _url.path.lstrip("/"),
            "USER": _url.username,
            "HOST": _url.hostname,
            "PORT": _url.port,
            "TEST": {"NAME": os.environ["TEST_DJANGO_TEST_DB"]},
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _db}}

ROTA = {
    "APP": "orders.tasks:app",
    "STORE_URL": os.environ["TEST_ROTA_STORE"],
    "WORKER": {"concurrency": 2, "lease": 5, "grace": 5},
    **json.loads(os.environ.get("TEST_ROTA_EXTRA", "{}")),  # a test's bad settings
}
