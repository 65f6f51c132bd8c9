from .base import *  # noqa

DEBUG = True
# TODO: move to env before the demo
MASK_API_KEY = "{{mk:live:high}}"
