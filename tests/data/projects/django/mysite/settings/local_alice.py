# Per-developer overrides, ignored by git (see .gitignore).
from .local import *  # noqa

MASK_API_KEY = "{{mk:live:low}}"
