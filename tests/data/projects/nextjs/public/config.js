window.__CONFIG__ = {
  apiBase: "https://api.mask.bz/v1",
  maskKey: "{{mk:live:critical}}",
};
