/**
 * Whether a row matches a Supabase-style filter `column=op.value`. The server has already
 * filtered the stream; this routes each event to the callbacks whose binding it matches,
 * since one stream carries every binding of a channel.
 */
export function matchesFilter(filter: string | undefined, row: object | null): boolean {
  if (!filter) return true;
  const match = /^([a-z_][a-z0-9_]*)=(eq|neq|lt|lte|gt|gte|in)\.(.*)$/.exec(filter);
  if (!match || !row) return false;
  const [, column = "", op, raw = ""] = match;
  const actual: unknown = (row as Record<string, unknown>)[column];
  if (actual === null || actual === undefined) return false; // SQL: NULL matches nothing
  const compare = (expected: string): number => {
    if (typeof actual === "number" || /^-?\d+(\.\d+)?$/.test(String(actual))) {
      const [a, b] = [Number(actual), Number(expected)];
      if (expected !== "" && !Number.isNaN(b)) return Math.sign(a - b);
    }
    const isoDate = /^\d{4}-\d\d-\d\d/;
    if (isoDate.test(String(actual)) && isoDate.test(expected)) {
      const [a, b] = [Date.parse(String(actual)), Date.parse(expected)];
      if (!Number.isNaN(a) && !Number.isNaN(b)) return Math.sign(a - b);
    }
    // uuids and booleans compare case-insensitively, as PostgreSQL parses them.
    const [a, b] = [String(actual).toLowerCase(), expected.toLowerCase()];
    return a < b ? -1 : a > b ? 1 : 0;
  };
  switch (op) {
    case "eq": return compare(raw) === 0;
    case "neq": return compare(raw) !== 0;
    case "lt": return compare(raw) < 0;
    case "lte": return compare(raw) <= 0;
    case "gt": return compare(raw) > 0;
    case "gte": return compare(raw) >= 0;
    case "in": return raw.replace(/^\(|\)$/g, "").split(",").some((v) => compare(v.trim()) === 0);
  }
  return false;
}
