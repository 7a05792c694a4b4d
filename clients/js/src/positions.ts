// Log positions, `<tick>-<id>`: the SSE `id:` of every event and the `position` of REST reads.
// The log's order is total, so positions compare as (tick, id) pairs of integers (up to 18
// digits each: past Number's exact range, so they are compared as digit strings).

const POSITION = /^([0-9]{1,18})-([0-9]{1,18})$/;

export function isPosition(value: unknown): value is string {
  return typeof value === "string" && POSITION.test(value);
}

function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+(?=.)/, "");
  const y = b.replace(/^0+(?=.)/, "");
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Negative, zero or positive as `a` is before, at or after `b` (both valid positions). */
export function comparePositions(a: string, b: string): number {
  const [, ta = "", ia = ""] = POSITION.exec(a) ?? [];
  const [, tb = "", ib = ""] = POSITION.exec(b) ?? [];
  return compareDigits(ta, tb) || compareDigits(ia, ib);
}

/** The later of two positions; undefined counts as before everything. */
export function laterPosition(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return comparePositions(a, b) >= 0 ? a : b;
}

/** The earlier of two positions; undefined counts as "none" (the other wins). */
export function earlierPosition(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return comparePositions(a, b) <= 0 ? a : b;
}

/** `position` is strictly after `than` (an undefined `than`: anything is after it). */
export function isAfter(position: string, than: string | undefined): boolean {
  return than === undefined || comparePositions(position, than) > 0;
}
