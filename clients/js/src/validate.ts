// Parsing at the edge: every event and answer goes through its schema once, here.
import type { z } from "zod/mini";
import { InvalidPayloadError } from "./errors.js";

/** `data` as `schema`'s output, or an InvalidPayloadError naming what was wrong. */
export function parse<S extends z.ZodMiniType>(schema: S, data: unknown, what: string): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join("."),
    message: issue.message,
  }));
  throw new InvalidPayloadError(what, data, issues);
}
