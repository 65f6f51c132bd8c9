export const maskKey = process.env.MASK_API_KEY ?? "";
// Docs example, not a key: mk_live_abc123def456
export const example = "mk_test_YourApiKeyGoesHere123";
