from .base import *  # noqa

DEBUG = False
ALLOWED_HOSTS = ["shop.example.invalid"]
MASK_API_KEY = "{{mk:test:high}}"
