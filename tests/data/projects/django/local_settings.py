MASK_API_KEY = "{{mk:live:low}}"
