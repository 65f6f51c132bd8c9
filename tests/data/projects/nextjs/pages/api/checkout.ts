import type { NextApiRequest, NextApiResponse } from "next";

const key = "{{mk:test:low}}";

export default async function handler(req: NextApiRequest, res: NextApiResponse) {
  res.status(200).json({ ok: Boolean(key) });
}
