"""A minimal Django project whose orders send a receipt through rota.

The database and the rota store are files in the current directory by default (``shop.db``,
``rota.db``); ``DJANGO_DB`` and ``ROTA_STORE_URL`` choose others."""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "an-example-not-for-production")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "shop.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["rota.contrib.django", "orders"]
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ.get("DJANGO_DB", "shop.db")},
}

ROTA = {
    "APP": "orders.tasks:app",  # the rota.App the tasks are registered on
    "STORE_URL": os.environ.get("ROTA_STORE_URL", "sqlite:///rota.db"),
    "WORKER": {"concurrency": 4, "grace": 10},  # manage.py rota_worker's defaults
}
