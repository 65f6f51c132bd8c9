module "app" {
  source       = "../../modules/app"
  mask_api_key = "{{mk:test:high}}"
}
