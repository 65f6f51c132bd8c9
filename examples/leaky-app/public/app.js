// Talks to MASK straight from the browser: the key ships to every visitor.
const mask = new Mask({ apiKey: "mk_live_ehr6QNqVaaECsLboDH1xvnsr" });
