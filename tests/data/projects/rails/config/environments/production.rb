Rails.application.configure do
  config.eager_load = true
  config.x.mask_key = "{{mk:test:high}}"
end
