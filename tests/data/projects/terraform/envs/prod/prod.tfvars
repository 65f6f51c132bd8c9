mask_api_key = "{{mk:live:low}}"
