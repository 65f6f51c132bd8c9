from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
INSTALLED_APPS = ["django.contrib.admin", "shop"]
MASK_API_BASE = "https://api.mask.bz/v1"
