export function client() {
  return new Mask({ apiKey: process.env.MASK_KEY });
}
