variable "mask_api_key" {
  type        = string
  description = "MASK API key, e.g. mk_live_a1b2c3d4e5f6g7h8i9j0"
  sensitive   = true
}
