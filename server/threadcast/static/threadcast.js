// threadcast.js: built from clients/js (npm run build:static); do not edit by hand.
// import { createClient } from "/static/threadcast.js"; types in threadcast.d.ts.
/**
 * Whether a row matches a Supabase-style filter `column=op.value`. The server has already
 * filtered the stream; this routes each event to the callbacks whose binding it matches,
 * since one stream carries every binding of a channel.
 */
function matchesFilter(filter, row) {
    if (!filter)
        return true;
    const match = /^([a-z_][a-z0-9_]*)=(eq|neq|lt|lte|gt|gte|in)\.(.*)$/.exec(filter);
    if (!match || !row)
        return false;
    const [, column = "", op, raw = ""] = match;
    const actual = row[column];
    if (actual === null || actual === undefined)
        return false; // SQL: NULL matches nothing
    const compare = (expected) => {
        if (typeof actual === "number" || /^-?\d+(\.\d+)?$/.test(String(actual))) {
            const [a, b] = [Number(actual), Number(expected)];
            if (expected !== "" && !Number.isNaN(b))
                return Math.sign(a - b);
        }
        const isoDate = /^\d{4}-\d\d-\d\d/;
        if (isoDate.test(String(actual)) && isoDate.test(expected)) {
            const [a, b] = [Date.parse(String(actual)), Date.parse(expected)];
            if (!Number.isNaN(a) && !Number.isNaN(b))
                return Math.sign(a - b);
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

/** A random (version 4) uuid. crypto.randomUUID needs a secure context; getRandomValues not. */
function randomId() {
    if (typeof globalThis.crypto.randomUUID === "function" && globalThis.isSecureContext !== false) {
        return globalThis.crypto.randomUUID();
    }
    const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40; // version 4
    bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 9562 variant
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)]
        .join("-");
}

const shown = (entry) => ({ ...entry.state, presence_ref: entry.ref });
const sameState = (a, b) => JSON.stringify(a.state) === JSON.stringify(b.state);
function byKey(entries) {
    const grouped = new Map();
    for (const entry of entries) {
        const list = grouped.get(entry.key);
        if (list)
            list.push(entry);
        else
            grouped.set(entry.key, [entry]);
    }
    return grouped;
}
/** The presences one viewer sees on one channel, and the events each frame makes of them. */
class PresenceSet {
    /** By ref, in the order they joined (a changed state keeps its place). */
    entries = new Map();
    /** `{ [key]: [{ presence_ref, ...state }] }`, a fresh copy. */
    state() {
        const state = {};
        for (const entry of this.entries.values())
            (state[entry.key] ??= []).push(shown(entry));
        return state;
    }
    /** The raw entries, to seed another channel of the same name. */
    snapshot() {
        return [...this.entries.values()];
    }
    get size() {
        return this.entries.size;
    }
    clear() {
        this.entries.clear();
    }
    /**
     * Apply one frame; the events it makes, in order: a join or leave per key that changed, then
     * `sync` (after a `sync` frame always, so a page renders its first state; after a diff when
     * anything changed, as supabase-js does after each diff).
     */
    apply(payload) {
        let events;
        if (payload.type === "sync") {
            const next = new Map(payload.presences.map((p) => [p.ref, p]));
            const left = [...this.entries.values()].filter((held) => !next.has(held.ref));
            const joined = payload.presences.filter((p) => {
                const held = this.entries.get(p.ref);
                return !held || held.key !== p.key || !sameState(held, p);
            });
            events = [...this.leave(left), ...this.join(joined)];
            return [...events, { event: "sync" }];
        }
        events = payload.type === "join" ? this.join(payload.presences) : this.leave(payload.presences);
        return events.length ? [...events, { event: "sync" }] : [];
    }
    listOf(key) {
        return [...this.entries.values()].filter((e) => e.key === key).map(shown);
    }
    join(presences) {
        const events = [];
        for (const [key, joined] of byKey(presences)) {
            const fresh = joined.filter((p) => {
                const held = this.entries.get(p.ref);
                return !held || held.key !== p.key || !sameState(held, p);
            });
            if (!fresh.length)
                continue; // the same state again: nothing new
            const currentPresences = this.listOf(key);
            for (const p of fresh)
                this.entries.set(p.ref, { key: p.key, ref: p.ref, state: p.state });
            events.push({ event: "join", key, newPresences: fresh.map(shown), currentPresences });
        }
        return events;
    }
    leave(presences) {
        const events = [];
        for (const [key, gone] of byKey(presences)) {
            const held = gone.flatMap((p) => {
                const entry = this.entries.get(p.ref);
                return entry && entry.key === key ? [entry] : [];
            });
            if (!held.length)
                continue; // refs this viewer never saw: nothing to say
            for (const entry of held)
                this.entries.delete(entry.ref);
            events.push({ event: "leave", key, leftPresences: held.map(shown), currentPresences: this.listOf(key) });
        }
        return events;
    }
}
/** A presence request's outcome as the tracker needs it. */
class PresenceRefused extends Error {
    rateLimited;
    retryAfterMs;
    constructor(rateLimited, retryAfterMs, cause) {
        super(cause instanceof Error ? cause.message : "presence request refused");
        this.rateLimited = rateLimited;
        this.retryAfterMs = retryAfterMs;
        this.name = "PresenceRefused";
    }
}
/** One tab's presence on one channel. */
class Tracker {
    io;
    /** The state to hold on the server; null: none (untracked). */
    desired = null;
    version = 0;
    /** The connection the presence should live on (the stream's, from `subscribed`). */
    connection;
    /** `${connection} ${version}` the server holds, or that failed (not retried until news). */
    done;
    /** A PUT may have reached the server since the last DELETE. */
    held = false;
    running = false;
    waiters = [];
    /** PUTs sent, for tests and metrics. */
    puts = 0;
    constructor(io) {
        this.io = io;
    }
    /** Whether this tab tracks (or wants to) on the channel. */
    get tracking() {
        return this.desired !== null;
    }
    track(state) {
        this.desired = state;
        return this.ask();
    }
    untrack() {
        this.desired = null;
        return this.ask();
    }
    /** The stream's connection (undefined: down). A new one: track again on it. */
    connected(connection) {
        if (connection === this.connection)
            return;
        this.connection = connection;
        if (connection !== undefined)
            void this.pump();
    }
    /** The channel was refused: what waits fails, and nothing is tracked any more. */
    fail() {
        this.desired = null;
        this.version += 1;
        this.settle(this.version - 1, "error");
        void this.pump(); // a DELETE if a PUT may have landed
    }
    /** The page is going away: end the presence now (keepalive), keep the wish (bfcache). */
    unload() {
        if (!this.held)
            return;
        this.held = false;
        this.done = undefined;
        this.io.removeOnUnload();
    }
    /** The page is back (from the bfcache): track again. */
    resume() {
        void this.pump();
    }
    ask() {
        this.version += 1;
        const promise = new Promise((resolve) => this.waiters.push({ version: this.version, resolve }));
        void this.pump();
        return promise;
    }
    /** Resolve every waiter up to `version`: a later state superseded the earlier ones. */
    settle(version, result) {
        const [due, later] = [this.waiters.filter((w) => w.version <= version), this.waiters.filter((w) => w.version > version)];
        this.waiters = later;
        for (const w of due)
            w.resolve(result);
    }
    async pump() {
        if (this.running)
            return; // the running loop reads the latest wish when its request ends
        this.running = true;
        try {
            for (;;) {
                const version = this.version;
                if (this.desired === null) {
                    if (!this.held) {
                        this.settle(version, "ok");
                        return;
                    }
                    this.held = false;
                    this.done = undefined;
                    try {
                        await this.io.remove();
                        this.settle(version, "ok");
                    }
                    catch {
                        this.settle(version, "error");
                    }
                    continue;
                }
                if (this.connection === undefined)
                    return; // until the stream is live: connected()
                if (this.done === `${this.connection} ${version}`) {
                    this.settle(version, "ok");
                    return;
                }
                await this.io.gate();
                // Whatever was asked for while waiting for the gate goes instead: the latest wins.
                const state = this.desired;
                const connection = this.connection;
                const sending = this.version;
                if (state === null || connection === undefined)
                    continue;
                this.held = true;
                this.puts += 1;
                try {
                    await this.io.put(connection, state);
                    this.done = `${connection} ${sending}`;
                    this.settle(sending, "ok");
                }
                catch (error) {
                    if (error instanceof PresenceRefused && error.rateLimited) {
                        this.settle(sending, "rate limited");
                        await this.io.wait(error.retryAfterMs); // then the latest state, still wanted
                        continue;
                    }
                    this.done = `${connection} ${sending}`; // not again until a new state or connection
                    this.settle(sending, "error");
                    if (this.version === sending && this.connection === connection)
                        return;
                }
            }
        }
        finally {
            this.running = false;
        }
    }
}

// Log positions, `<tick>-<id>`: the SSE `id:` of every event and the `position` of REST reads.
// The log's order is total, so positions compare as (tick, id) pairs of integers (up to 18
// digits each: past Number's exact range, so they are compared as digit strings).
const POSITION = /^([0-9]{1,18})-([0-9]{1,18})$/;
function isPosition(value) {
    return typeof value === "string" && POSITION.test(value);
}
function compareDigits(a, b) {
    const x = a.replace(/^0+(?=.)/, "");
    const y = b.replace(/^0+(?=.)/, "");
    if (x.length !== y.length)
        return x.length < y.length ? -1 : 1;
    return x < y ? -1 : x > y ? 1 : 0;
}
/** Negative, zero or positive as `a` is before, at or after `b` (both valid positions). */
function comparePositions(a, b) {
    const [, ta = "", ia = ""] = POSITION.exec(a) ?? [];
    const [, tb = "", ib = ""] = POSITION.exec(b) ?? [];
    return compareDigits(ta, tb) || compareDigits(ia, ib);
}
/** The later of two positions; undefined counts as before everything. */
function laterPosition(a, b) {
    if (a === undefined)
        return b;
    if (b === undefined)
        return a;
    return comparePositions(a, b) >= 0 ? a : b;
}
/** The earlier of two positions; undefined counts as "none" (the other wins). */
function earlierPosition(a, b) {
    if (a === undefined)
        return b;
    if (b === undefined)
        return a;
    return comparePositions(a, b) <= 0 ? a : b;
}
/** `position` is strictly after `than` (an undefined `than`: anything is after it). */
function isAfter(position, than) {
    return than === undefined || comparePositions(position, than) > 0;
}

function getEnumValues(entries) {
    const numericValues = Object.values(entries).filter((v) => typeof v === "number");
    const values = Object.entries(entries)
        .filter(([k, _]) => numericValues.indexOf(+k) === -1)
        .map(([_, v]) => v);
    return values;
}
function jsonStringifyReplacer(_, value) {
    if (typeof value === "bigint")
        return value.toString();
    return value;
}
// the accessor lives on a shared prototype: an own accessor makes every box a dictionary-mode object (~360 B and a slow load per read against ~100 B and an inlined getter here)
class Cached {
    constructor(getter) {
        this._getter = getter;
        this._value = undefined;
    }
    get value() {
        const getter = this._getter;
        if (getter !== undefined) {
            this._value = getter();
            this._getter = undefined;
        }
        return this._value;
    }
}
function cached(getter) {
    return new Cached(getter);
}
function nullish$1(input) {
    return input === null || input === undefined;
}
function cleanRegex(source) {
    const start = source.startsWith("^") ? 1 : 0;
    const end = source.endsWith("$") ? source.length - 1 : source.length;
    return source.slice(start, end);
}
function assignProp(target, prop, value) {
    Object.defineProperty(target, prop, {
        value,
        writable: true,
        enumerable: true,
        configurable: true,
    });
}
/**
 * Whichever object a def's `shape` currently answers from: the one the caller passed until the first read, the frozen copy after it.
 *
 * Its keys and descriptors read without invoking anything, which is what lets a discriminated union check its discriminator, and the cycle walk read a shape, without resolving a getter that references the schema being constructed. A def that answers `shape` from an accessor of its own has none.
 */
function rawShape(def) {
    const desc = Object.getOwnPropertyDescriptor(def, "shape");
    return desc?.get ? desc.get.raw : desc?.value;
}
// where a builder reads its source's keys and descriptors, resolving only a shape a def answers for itself. A shape resolves by object spread, so only its enumerable keys are ever part of it.
function sourceShape(schema) {
    return rawShape(schema._zod.def) ?? schema._zod.def.shape;
}
// a key whose value is not settled yet, self-caching so every read after the first gets the same one
function deferProp(target, key, getter) {
    Object.defineProperty(target, key, {
        get() {
            const value = getter();
            assignProp(this, key, value);
            return value;
        },
        enumerable: true,
        configurable: true,
    });
}
// Writes a settled key. A plain assignment is much cheaper than `defineProperty` and produces the same descriptor, but it runs whatever setter already answers to the key — an accessor this shape deferred, or an inherited one, which `__proto__` has on every object and prototype pollution can add for any name.
function putProp(target, key, value) {
    if (key in target)
        assignProp(target, key, value);
    else
        target[key] = value;
}
/**
 * Copies `keys` of `source`'s shape onto `target`, each value passed through `wrap`.
 *
 * A key the source has resolved is copied through now, so the derived shape states it outright and nothing has to resolve it to learn what it holds. A key the source still defers stays deferred, and reads back through the source's own `shape`, so it resolves once and both shapes get that one schema.
 */
function mirrorShape(target, source, keys, wrap) {
    const raw = sourceShape(source);
    for (const key of keys) {
        const desc = Object.getOwnPropertyDescriptor(raw, key);
        if (!desc.enumerable)
            continue;
        if (desc.get) {
            deferProp(target, key, () => {
                const value = source._zod.def.shape[key];
                return value;
            });
        }
        else
            putProp(target, key, desc.value);
    }
}
// same, for a plain shape a caller passed rather than a schema's
function mirrorProps(target, source) {
    for (const key of Reflect.ownKeys(source)) {
        const desc = Object.getOwnPropertyDescriptor(source, key);
        if (!desc.enumerable)
            continue;
        if (desc.get)
            deferProp(target, key, () => source[key]);
        else
            putProp(target, key, desc.value);
    }
}
function mergeDefs(...defs) {
    const mergedDescriptors = {};
    for (const def of defs) {
        const descriptors = Object.getOwnPropertyDescriptors(def);
        Object.assign(mergedDescriptors, descriptors);
    }
    return Object.defineProperties({}, mergedDescriptors);
}
const captureStackTrace = ("captureStackTrace" in Error ? Error.captureStackTrace : (..._args) => { });
function isObject(data) {
    return typeof data === "object" && data !== null && !Array.isArray(data);
}
function isPlainObject(o) {
    if (isObject(o) === false)
        return false;
    // modified constructor
    const ctor = o.constructor;
    if (ctor === undefined)
        return true;
    if (typeof ctor !== "function")
        return true;
    // modified prototype
    const prot = ctor.prototype;
    if (isObject(prot) === false)
        return false;
    // ctor doesn't have static `isPrototypeOf`
    if (Object.prototype.hasOwnProperty.call(prot, "isPrototypeOf") === false) {
        return false;
    }
    return true;
}
const propertyKeyTypes = /* @__PURE__*/ new Set(["string", "number", "symbol"]);
function escapeRegex(str) {
    return str.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
// zod-specific utils
function clone(inst, def, params) {
    const cl = new inst._zod.constr(def ?? inst._zod.def);
    if (!def || params?.parent)
        cl._zod.parent = inst;
    return cl;
}
function normalizeParams(_params) {
    const params = _params;
    if (!params)
        return {};
    if (typeof params === "string")
        return { error: () => params };
    if (params?.message !== undefined) {
        if (params?.error !== undefined)
            throw new Error("Cannot specify both `message` and `error` params");
        params.error = params.message;
    }
    delete params.message;
    if (typeof params.error === "string")
        return { ...params, error: () => params.error };
    return params;
}
function optionalKeys(shape) {
    return Object.keys(shape).filter((k) => {
        return shape[k]._zod.optin !== undefined && shape[k]._zod.optout === "optional";
    });
}

const NUMBER_FORMAT_RANGES = /*@__PURE__*/ (() => ({
    safeint: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    int32: [-2147483648, 2147483647],
    uint32: [0, 4294967295],
    float32: [-34028234663852886e22, 3.4028234663852886e38],
    float64: [-Number.MAX_VALUE, Number.MAX_VALUE],
}))();
function extend$1(schema, shape) {
    if (!isPlainObject(shape)) {
        throw new Error("Invalid input to extend: expected a plain object");
    }
    const checks = schema._zod.def.checks;
    const hasChecks = checks && checks.length > 0;
    if (hasChecks) {
        // Only throw if new shape overlaps with existing shape. Use getOwnPropertyDescriptor to check key existence without accessing values
        const existingShape = sourceShape(schema);
        for (const key of Reflect.ownKeys(shape)) {
            if (Object.getOwnPropertyDescriptor(existingShape, key) !== undefined) {
                throw new Error("Cannot overwrite keys on object schemas containing refinements. Use `.safeExtend()` instead.");
            }
        }
    }
    return clone(schema, mergeDefs(schema._zod.def, { shape: extended(schema, shape) }));
}
// the source's keys, then the caller's overlaid on top
function extended(schema, shape) {
    const newShape = {};
    mirrorShape(newShape, schema, Reflect.ownKeys(sourceShape(schema)));
    mirrorProps(newShape, shape);
    return newShape;
}
// invalid_type | too_big | too_small | invalid_format | not_multiple_of | unrecognized_keys | invalid_union | invalid_key | invalid_element | invalid_value | custom
function aborted(x, startIndex = 0) {
    if (x.aborted === true)
        return true;
    for (let i = startIndex; i < x.issues.length; i++) {
        if (x.issues[i]?.continue !== true) {
            return true;
        }
    }
    return false;
}
// Checks for explicit abort (continue === false), as opposed to implicit abort (continue === undefined). Used to respect `abort: true` in .refine() even for checks that have a `when` function.
function explicitlyAborted(x, startIndex = 0) {
    if (x.aborted === true)
        return true;
    for (let i = startIndex; i < x.issues.length; i++) {
        if (x.issues[i]?.continue === false) {
            return true;
        }
    }
    return false;
}
function prefixIssues(path, issues) {
    return issues.map((iss) => {
        var _a;
        (_a = iss).path ?? (_a.path = []);
        iss.path.unshift(path);
        return iss;
    });
}
function unwrapMessage(message) {
    return typeof message === "string" ? message : message?.message;
}
/* A check holds no link back to the schema it is attached to — the same check instance is shared by every clone of that schema — so the owner is stamped onto the issues a check just raised, at the only point where both are in scope. Runs on the failure path only; `start` is the issue count from before the check ran. */
/** The leading size checks of `defChecks` that set an upper bound, each paired with it. */
function sizeCaps(defChecks) {
    const caps = [];
    for (const ch of defChecks ?? []) {
        const d = ch._zod.def;
        // a later check may rewrite the value
        if (!/_(length|size)$|_equals$/.test(d.check))
            break;
        const max = d.maximum ?? d.length ?? d.size;
        if (max >= 0)
            caps.push([max, ch]);
    }
    return caps;
}
function attachSchema(issues, start, inst) {
    var _a;
    for (let i = start; i < issues.length; i++) {
        (_a = issues[i]).schema ?? (_a.schema = inst);
    }
}
function finalizeIssue(iss, ctx, config) {
    var _a;
    // A schema that raised an issue itself owns it outright, and outranks any stamp an enclosing check left in `attachSchema`. String formats and z.custom() are schema and check at once, so when they act as a check they defer to that stamp instead.
    const traits = iss.inst?._zod?.traits;
    if (traits?.has("$ZodType")) {
        if (traits.has("$ZodCheck"))
            (_a = iss).schema ?? (_a.schema = iss.inst);
        else
            iss.schema = iss.inst;
    }
    // Decreasing specificity, first map to return a message wins. `inst` is whatever raised the issue, so a check's own map outranks the owning schema's.
    const schemaError = iss.schema !== iss.inst ? iss.schema?._zod.def?.error : undefined;
    const message = iss.message
        ? iss.message
        : (unwrapMessage(iss.inst?._zod.def?.error?.(iss)) ??
            unwrapMessage(schemaError?.(iss)) ??
            unwrapMessage(ctx?.error?.(iss)) ??
            unwrapMessage(config.customError?.(iss)) ??
            unwrapMessage(config.localeError?.(iss)) ??
            "Invalid input");
    // an explicit own-key copy beats object rest with excluded keys, which v8 routes through a generic runtime call; Object.keys rather than for-in so an issue pushed with a prototype does not leak inherited keys, and an own __proto__ key is dropped rather than assigned through the setter
    const full = {};
    for (const k of Object.keys(iss)) {
        if (k === "inst" || k === "schema" || k === "continue" || k === "input" || k === "__proto__")
            continue;
        full[k] = iss[k];
    }
    full.path ?? (full.path = []);
    full.message = message;
    if (ctx?.reportInput) {
        full.input = iss.input;
    }
    return full;
}
const highSurrogate = /[\uD800-\uDBFF]/;
// Code points in `str`: a surrogate pair counts once, a lone surrogate as itself. Hand-rolled because the string iterator allocates and runs ~250x slower on this path; the regex probe exits ~50x quicker for a string with no astral characters.
function codePointLength(str) {
    const units = str.length;
    if (!highSurrogate.test(str))
        return units;
    let count = units;
    for (let i = 0; i < units - 1; i++) {
        if ((str.charCodeAt(i) & 0xfc00) === 0xd800 && (str.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
            count--;
            i++;
        }
    }
    return count;
}
function getLengthableOrigin(input) {
    if (Array.isArray(input))
        return "array";
    if (typeof input === "string")
        return "string";
    return "unknown";
}
function issue(...args) {
    const [iss, input, inst] = args;
    if (typeof iss === "string") {
        return {
            message: iss,
            code: "custom",
            input,
            inst,
        };
    }
    return { ...iss };
}
//////////    PROTOTYPE INSTALLERS     //////////
//
// Members live on the prototype and materialize per instance on first read, which keeps own-property count under the step where V8 stops using inline slots. Changing anything here means re-measuring runtime, memory and bundle size together — see "The three axes" in AGENTS.md.
/**
 * Installs a trait's members on its prototype. Each value builds that member for the instance on first read; the built value shadows the accessor as an own property, so a detached `const { parse } = schema` keeps working.
 *
 * Call this from a `proto` initializer, which runs once per prototype — never per instance.
 */
function members(proto, table) {
    for (const key in table) {
        const desc = Object.getOwnPropertyDescriptor(table, key);
        // a getter installs as written, so it stays live: `description` reads through to the registry on every access. not enumerable: an object literal's is, and a prototype member never was
        if (desc.get)
            Object.defineProperty(proto, key, { ...desc, enumerable: false });
        // a method materializes bound on first read, which is what keeps a detached member working: `const opt = schema.optional; opt()`
        else
            defineBound(proto, key, desc.value);
    }
}
/** Shadows a prototype member with an own value, so a getter that builds from the instance runs once. */
function own(inst, key, value, enumerable = true) {
    Object.defineProperty(inst, key, { configurable: true, writable: true, enumerable, value });
    return value;
}
/** Like {@link own}, for a member that was never an own data property and has to stay out of `Object.keys`. */
function hide(inst, key, value) {
    return own(inst, key, value, false);
}
function defineBound(proto, key, fn) {
    Object.defineProperty(proto, key, {
        configurable: true,
        get() {
            // vitest's spyOn calls a prototype getter bare to find the function it wraps, so a nullish receiver answers the raw method
            return this == null ? fn : own(this, key, fn.bind(this));
        },
        set(value) {
            own(this, key, value);
        },
    });
}
/** Returns the prototype to install on, or `undefined` if this group is already installed on it. */
function claim(inst, sentinel) {
    const proto = Object.getPrototypeOf(inst);
    // Runs on every construction, so `in` rather than the costlier `hasOwnProperty.call`. Sentinels are keys the group itself defines.
    return sentinel in proto ? undefined : proto;
}
// The internals whose init chain is installing. A second call for the same one is a derived constructor overriding its base, so it must not construct another schema in between or the override is dropped.
let installing;
// Set while a getter is running, so a value that resolved through a recursion break is not memoized. One shared descriptor shadows the key for the duration, which costs no per-key allocation.
let broke = false;
const breaker = {
    configurable: true,
    get() {
        broke = true;
        return undefined;
    },
};
/**
 * Installs a lazily-derived internal on the `_zod` prototype of `inst`'s
 * constructor, computed from the internals object itself and cached there on
 * first read. One accessor per constructor rather than one per instance.
 */
function defineLazyInternal(inst, key, compute) {
    const proto = Object.getPrototypeOf(inst._zod);
    if (key in proto && installing !== inst._zod) {
        // A repeat construction: everything is installed already. Cleared here so the reference is not held past the first construction of every type.
        installing = undefined;
        return;
    }
    installing = inst._zod;
    Object.defineProperty(proto, key, {
        configurable: true,
        get() {
            // Shadowed before computing so a re-entrant read from a recursive schema resolves to undefined instead of running the getter again.
            Object.defineProperty(this, key, breaker);
            const outer = broke;
            broke = false;
            try {
                const value = compute(this);
                // A result that resolved through a recursion break is recomputed once the graph is complete; everything else memoizes, undefined included.
                if (broke)
                    delete this[key];
                else
                    Object.defineProperty(this, key, { configurable: true, writable: true, value });
                broke = broke || outer;
                return value;
            }
            catch (err) {
                // A compute that threw memoizes nothing, so a later read runs it again and fails the same way. The shadow goes with it, since leaving it installed would answer undefined for every later read.
                delete this[key];
                broke = broke || outer;
                throw err;
            }
        },
        set(value) {
            Object.defineProperty(this, key, { configurable: true, writable: true, value });
        },
    });
}
/**
 * Installs `key` on `inst`'s prototype, computed by `make` on first read and cached there as an own
 * data property. One accessor per constructor rather than one per instance, because an own accessor
 * puts every instance after the first into v8 dictionary mode. The key doubles as the sentinel.
 */
function installLazyProp(inst, key, make, enumerable) {
    const proto = claim(inst, key);
    if (!proto)
        return;
    Object.defineProperty(proto, key, {
        configurable: true,
        get() {
            // Shadowed before computing, so a re-entrant read from a self-referential shape resolves to undefined instead of running the getter again. A data property rather than an accessor: an own accessor is the dictionary-mode transition this exists to avoid.
            const desc = { configurable: true, writable: true, enumerable, value: undefined };
            Object.defineProperty(this, key, desc);
            // a compute that throws leaves the shadow behind, so later reads answer undefined instead of re-throwing; `defineLazy` did the same, and `defineLazyInternal`'s delete-on-catch would cost bytes in every bundle for a case only a throwing user getter reaches
            desc.value = make(this);
            Object.defineProperty(this, key, desc);
            return desc.value;
        },
        set(value) {
            Object.defineProperty(this, key, { configurable: true, writable: true, enumerable, value });
        },
    });
}

var _a;
/* Shared descriptor for installing `_zod`; defineProperty reads it
 * synchronously, so reusing one object avoids a per-instance allocation. */
const _zodDesc = { value: undefined, enumerable: false };
// null where suppressing the capture would be unrecoverable: `parse()` puts the frames back with `captureStackTrace`, so without it the throw would lose its stack. also latched to null once `stackTraceLimit` proves unassignable, which a realm can do at any point by hardening Error
let _E = "captureStackTrace" in Error ? Error : null;
// v8 captures a stack trace inside the Error constructor, which dominates a failed parse; costs only the frames, and parse() restores those. the constructor must RUN: Object.create is cheaper and passes instanceof, but Error.isError and util.types.isNativeError check an internal slot
function newError(Definition) {
    const E = _E;
    if (E) {
        const saved = E.stackTraceLimit;
        if (typeof saved === "number") {
            try {
                E.stackTraceLimit = 0;
            }
            catch {
                _E = null;
                return new Definition();
            }
            try {
                return new Definition();
            }
            finally {
                E.stackTraceLimit = saved;
            }
        }
    }
    return new Definition();
}
function $constructor(name, initializer, 
/** This trait's members, installed once on every prototype that composes it. They cannot be declared in the initializer above: that runs per instance, and the prototype is shared. */
proto, params) {
    // Prototype for this constructor's `_zod` internals. Lazily-derived fields (`values`, `pattern`, `optin`, …) install here once rather than as an accessor on every instance.
    const zodProto = {};
    // Assigning the fields in the constructor body is what gives instances in-object slots; building the object literally and reparenting it costs a second allocation and a generic property copy.
    function Internals(def) {
        this.def = def;
        this.constr = _;
        this.traits = new Set();
    }
    Internals.prototype = zodProto;
    const protoMembers = proto;
    // One trait's members land on every prototype whose chain composes it, so the answer is per prototype rather than per trait.
    const initialized = protoMembers && new WeakSet();
    function init(inst, def) {
        if (!inst._zod) {
            _zodDesc.value = new Internals(def);
            try {
                Object.defineProperty(inst, "_zod", _zodDesc);
            }
            finally {
                // Cleared even on throw, so the shared descriptor never leaks one instance's internals into the next.
                _zodDesc.value = undefined;
            }
        }
        else if (inst._zod.traits.has(name)) {
            return;
        }
        inst._zod.traits.add(name);
        initializer(inst, def);
        if (initialized) {
            // `super(def)` from a user subclass gives `this` a prototype the subclass owns, and installing there would overwrite whatever the subclass declared. `constr` built the instance, so its prototype is the one below the subclass's that should carry the members. A receiver whose chain never reaches that prototype installs on its own, which for a plain object handed straight to `init` means `Object.prototype` — unchanged from before.
            const own = Object.getPrototypeOf(inst);
            const ctorProto = inst._zod.constr.prototype;
            let up = own;
            while (up && up !== ctorProto)
                up = Object.getPrototypeOf(up);
            const target = up ?? own;
            if (!initialized.has(target)) {
                initialized.add(target);
                members(target, protoMembers);
            }
        }
        // support prototype modifications; for-in avoids the array allocation of Object.keys on the (usually empty) prototype
        const proto = _.prototype;
        for (const k in proto) {
            if (!Object.prototype.hasOwnProperty.call(proto, k))
                continue;
            if (!(k in inst)) {
                inst[k] = proto[k].bind(inst);
            }
        }
    }
    // doesn't work if Parent has a constructor with arguments
    const Parent = params?.Parent ?? Object;
    class Definition extends Parent {
    }
    Object.defineProperty(Definition, "name", { value: name });
    function _(def) {
        const inst = params?.Parent ? newError(Definition) : this;
        init(inst, def);
        const deferred = inst._zod.deferred;
        if (deferred) {
            for (const fn of deferred) {
                fn();
            }
            // Released: initializers run once, and the list would otherwise be retained for the schema's lifetime.
            inst._zod.deferred = undefined;
        }
        // Global post-processor hook. Internal: installed by `import "zod/compile"` to enable AOT compilation for every constructed schema. Runs last, once the instance is fully built, because it hands the instance to compile(). The post-processor is expected to be reentrancy-guarded by its own implementation.
        const pp = globalThis.__zod_globalConfig?.postProcessor;
        if (pp)
            pp(inst);
        return inst;
    }
    Object.defineProperty(_, "init", { value: init });
    Object.defineProperty(_, Symbol.hasInstance, {
        value: (inst) => {
            if (params?.Parent && inst instanceof params.Parent)
                return true;
            return inst?._zod?.traits?.has(name);
        },
    });
    Object.defineProperty(_, "name", { value: name });
    return _;
}
class $ZodAsyncError extends Error {
    constructor() {
        super(`Encountered Promise during synchronous parse. Use .parseAsync() instead.`);
    }
}
(_a = globalThis).__zod_globalConfig ?? (_a.__zod_globalConfig = {});
const globalConfig = globalThis.__zod_globalConfig;
function config(newConfig) {
    return globalConfig;
}

/* Computing the message eagerly is expensive (pretty-printed JSON of all
 * issues), so defer it until first read. The accessor functions and
 * descriptors are shared across instances to keep error construction
 * cheap; the computed message is cached on the internals object. The
 * setter preserves plain assignment semantics for consumers that
 * overwrite `message`. */
function _getMessage() {
    const internals = this._zod;
    internals.message ?? (internals.message = JSON.stringify(internals.def, jsonStringifyReplacer, 2));
    return internals.message;
}
function _setMessage(value) {
    this._zod.message = value;
}
const _messageDesc = {
    get: _getMessage,
    set: _setMessage,
    enumerable: true,
    configurable: true,
};
const _issuesDesc = { value: undefined, enumerable: false };
/* Prototypes that already carry the lazy `toString`. Seeded with the
 * intrinsics so that `init` on a foreign object — it accepts any object —
 * can never install an accessor onto a prototype we do not own. */
const _installedToString = /* @__PURE__ */ new WeakSet([Object.prototype, Error.prototype]);
const initializer = (inst, def) => {
    inst.name = "$ZodError";
    // `_zod` is already non-enumerable: $constructor's init defined it with this same descriptor
    _issuesDesc.value = def;
    Object.defineProperty(inst, "issues", _issuesDesc);
    // Clear the shared slot; a retained `value` pins the last error's issues.
    _issuesDesc.value = undefined;
    Object.defineProperty(inst, "message", _messageDesc);
    /* `toString` lives as a non-enumerable lazy getter on the shared
     * prototype; on first access it caches a per-instance closure so
     * detached usage still works. */
    const proto = Object.getPrototypeOf(inst);
    if (!_installedToString.has(proto)) {
        _installedToString.add(proto);
        Object.defineProperty(proto, "toString", {
            configurable: true,
            enumerable: false,
            get() {
                const value = () => this.message;
                Object.defineProperty(this, "toString", { value, configurable: true, writable: true });
                return value;
            },
            set(value) {
                Object.defineProperty(this, "toString", { value, configurable: true, writable: true });
            },
        });
    }
};
const $ZodRealError = $constructor("$ZodError", initializer, undefined, {
    Parent: Error,
});

const _parse = (_Err) => {
    const fn = (schema, value, _ctx, _params) => {
        const ctx = _ctx ? { ..._ctx, async: false } : { async: false };
        const result = schema._zod.run({ value, issues: [] }, ctx);
        if (result instanceof Promise) {
            throw new $ZodAsyncError();
        }
        if (result.issues.length) {
            const e = new (_params?.Err ?? _Err)(result.issues.map((iss) => finalizeIssue(iss, ctx, config())));
            captureStackTrace(e, _params?.callee ?? fn);
            throw e;
        }
        return result.value;
    };
    return fn;
};
const parse$1 = /* @__PURE__*/ _parse($ZodRealError);
const _parseAsync = (_Err) => {
    const fn = async (schema, value, _ctx, params) => {
        const ctx = _ctx ? { ..._ctx, async: true } : { async: true };
        let result = schema._zod.run({ value, issues: [] }, ctx);
        if (result instanceof Promise)
            result = await result;
        if (result.issues.length) {
            const e = new (params?.Err ?? _Err)(result.issues.map((iss) => finalizeIssue(iss, ctx, config())));
            captureStackTrace(e, params?.callee ?? fn);
            throw e;
        }
        return result.value;
    };
    return fn;
};
const parseAsync = /* @__PURE__*/ _parseAsync($ZodRealError);
const _safeParse = (_Err) => (schema, value, _ctx) => {
    const ctx = _ctx ? { ..._ctx, async: false } : { async: false };
    const result = schema._zod.run({ value, issues: [] }, ctx);
    if (result instanceof Promise) {
        throw new $ZodAsyncError();
    }
    return result.issues.length ? failure(_Err, result.issues, ctx) : { success: true, data: result.value };
};
const safeParse = /* @__PURE__*/ _safeParse($ZodRealError);
// the error is built on the first read of `error`: finalizing the issues and constructing the instance is most of a failing parse, and a caller that only branches on `success` never pays it. a getter in the literal keeps this small; the alternative, one shared accessor descriptor plus a hidden state slot, reads ~15% faster but costs ~75 B gzipped in every bundle
function failure(Err, issues, ctx) {
    let error;
    return {
        success: false,
        get error() {
            if (!error) {
                error = new Err(issues.map((iss) => finalizeIssue(iss, ctx, config())));
                // finalizeIssue drops `input`, so the built error holds nothing; keeping the raw issues past this point pins the parsed value for the life of the result
                issues = undefined;
                ctx = undefined;
            }
            return error;
        },
        set error(e) {
            error = e;
            // a replacement makes the getter's branch unreachable, so the captures have to go here too
            issues = undefined;
            ctx = undefined;
        },
    };
}
const _safeParseAsync = (_Err) => async (schema, value, _ctx) => {
    const ctx = _ctx ? { ..._ctx, async: true } : { async: true };
    let result = schema._zod.run({ value, issues: [] }, ctx);
    if (result instanceof Promise)
        result = await result;
    return result.issues.length ? failure(_Err, result.issues, ctx) : { success: true, data: result.value };
};
const safeParseAsync = /* @__PURE__*/ _safeParseAsync($ZodRealError);

/** A regex for any UUID-like identifier: 8-4-4-4-12 hex pattern */
const guid$1 = /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/;
// the unbounded form of `string()` as a literal, so every plain string shares one instance instead of building its own
const anyString = /^[\s\S]{0,}$/;
const number = /^-?\d+(?:\.\d+)?$/;
const boolean$1 = /^(?:true|false)$/i;
const _null$2 = /^null$/i;

// import { $ZodType } from "./schemas.js";
const $ZodCheck = /*@__PURE__*/ $constructor("$ZodCheck", (inst, def) => {
    var _a;
    inst._zod ?? (inst._zod = {});
    inst._zod.def = def;
    (_a = inst._zod).onattach ?? (_a.onattach = []);
});
/** Default `when` for length-based checks: run only on non-nullish values with a `length`. */
const _whenHasLength = (payload) => {
    const val = payload.value;
    return !nullish$1(val) && val.length !== undefined;
};
const numericOriginMap = {
    number: "number",
    bigint: "bigint",
    object: "date",
};
const $ZodCheckLessThan = /*@__PURE__*/ $constructor("$ZodCheckLessThan", (inst, def) => {
    $ZodCheck.init(inst, def);
    const origin = numericOriginMap[typeof def.value];
    inst._zod.check = (payload) => {
        if (def.inclusive ? payload.value <= def.value : payload.value < def.value) {
            return;
        }
        payload.issues.push({
            origin: numericOriginMap[typeof payload.value] ?? origin,
            code: "too_big",
            maximum: typeof def.value === "object" ? def.value.getTime() : def.value,
            input: payload.value,
            inclusive: def.inclusive,
            inst,
            continue: !def.abort,
        });
    };
});
const $ZodCheckGreaterThan = /*@__PURE__*/ $constructor("$ZodCheckGreaterThan", (inst, def) => {
    $ZodCheck.init(inst, def);
    const origin = numericOriginMap[typeof def.value];
    inst._zod.check = (payload) => {
        if (def.inclusive ? payload.value >= def.value : payload.value > def.value) {
            return;
        }
        payload.issues.push({
            origin: numericOriginMap[typeof payload.value] ?? origin,
            code: "too_small",
            minimum: typeof def.value === "object" ? def.value.getTime() : def.value,
            input: payload.value,
            inclusive: def.inclusive,
            inst,
            continue: !def.abort,
        });
    };
});
const $ZodCheckNumberFormat = /*@__PURE__*/ $constructor("$ZodCheckNumberFormat", (inst, def) => {
    $ZodCheck.init(inst, def); // no format checks
    def.format = def.format || "float64";
    const isInt = def.format?.includes("int");
    const origin = isInt ? "int" : "number";
    const [minimum, maximum] = NUMBER_FORMAT_RANGES[def.format];
    inst._zod.check = (payload) => {
        const input = payload.value;
        if (isInt) {
            if (!Number.isInteger(input)) {
                // invalid_format issue
                // payload.issues.push({
                //   expected: def.format,
                //   format: def.format,
                //   code: "invalid_format",
                //   input,
                //   inst,
                // });
                // invalid_type issue
                payload.issues.push({
                    expected: origin,
                    format: def.format,
                    code: "invalid_type",
                    continue: false,
                    input,
                    inst,
                });
                return;
                // not_multiple_of issue
                // payload.issues.push({
                //   code: "not_multiple_of",
                //   origin: "number",
                //   input,
                //   inst,
                //   divisor: 1,
                // });
            }
            if (!Number.isSafeInteger(input)) {
                if (input > 0) {
                    // too_big
                    payload.issues.push({
                        input,
                        code: "too_big",
                        maximum: Number.MAX_SAFE_INTEGER,
                        note: "Integers must be within the safe integer range.",
                        inst,
                        origin,
                        inclusive: true,
                        continue: !def.abort,
                    });
                }
                else {
                    // too_small
                    payload.issues.push({
                        input,
                        code: "too_small",
                        minimum: Number.MIN_SAFE_INTEGER,
                        note: "Integers must be within the safe integer range.",
                        inst,
                        origin,
                        inclusive: true,
                        continue: !def.abort,
                    });
                }
                return;
            }
        }
        if (input < minimum) {
            payload.issues.push({
                origin: "number",
                input,
                code: "too_small",
                minimum,
                inclusive: true,
                inst,
                continue: !def.abort,
            });
        }
        if (input > maximum) {
            payload.issues.push({
                origin: "number",
                input,
                code: "too_big",
                maximum,
                inclusive: true,
                inst,
                continue: !def.abort,
            });
        }
    };
});
const $ZodCheckMaxLength = /*@__PURE__*/ $constructor("$ZodCheckMaxLength", (inst, def) => {
    var _a;
    $ZodCheck.init(inst, def);
    (_a = inst._zod.def).when ?? (_a.when = _whenHasLength);
    inst._zod.check = (payload) => {
        const input = payload.value;
        const units = input.length;
        // Strings are measured in Unicode code points, not UTF-16 units. A code point is at most two units, so a string that already fits in units fits in code points; only an overflow has to be counted.
        const length = typeof input === "string" && units > def.maximum ? codePointLength(input) : units;
        if (length <= def.maximum)
            return;
        const origin = getLengthableOrigin(input);
        payload.issues.push({
            origin,
            code: "too_big",
            maximum: def.maximum,
            inclusive: true,
            input,
            inst,
            continue: !def.abort,
        });
    };
});
const $ZodCheckMinLength = /*@__PURE__*/ $constructor("$ZodCheckMinLength", (inst, def) => {
    var _a;
    $ZodCheck.init(inst, def);
    (_a = inst._zod.def).when ?? (_a.when = _whenHasLength);
    inst._zod.check = (payload) => {
        const input = payload.value;
        const units = input.length;
        // A code point is one or two UTF-16 units, so fewer units than the floor can never reach it and twice the floor always clears it. Only in between is the exact count in doubt.
        const length = typeof input === "string" && units >= def.minimum && units < def.minimum * 2
            ? codePointLength(input)
            : units;
        if (length >= def.minimum)
            return;
        const origin = getLengthableOrigin(input);
        payload.issues.push({
            origin,
            code: "too_small",
            minimum: def.minimum,
            inclusive: true,
            input,
            inst,
            continue: !def.abort,
        });
    };
});
const $ZodCheckStringFormat = /*@__PURE__*/ $constructor("$ZodCheckStringFormat", (inst, def) => {
    var _a, _b;
    $ZodCheck.init(inst, def);
    if (def.pattern)
        (_a = inst._zod).check ?? (_a.check = (payload) => {
            def.pattern.lastIndex = 0;
            if (def.pattern.test(payload.value))
                return;
            payload.issues.push({
                origin: "string",
                code: "invalid_format",
                format: def.format,
                input: payload.value,
                ...(def.pattern ? { pattern: def.pattern.toString() } : {}),
                inst,
                continue: !def.abort,
            });
        });
    else
        (_b = inst._zod).check ?? (_b.check = () => { });
});
const $ZodCheckRegex = /*@__PURE__*/ $constructor("$ZodCheckRegex", (inst, def) => {
    $ZodCheckStringFormat.init(inst, def);
    inst._zod.check = (payload) => {
        def.pattern.lastIndex = 0;
        if (def.pattern.test(payload.value))
            return;
        payload.issues.push({
            origin: "string",
            code: "invalid_format",
            format: "regex",
            input: payload.value,
            pattern: def.pattern.toString(),
            inst,
            continue: !def.abort,
        });
    };
});

const version = {
    major: 4,
    minor: 6,
    patch: 7,
};

const $ZodType = /*@__PURE__*/ $constructor("$ZodType", (inst, def) => {
    var _a;
    inst ?? (inst = {});
    inst._zod.def = def; // set _def property
    inst._zod.bag = inst._zod.bag || {}; // initialize _bag object
    inst._zod.version = version;
    const defChecks = inst._zod.def.checks;
    // if inst is itself a checks.$ZodCheck, run it as a check
    const checks = inst._zod.traits.has("$ZodCheck")
        ? [inst, ...(defChecks ?? [])]
        : defChecks?.length
            ? [...defChecks]
            : [];
    for (const ch of checks) {
        for (const fn of ch._zod.onattach) {
            fn(inst);
        }
    }
    if (checks.length === 0) {
        // deferred initializer inst._zod.parse is not yet defined
        (_a = inst._zod).deferred ?? (_a.deferred = []);
        inst._zod.deferred?.push(() => {
            inst._zod.run = inst._zod.parse;
        });
    }
    else {
        const runChecks = (payload, checks, ctx) => {
            if (payload.memo)
                return payload;
            let isAborted = aborted(payload);
            let asyncResult;
            for (const ch of checks) {
                if (ch._zod.def.when) {
                    if (explicitlyAborted(payload))
                        continue;
                    const shouldRun = ch._zod.def.when(payload);
                    if (!shouldRun)
                        continue;
                }
                else if (isAborted) {
                    continue;
                }
                const currLen = payload.issues.length;
                const _ = ch._zod.check(payload);
                if (_ instanceof Promise && ctx?.async === false) {
                    throw new $ZodAsyncError();
                }
                if (asyncResult || _ instanceof Promise) {
                    asyncResult = (asyncResult ?? Promise.resolve()).then(async () => {
                        await _;
                        const nextLen = payload.issues.length;
                        if (nextLen === currLen)
                            return;
                        attachSchema(payload.issues, currLen, inst);
                        if (!isAborted)
                            isAborted = aborted(payload, currLen);
                    });
                }
                else {
                    const nextLen = payload.issues.length;
                    if (nextLen === currLen)
                        continue;
                    attachSchema(payload.issues, currLen, inst);
                    if (!isAborted)
                        isAborted = aborted(payload, currLen);
                }
            }
            if (asyncResult) {
                return asyncResult.then(() => {
                    return payload;
                });
            }
            return payload;
        };
        const handleCanaryResult = (canary, payload, ctx) => {
            // abort if the canary is aborted
            if (aborted(canary)) {
                canary.aborted = true;
                return canary;
            }
            // run checks first, then
            const checkResult = runChecks(payload, checks, ctx);
            if (checkResult instanceof Promise) {
                if (ctx.async === false)
                    throw new $ZodAsyncError();
                return checkResult.then((checkResult) => inst._zod.parse(checkResult, ctx));
            }
            return inst._zod.parse(checkResult, ctx);
        };
        inst._zod.run = (payload, ctx) => {
            if (ctx.skipChecks) {
                return inst._zod.parse(payload, ctx);
            }
            if (ctx.direction === "backward") {
                // run canary initial pass (no checks)
                const canary = inst._zod.parse({ value: payload.value, issues: [] }, { ...ctx, skipChecks: true });
                if (canary instanceof Promise) {
                    return canary.then((canary) => {
                        return handleCanaryResult(canary, payload, ctx);
                    });
                }
                return handleCanaryResult(canary, payload, ctx);
            }
            // forward
            const result = inst._zod.parse(payload, ctx);
            if (result instanceof Promise) {
                if (ctx.async === false)
                    throw new $ZodAsyncError();
                return result.then((result) => runChecks(result, checks, ctx));
            }
            return runChecks(result, checks, ctx);
        };
    }
}, {
    // Wrappers extend this by installing a richer factory over it; reading it eagerly would defeat the laziness.
    get "~standard"() {
        return hide(this, "~standard", standardProps(this));
    },
    set "~standard"(value) {
        own(this, "~standard", value);
    },
});
/** The Standard Schema surface for `inst`. Shared so wrappers can extend it without forcing it. */
// a Standard Schema result only reports issues, so a failure finalizes them straight off the raw payload: no ZodError, and no lazy result to read through
const toStandardResult = (r, ctx) => r.issues.length ? { issues: r.issues.map((iss) => finalizeIssue(iss, ctx, config())) } : { value: r.value };
async function validateAsync(inst, value) {
    const ctx = { async: true };
    return toStandardResult((await inst._zod.run({ value, issues: [] }, ctx)), ctx);
}
function standardProps(inst) {
    return {
        validate: (value) => {
            const ctx = { async: false };
            try {
                const r = inst._zod.run({ value, issues: [] }, ctx);
                if (!(r instanceof Promise))
                    return toStandardResult(r, ctx);
            }
            catch (_) { }
            // async function so a synchronously throwing check rejects instead of escaping validate
            return validateAsync(inst, value);
        },
        vendor: "zod",
        version: 1,
    };
}
const $ZodString = /*@__PURE__*/ $constructor("$ZodString", (inst, def) => {
    $ZodType.init(inst, def);
    // a format's own pattern, else unbounded; a template literal derives the check-aware form itself
    inst._zod.pattern = def.pattern ?? anyString;
    inst._zod.parse = (payload, _) => {
        if (def.coerce)
            try {
                payload.value = String(payload.value);
            }
            catch (_) { }
        if (typeof payload.value === "string")
            return payload;
        payload.issues.push({
            expected: "string",
            code: "invalid_type",
            input: payload.value,
            inst,
        });
        return payload;
    };
});
const $ZodStringFormat = /*@__PURE__*/ $constructor("$ZodStringFormat", (inst, def) => {
    // check initialization must come first
    $ZodCheckStringFormat.init(inst, def);
    $ZodString.init(inst, def);
});
const $ZodGUID = /*@__PURE__*/ $constructor("$ZodGUID", (inst, def) => {
    def.pattern ?? (def.pattern = guid$1);
    $ZodStringFormat.init(inst, def);
});
const $ZodNumber = /*@__PURE__*/ $constructor("$ZodNumber", (inst, def) => {
    $ZodType.init(inst, def);
    inst._zod.pattern = number;
    inst._zod.parse = (payload, _ctx) => {
        if (def.coerce)
            try {
                payload.value = Number(payload.value);
            }
            catch (_) { }
        const input = payload.value;
        if (typeof input === "number" && !Number.isNaN(input) && Number.isFinite(input)) {
            return payload;
        }
        const received = typeof input === "number"
            ? Number.isNaN(input)
                ? "NaN"
                : !Number.isFinite(input)
                    ? String(input)
                    : undefined
            : undefined;
        payload.issues.push({
            expected: "number",
            code: "invalid_type",
            input,
            inst,
            ...(received ? { received } : {}),
        });
        return payload;
    };
});
const $ZodNumberFormat = /*@__PURE__*/ $constructor("$ZodNumberFormat", (inst, def) => {
    $ZodCheckNumberFormat.init(inst, def);
    $ZodNumber.init(inst, def); // no format checks
});
const $ZodBoolean = /*@__PURE__*/ $constructor("$ZodBoolean", (inst, def) => {
    $ZodType.init(inst, def);
    inst._zod.pattern = boolean$1;
    inst._zod.parse = (payload, _ctx) => {
        if (def.coerce)
            try {
                payload.value = Boolean(payload.value);
            }
            catch (_) { }
        const input = payload.value;
        if (typeof input === "boolean")
            return payload;
        payload.issues.push({
            expected: "boolean",
            code: "invalid_type",
            input,
            inst,
        });
        return payload;
    };
});
const $ZodNull = /*@__PURE__*/ $constructor("$ZodNull", (inst, def) => {
    $ZodType.init(inst, def);
    inst._zod.pattern = _null$2;
    inst._zod.values = new Set([null]);
    inst._zod.parse = (payload, _ctx) => {
        const input = payload.value;
        if (input === null)
            return payload;
        payload.issues.push({
            expected: "null",
            code: "invalid_type",
            input,
            inst,
        });
        return payload;
    };
});
const $ZodUnknown = /*@__PURE__*/ $constructor("$ZodUnknown", (inst, def) => {
    $ZodType.init(inst, def);
    inst._zod.parse = (payload) => payload;
});
const $ZodNever = /*@__PURE__*/ $constructor("$ZodNever", (inst, def) => {
    $ZodType.init(inst, def);
    inst._zod.parse = (payload, _ctx) => {
        payload.issues.push({
            expected: "never",
            code: "invalid_type",
            input: payload.value,
            inst,
        });
        return payload;
    };
});
// an oversized container fails its leading size checks before any element is parsed
function capSize(inst, size) {
    const caps = sizeCaps(inst._zod.def.checks);
    if (!caps.length)
        return;
    const cap = Math.min(...caps.map((c) => c[0]));
    const parse = inst._zod.parse;
    inst._zod.parse = (payload, ctx) => {
        const n = size(payload.value);
        if (n > cap && !ctx?.skipChecks && ctx?.direction !== "backward") {
            for (const [max, ch] of sizeCaps(inst._zod.def.checks)) {
                if (n > max && ch._zod.def.when(payload)) {
                    const start = payload.issues.length;
                    ch._zod.check(payload);
                    // the value is still the raw input, so no later check may read it
                    payload.issues[start].continue = false;
                    attachSchema(payload.issues, start, inst);
                    return payload;
                }
            }
        }
        return parse(payload, ctx);
    };
}
const arraySize = (input) => (Array.isArray(input) ? input.length : -1);
function handleArrayResult(result, final, index) {
    if (result.issues.length) {
        final.issues.push(...prefixIssues(index, result.issues));
    }
    final.value[index] = result.value;
}
const $ZodArray = /*@__PURE__*/ $constructor("$ZodArray", (inst, def) => {
    $ZodType.init(inst, def);
    const memo = globalConfig.memoizer;
    memo?.attach(inst);
    inst._zod.parse = (payload, ctx) => {
        const input = payload.value;
        if (!Array.isArray(input)) {
            payload.issues.push({
                expected: "array",
                code: "invalid_type",
                input,
                inst,
            });
            return payload;
        }
        payload.value = memo ? memo.alloc(inst, payload, Array(input.length), ctx) : Array(input.length);
        const proms = [];
        const abortEarly = ctx?.abortEarly;
        for (let i = 0; i < input.length; i++) {
            const item = input[i];
            const result = def.element._zod.run({
                value: item,
                issues: [],
            }, ctx);
            if (result instanceof Promise) {
                proms.push(result.then((result) => handleArrayResult(result, payload, i)));
            }
            else {
                handleArrayResult(result, payload, i);
                // the element's payload is authoritative here, since handleArrayResult forwards every issue; an object's is not, because it drops a failed absent optional
                if (abortEarly && result.issues.length !== 0 && aborted(result))
                    break;
            }
        }
        if (proms.length) {
            return Promise.all(proms).then(() => payload);
        }
        return payload; //handleArrayResultsAsync(parseResults, final);
    };
    capSize(inst, arraySize);
});
function handlePropertyResult(result, final, key, input, optin, optout) {
    const isPresent = key in input;
    const isOptionalOut = optout === "optional";
    // The middle rung means "absence permitted, nothing supplied in its place", so an absent key contributes nothing — whatever the schema made of `undefined` is invented, not substituted. Only `optional` reaches this with a value: `defaulted` substitutes, and a schema that isn't optional-out has to keep the key.
    if (!isPresent && isOptionalOut && optin === "optional") {
        return;
    }
    if (result.issues.length) {
        // For optional-in/out schemas, ignore errors on absent keys.
        if (optin !== undefined && isOptionalOut && !isPresent) {
            return;
        }
        final.issues.push(...prefixIssues(key, result.issues));
    }
    if (!isPresent && optin === undefined) {
        if (!result.issues.length) {
            final.issues.push({
                code: "invalid_type",
                expected: "nonoptional",
                input: undefined,
                path: [key],
            });
        }
        return;
    }
    if (result.value === undefined) {
        if (isPresent || (optin === "defaulted" && !isOptionalOut)) {
            final.value[key] = undefined;
        }
    }
    else {
        final.value[key] = result.value;
    }
}
// one shared instance; a fresh [] per schema cost 56 bytes retained
const NO_SYMBOL_KEYS = [];
function normalizeDef(def) {
    const keys = Object.keys(def.shape);
    const ownSymbols = Object.getOwnPropertySymbols(def.shape);
    const symbolKeys = ownSymbols.length ? ownSymbols : NO_SYMBOL_KEYS;
    // aliases `keys` when there are no symbols, so a string-only shape keeps one array
    const allKeys = symbolKeys.length ? [...keys, ...symbolKeys] : keys;
    for (const k of allKeys) {
        if (!def.shape?.[k]?._zod?.traits?.has("$ZodType")) {
            throw new Error(`Invalid element at key "${String(k)}": expected a Zod schema`);
        }
    }
    const okeys = optionalKeys(def.shape);
    return {
        ...def,
        allKeys,
        symbolKeys,
        // string-only: handleCatchall matches it against `for...in`, which never yields a symbol
        keySet: new Set(keys),
        numKeys: keys.length,
        optionalKeys: new Set(okeys),
    };
}
function handleCatchall(proms, input, payload, ctx, def, inst, abortEarly) {
    const unrecognized = [];
    const keySet = def.keySet;
    const _catchall = def.catchall._zod;
    const t = _catchall.def.type;
    const optin = _catchall.optin;
    const optout = _catchall.optout;
    // starts at 0, not the current length: the shape phase already ran and may have aborted
    let seen = 0;
    for (const key in input) {
        if (abortEarly && payload.issues.length !== seen) {
            if (aborted(payload, seen))
                break;
            seen = payload.issues.length;
        }
        // Must precede the __proto__ branch: a declared key is not unrecognized, even though the shape loop deliberately strips __proto__ from the parsed output.
        if (keySet.has(key))
            continue;
        // Don't copy an undeclared __proto__ into the result; assignment to a plain {} would replace the result prototype. But in strict mode it is still an unknown key, so report it before skipping.
        if (key === "__proto__") {
            if (t === "never")
                unrecognized.push(key);
            continue;
        }
        if (t === "never") {
            unrecognized.push(key);
            continue;
        }
        const r = _catchall.run({ value: input[key], issues: [] }, ctx);
        if (r instanceof Promise) {
            proms.push(r.then((r) => handlePropertyResult(r, payload, key, input, optin, optout)));
        }
        else {
            handlePropertyResult(r, payload, key, input, optin, optout);
        }
    }
    if (unrecognized.length) {
        payload.issues.push({
            code: "unrecognized_keys",
            keys: unrecognized,
            input,
            inst,
            // Describes the shape of the input, not the validity of the parsed value, so it never aborts. The parse still fails; the schema's own checks just get to run first, and an enclosing intersection can reconcile the key against a sibling operand.
            continue: true,
        });
    }
    if (!proms.length)
        return payload;
    return Promise.all(proms).then(() => {
        return payload;
    });
}
const $ZodObject = /*@__PURE__*/ $constructor("$ZodObject", (inst, def) => {
    // requires cast because technically $ZodObject doesn't extend
    $ZodType.init(inst, def);
    const desc = Object.getOwnPropertyDescriptor(def, "shape");
    // a cloned def carries its source's accessor, which knows the shape it answers from; adopting that keeps the clone's keys readable without running it
    const sh = desc?.get ? desc.get.raw : (def.shape ?? {});
    if (sh) {
        // Freezes the shape on first read, so its getters resolve once and every later read sees the same schemas.
        const get = () => {
            const newSh = { ...sh };
            Object.defineProperty(def, "shape", { value: newSh });
            get.raw = newSh;
            return newSh;
        };
        get.raw = sh;
        Object.defineProperty(def, "shape", { get });
    }
    const _normalized = cached(() => normalizeDef(def));
    defineLazyInternal(inst, "propValues", (zod) => {
        const shape = zod.def.shape;
        const propValues = {};
        for (const key in shape) {
            const field = shape[key]._zod;
            if (field.values) {
                if (!Object.prototype.hasOwnProperty.call(propValues, key)) {
                    assignProp(propValues, key, new Set());
                }
                for (const v of field.values)
                    propValues[key].add(v);
                // An omittable slot reads back as undefined at a discriminator lookup, so it has to claim undefined: two options that can both omit the key are not discriminable on it.
                if (field.optin !== undefined)
                    propValues[key].add(undefined);
            }
        }
        return propValues;
    });
    const isObject$1 = isObject;
    const catchall = def.catchall;
    let value;
    const memo = globalConfig.memoizer;
    memo?.attach(inst);
    inst._zod.parse = (payload, ctx) => {
        value ?? (value = _normalized.value);
        const input = payload.value;
        if (!isObject$1(input)) {
            payload.issues.push({
                expected: "object",
                code: "invalid_type",
                input,
                inst,
            });
            return payload;
        }
        payload.value = memo ? memo.alloc(inst, payload, {}, ctx) : {};
        const proms = [];
        const shape = value.shape;
        const abortEarly = ctx?.abortEarly;
        let seen = payload.issues.length;
        for (const key of value.allKeys) {
            if (abortEarly && payload.issues.length !== seen) {
                if (aborted(payload, seen))
                    break;
                seen = payload.issues.length;
            }
            if (key === "__proto__")
                continue;
            const el = shape[key];
            const optin = el._zod.optin;
            const optout = el._zod.optout;
            const r = el._zod.run({ value: input[key], issues: [] }, ctx);
            if (r instanceof Promise) {
                proms.push(r.then((r) => handlePropertyResult(r, payload, key, input, optin, optout)));
            }
            else {
                handlePropertyResult(r, payload, key, input, optin, optout);
            }
        }
        if (!catchall) {
            return proms.length ? Promise.all(proms).then(() => payload) : payload;
        }
        return handleCatchall(proms, input, payload, ctx, _normalized.value, inst, abortEarly === true);
    };
});
function handleUnionResults(results, final, inst, ctx) {
    for (const result of results) {
        if (result.issues.length === 0) {
            final.value = result.value;
            return final;
        }
    }
    const nonaborted = results.filter((r) => !aborted(r));
    if (nonaborted.length === 1) {
        final.value = nonaborted[0].value;
        return nonaborted[0];
    }
    final.issues.push({
        code: "invalid_union",
        input: final.value,
        inst,
        errors: results.map((result) => result.issues.map((iss) => finalizeIssue(iss, ctx, config()))),
    });
    return final;
}
const $ZodUnion = /*@__PURE__*/ $constructor("$ZodUnion", (inst, def) => {
    $ZodType.init(inst, def);
    defineLazyInternal(inst, "optin", (zod) => zod.def.options.some((o) => o._zod.optin === "defaulted")
        ? "defaulted"
        : zod.def.options.some((o) => o._zod.optin !== undefined)
            ? "optional"
            : undefined);
    defineLazyInternal(inst, "optout", (zod) => zod.def.options.some((o) => o._zod.optout === "optional") ? "optional" : undefined);
    defineLazyInternal(inst, "values", (zod) => {
        if (zod.def.options.every((o) => o._zod.values)) {
            return new Set(zod.def.options.flatMap((option) => Array.from(option._zod.values)));
        }
        return undefined;
    });
    defineLazyInternal(inst, "pattern", (zod) => {
        if (zod.def.options.every((o) => o._zod.pattern)) {
            const patterns = zod.def.options.map((o) => o._zod.pattern);
            return new RegExp(`^(${patterns.map((p) => cleanRegex(p.source)).join("|")})$`);
        }
        return undefined;
    });
    const first = def.options.length === 1 ? def.options[0]._zod.run : null;
    inst._zod.parse = (payload, ctx) => {
        if (first) {
            return first(payload, ctx);
        }
        let async = false;
        const results = [];
        for (const option of def.options) {
            const result = option._zod.run({
                value: payload.value,
                issues: [],
            }, ctx);
            if (result instanceof Promise) {
                results.push(result);
                async = true;
            }
            else {
                if (result.issues.length === 0)
                    return result;
                results.push(result);
            }
        }
        if (!async)
            return handleUnionResults(results, payload, inst, ctx);
        return Promise.all(results).then((results) => {
            return handleUnionResults(results, payload, inst, ctx);
        });
    };
});
function discriminatorMap(def) {
    const map = new Map();
    for (const option of def.options) {
        const values = option._zod.propValues?.[def.discriminator];
        if (!values || values.size === 0)
            throw new Error(`Invalid discriminated union option at index "${def.options.indexOf(option)}"`);
        for (const value of values) {
            if (map.has(value)) {
                if (value !== undefined)
                    throw new Error(`Duplicate discriminator value "${String(value)}"`);
                // keep the collision marked so a later member cannot reclaim it
                map.set(value, null);
            }
            else {
                map.set(value, option);
            }
        }
    }
    return map;
}
const $ZodDiscriminatedUnion = 
/*@__PURE__*/
$constructor("$ZodDiscriminatedUnion", (inst, def) => {
    def.inclusive = false;
    $ZodUnion.init(inst, def);
    const _super = inst._zod.parse;
    defineLazyInternal(inst, "propValues", (zod) => {
        const propValues = {};
        let undefinedCount = 0;
        for (const option of zod.def.options) {
            const pv = option._zod.propValues;
            if (!pv || Object.keys(pv).length === 0)
                throw new Error(`Invalid discriminated union option at index "${zod.def.options.indexOf(option)}"`);
            if (pv[zod.def.discriminator]?.has(undefined))
                undefinedCount++;
            for (const [k, v] of Object.entries(pv)) {
                if (!Object.prototype.hasOwnProperty.call(propValues, k)) {
                    assignProp(propValues, k, new Set());
                }
                for (const val of v) {
                    propValues[k].add(val);
                }
            }
        }
        if (!zod.def.unionFallback && undefinedCount > 1)
            propValues[zod.def.discriminator]?.delete(undefined);
        return propValues;
    });
    // Checked now rather than in the lookup map below, so an option that lacks the discriminator fails at the `discriminatedUnion` call instead of on the first object parsed. Options whose shape cannot be enumerated without resolving it — pipes and lazies — are left to the map.
    def.options.forEach((option, i) => {
        const propShape = rawShape(option._zod.def);
        if (propShape && !Object.prototype.hasOwnProperty.call(propShape, def.discriminator)) {
            throw new Error(`Invalid discriminated union option at index "${i}"`);
        }
    });
    const disc = cached(() => discriminatorMap(def));
    inst._zod.parse = (payload, ctx) => {
        const input = payload.value;
        if (!isObject(input)) {
            payload.issues.push({
                code: "invalid_type",
                expected: "object",
                input,
                inst,
            });
            return payload;
        }
        const value = input?.[def.discriminator];
        const opt = disc.value.get(value);
        // forward metadata cannot choose an encoder for an absent tag
        if (opt && (value !== undefined || ctx.direction !== "backward")) {
            return opt._zod.run(payload, ctx);
        }
        // Fall back to union matching when the fast discriminator path fails:
        // - explicitly enabled via unionFallback, or
        // - during backward direction (encode), since codec-based discriminators have different values in forward vs backward directions
        if (def.unionFallback || ctx.direction === "backward") {
            return _super(payload, ctx);
        }
        // no matching discriminator
        payload.issues.push({
            code: "invalid_union",
            errors: [],
            note: "No matching discriminator",
            discriminator: def.discriminator,
            options: Array.from(disc.value.keys()).filter((value) => disc.value.get(value) !== null),
            input,
            path: [def.discriminator],
            inst,
        });
        return payload;
    };
});
const $ZodRecord = /*@__PURE__*/ $constructor("$ZodRecord", (inst, def) => {
    $ZodType.init(inst, def);
    const memo = globalConfig.memoizer;
    memo?.attach(inst);
    inst._zod.parse = (payload, ctx) => {
        const input = payload.value;
        if (!isPlainObject(input)) {
            payload.issues.push({
                expected: "record",
                code: "invalid_type",
                input,
                inst,
            });
            return payload;
        }
        // no guard in either loop below: a record's invalid_key aborts but an enclosing intersection can reconcile it, so a stopped loop hides keys the sibling does not own and the intersection then rejects nothing
        const proms = [];
        const values = def.keyType._zod.values;
        if (values && !def.partial) {
            payload.value = memo ? memo.alloc(inst, payload, {}, ctx) : {};
            const recordKeys = new Set();
            for (const key of values) {
                if (typeof key === "string" || typeof key === "number" || typeof key === "symbol") {
                    recordKeys.add(typeof key === "number" ? key.toString() : key);
                    // A declared __proto__ is stripped but is not an unrecognized key.
                    if (key === "__proto__")
                        continue;
                    const keyResult = def.keyType._zod.run({ value: key, issues: [] }, ctx);
                    if (keyResult instanceof Promise) {
                        throw new Error("Async schemas not supported in object keys currently");
                    }
                    if (keyResult.issues.length) {
                        payload.issues.push({
                            code: "invalid_key",
                            origin: "record",
                            issues: keyResult.issues.map((iss) => finalizeIssue(iss, ctx, config())),
                            input: key,
                            path: [key],
                            inst,
                        });
                        continue;
                    }
                    const outKey = keyResult.value;
                    if (outKey === "__proto__")
                        continue;
                    const result = def.valueType._zod.run({ value: input[key], issues: [] }, ctx);
                    if (result instanceof Promise) {
                        proms.push(result.then((result) => {
                            if (result.issues.length) {
                                payload.issues.push(...prefixIssues(key, result.issues));
                            }
                            payload.value[outKey] = result.value;
                        }));
                    }
                    else {
                        if (result.issues.length) {
                            payload.issues.push(...prefixIssues(key, result.issues));
                        }
                        payload.value[outKey] = result.value;
                    }
                }
            }
            let unrecognized;
            for (const key in input) {
                if (!recordKeys.has(key)) {
                    if (def.mode === "loose") {
                        // skip __proto__ so it can't replace the result prototype via the assignment setter on the plain {} we build into
                        if (key === "__proto__")
                            continue;
                        payload.value[key] = input[key];
                    }
                    else {
                        unrecognized = unrecognized ?? [];
                        unrecognized.push(key);
                    }
                }
            }
            if (unrecognized && unrecognized.length > 0) {
                payload.issues.push({
                    code: "unrecognized_keys",
                    input,
                    inst,
                    keys: unrecognized,
                    continue: true,
                });
            }
        }
        else {
            payload.value = memo ? memo.alloc(inst, payload, {}, ctx) : {};
            // An enumerable key schema declares which keys the record owns, so a key outside the set is unrecognized. A non-enumerable one (regex, refine) is a constraint every key must satisfy, so a failing key is invalid. Only the former is reconcilable against the other side of an intersection.
            let unrecognized;
            // Reflect.ownKeys for Symbol-key support; filter non-enumerable to match z.object()
            for (const key of Reflect.ownKeys(input)) {
                if (key === "__proto__")
                    continue;
                if (!Object.prototype.propertyIsEnumerable.call(input, key))
                    continue;
                let keyResult = def.keyType._zod.run({ value: key, issues: [] }, ctx);
                if (keyResult instanceof Promise) {
                    throw new Error("Async schemas not supported in object keys currently");
                }
                // Numeric string fallback: if key is a numeric string and failed, retry with Number(key). This handles z.number(), z.literal([1, 2, 3]), and unions containing numeric literals
                const checkNumericKey = typeof key === "string" && number.test(key) && keyResult.issues.length;
                if (checkNumericKey) {
                    const retryResult = def.keyType._zod.run({ value: Number(key), issues: [] }, ctx);
                    if (retryResult instanceof Promise) {
                        throw new Error("Async schemas not supported in object keys currently");
                    }
                    if (retryResult.issues.length === 0) {
                        keyResult = retryResult;
                    }
                }
                if (keyResult.issues.length) {
                    if (def.mode === "loose") {
                        // Pass through unchanged
                        payload.value[key] = input[key];
                    }
                    else if (values) {
                        unrecognized = unrecognized ?? [];
                        unrecognized.push(key);
                    }
                    else {
                        // Default "strict" behavior: error on invalid key
                        payload.issues.push({
                            code: "invalid_key",
                            origin: "record",
                            issues: keyResult.issues.map((iss) => finalizeIssue(iss, ctx, config())),
                            input: key,
                            path: [key],
                            inst,
                        });
                    }
                    continue;
                }
                // the guard above tests the raw input key, but the key schema can normalize an ordinary key into __proto__; re-check the key we actually write under
                const outKey = keyResult.value;
                if (outKey === "__proto__")
                    continue;
                const result = def.valueType._zod.run({ value: input[key], issues: [] }, ctx);
                if (result instanceof Promise) {
                    proms.push(result.then((result) => {
                        if (result.issues.length) {
                            payload.issues.push(...prefixIssues(key, result.issues));
                        }
                        payload.value[outKey] = result.value;
                    }));
                }
                else {
                    if (result.issues.length) {
                        payload.issues.push(...prefixIssues(key, result.issues));
                    }
                    payload.value[outKey] = result.value;
                }
            }
            if (unrecognized && unrecognized.length > 0) {
                payload.issues.push({
                    code: "unrecognized_keys",
                    input,
                    inst,
                    keys: unrecognized,
                    continue: true,
                });
            }
        }
        if (proms.length) {
            return Promise.all(proms).then(() => payload);
        }
        return payload;
    };
});
const $ZodEnum = /*@__PURE__*/ $constructor("$ZodEnum", (inst, def) => {
    $ZodType.init(inst, def);
    const values = getEnumValues(def.entries);
    const valuesSet = new Set(values);
    inst._zod.values = valuesSet;
    defineLazyInternal(inst, "pattern", (zod) => {
        const patternValues = getEnumValues(zod.def.entries).filter((k) => propertyKeyTypes.has(typeof k));
        // unmatchable fallback, RE2-safe: an empty alternation would compile to /^()$/, which matches ""
        return new RegExp(patternValues.length ? `^(${patternValues.map((o) => escapeRegex(o.toString())).join("|")})$` : "^[^\\s\\S]$");
    });
    inst._zod.parse = (payload, _ctx) => {
        const input = payload.value;
        if (valuesSet.has(input)) {
            return payload;
        }
        payload.issues.push({
            code: "invalid_value",
            values,
            input,
            inst,
        });
        return payload;
    };
});
const $ZodLiteral = /*@__PURE__*/ $constructor("$ZodLiteral", (inst, def) => {
    $ZodType.init(inst, def);
    const values = new Set(def.values);
    inst._zod.values = values;
    defineLazyInternal(inst, "pattern", (zod) => {
        const vals = zod.def.values;
        // unmatchable fallback, RE2-safe: an empty alternation would compile to /^()$/, which matches ""
        return new RegExp(vals.length
            ? `^(${vals
                .map((o) => typeof o === "string" ? escapeRegex(o) : o ? escapeRegex(o.toString()) : String(o))
                .join("|")})$`
            : "^[^\\s\\S]$");
    });
    inst._zod.parse = (payload, _ctx) => {
        const input = payload.value;
        if (values.has(input)) {
            return payload;
        }
        payload.issues.push({
            code: "invalid_value",
            values: def.values,
            input,
            inst,
        });
        return payload;
    };
});
function handleOptionalResult(payload, result) {
    // A substituting schema that still failed has no usable answer; yield undefined. Its issues are simply dropped: it ran on a payload of its own, so there is no shared array to truncate and nothing of the caller's to lose with it.
    payload.value = result.issues.length ? undefined : result.value;
    return payload;
}
const $ZodOptional = /*@__PURE__*/ $constructor("$ZodOptional", (inst, def) => {
    $ZodType.init(inst, def);
    // .optional() propagates absence rather than substituting for it, so a defaulted inner keeps its rung.
    defineLazyInternal(inst, "optin", (zod) => zod.def.innerType._zod.optin === "defaulted" ? "defaulted" : "optional");
    inst._zod.optout = "optional";
    defineLazyInternal(inst, "values", (zod) => {
        const values = zod.def.innerType._zod.values;
        return values ? new Set([...values, undefined]) : undefined;
    });
    defineLazyInternal(inst, "pattern", (zod) => {
        const pattern = zod.def.innerType._zod.pattern;
        return pattern ? new RegExp(`^(${cleanRegex(pattern.source)})?$`) : undefined;
    });
    inst._zod.parse = (payload, ctx) => {
        if (payload.value === undefined) {
            // Only the top rung substitutes a value for absence; everything else leaves it intact, which is what .optional() means.
            if (def.innerType._zod.optin !== "defaulted")
                return payload;
            // Its own payload, for the same reason $ZodCatch gets one: a pipe forwards an unrecognized key through the caller's issues array, and this must not read that as the substituting schema failing and drop it.
            const result = def.innerType._zod.run({ value: payload.value, issues: [] }, ctx);
            if (result instanceof Promise)
                return result.then((result) => handleOptionalResult(payload, result));
            return handleOptionalResult(payload, result);
        }
        return def.innerType._zod.run(payload, ctx);
    };
});
const $ZodNullable = /*@__PURE__*/ $constructor("$ZodNullable", (inst, def) => {
    $ZodType.init(inst, def);
    defineLazyInternal(inst, "optin", (zod) => zod.def.innerType._zod.optin);
    defineLazyInternal(inst, "optout", (zod) => zod.def.innerType._zod.optout);
    defineLazyInternal(inst, "pattern", (zod) => {
        const pattern = zod.def.innerType._zod.pattern;
        return pattern ? new RegExp(`^(${cleanRegex(pattern.source)}|null)$`) : undefined;
    });
    defineLazyInternal(inst, "values", (zod) => {
        return zod.def.innerType._zod.values ? new Set([...zod.def.innerType._zod.values, null]) : undefined;
    });
    inst._zod.parse = (payload, ctx) => {
        // Forward direction (decode): allow null to pass through
        if (payload.value === null)
            return payload;
        return def.innerType._zod.run(payload, ctx);
    };
});
const $ZodCustom = /*@__PURE__*/ $constructor("$ZodCustom", (inst, def) => {
    $ZodCheck.init(inst, def);
    $ZodType.init(inst, def);
    inst._zod.parse = (payload, _) => {
        return payload;
    };
    inst._zod.check = (payload) => {
        const input = payload.value;
        const r = def.fn(input);
        if (r instanceof Promise) {
            return r.then((r) => handleRefineResult(r, payload, input, inst));
        }
        handleRefineResult(r, payload, input, inst);
        return;
    };
});
function handleRefineResult(result, payload, input, inst) {
    if (!result) {
        const _iss = {
            code: "custom",
            input,
            inst, // incorporates params.error into issue reporting
            path: [...(inst._zod.def.path ?? [])], // incorporates params.error into issue reporting
            continue: !inst._zod.def.abort,
            // params: inst._zod.def.params,
        };
        if (inst._zod.def.params)
            _iss.params = inst._zod.def.params;
        payload.issues.push(issue(_iss));
    }
}

function snapshotChecks(def) {
    if (def.checks)
        def.checks = [...def.checks];
    return def;
}
// @__NO_SIDE_EFFECTS__
function _string(Class, params) {
    return new Class(snapshotChecks({ type: "string", ...normalizeParams(params) }));
}
// @__NO_SIDE_EFFECTS__
function _guid(Class, params) {
    return new Class({
        type: "string",
        format: "guid",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _int(Class, params) {
    return new Class({
        type: "number",
        check: "number_format",
        abort: false,
        format: "safeint",
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _boolean(Class, params) {
    return new Class({
        type: "boolean",
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _null$1(Class, params) {
    return new Class({
        type: "null",
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _unknown(Class) {
    return new Class({
        type: "unknown",
    });
}
// @__NO_SIDE_EFFECTS__
function _never(Class, params) {
    return new Class({
        type: "never",
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _lte(value, params) {
    return new $ZodCheckLessThan({
        check: "less_than",
        ...normalizeParams(params),
        value,
        inclusive: true,
    });
}
// @__NO_SIDE_EFFECTS__
function _gte(value, params) {
    return new $ZodCheckGreaterThan({
        check: "greater_than",
        ...normalizeParams(params),
        value,
        inclusive: true,
    });
}
// @__NO_SIDE_EFFECTS__
function _maxLength(maximum, params) {
    const ch = new $ZodCheckMaxLength({
        check: "max_length",
        ...normalizeParams(params),
        maximum,
    });
    return ch;
}
// @__NO_SIDE_EFFECTS__
function _minLength(minimum, params) {
    return new $ZodCheckMinLength({
        check: "min_length",
        ...normalizeParams(params),
        minimum,
    });
}
// @__NO_SIDE_EFFECTS__
function _regex(pattern, params) {
    return new $ZodCheckRegex({
        check: "string_format",
        format: "regex",
        ...normalizeParams(params),
        pattern,
    });
}
// same as _custom but defaults to abort:false
// @__NO_SIDE_EFFECTS__
function _refine(Class, fn, _params) {
    const schema = new Class({
        type: "custom",
        check: "custom",
        fn: fn,
        ...normalizeParams(_params),
    });
    return schema;
}

const ZodMiniType = /*@__PURE__*/ $constructor("ZodMiniType", (inst, def) => {
    if (!inst._zod)
        throw new Error("Uninitialized schema in ZodMiniType.");
    $ZodType.init(inst, def);
    inst.def = def;
    inst.type = def.type;
}, {
    // `with` is an alias for `check`: the same function object, not a wrapper.
    get with() {
        return this.check;
    },
    set with(value) {
        own(this, "with", value);
    },
    parse(data, params) {
        return parse$1(this, data, params, { callee: this.parse });
    },
    parseAsync(data, params) {
        return parseAsync(this, data, params, { callee: this.parseAsync });
    },
    safeParse(data, params) {
        return safeParse(this, data, params);
    },
    safeParseAsync(data, params) {
        return safeParseAsync(this, data, params);
    },
    check(...checks) {
        const def = this.def;
        return this.clone({
            ...def,
            checks: [
                ...(def.checks ?? []),
                ...checks.map((ch) => typeof ch === "function" ? { _zod: { check: ch, def: { check: "custom" }, onattach: [] } } : ch),
            ],
        }, { parent: true });
    },
    clone(_def, params) {
        return clone(this, _def, params);
    },
    brand() {
        return this;
    },
    register(reg, meta) {
        reg.add(this, meta);
        return this;
    },
    apply(fn, ...args) {
        return args.length === 0 ? fn(this) : fn(this, ...args);
    },
});
const ZodMiniString = /*@__PURE__*/ $constructor("ZodMiniString", (inst, def) => {
    $ZodString.init(inst, def);
    ZodMiniType.init(inst, def);
});
// @__NO_SIDE_EFFECTS__
function string(params) {
    return _string(ZodMiniString, params);
}
const ZodMiniStringFormat = /*@__PURE__*/ $constructor("ZodMiniStringFormat", (inst, def) => {
    $ZodStringFormat.init(inst, def);
    ZodMiniString.init(inst, def);
});
const ZodMiniGUID = /*@__PURE__*/ $constructor("ZodMiniGUID", (inst, def) => {
    $ZodGUID.init(inst, def);
    ZodMiniStringFormat.init(inst, def);
});
// @__NO_SIDE_EFFECTS__
function guid(params) {
    return _guid(ZodMiniGUID, params);
}
const ZodMiniNumber = /*@__PURE__*/ $constructor("ZodMiniNumber", (inst, def) => {
    $ZodNumber.init(inst, def);
    ZodMiniType.init(inst, def);
});
const ZodMiniNumberFormat = /*@__PURE__*/ $constructor("ZodMiniNumberFormat", (inst, def) => {
    $ZodNumberFormat.init(inst, def);
    ZodMiniNumber.init(inst, def);
});
function int(params) {
    return _int(ZodMiniNumberFormat, params);
}
const ZodMiniBoolean = /*@__PURE__*/ $constructor("ZodMiniBoolean", (inst, def) => {
    $ZodBoolean.init(inst, def);
    ZodMiniType.init(inst, def);
});
// @__NO_SIDE_EFFECTS__
function boolean(params) {
    return _boolean(ZodMiniBoolean, params);
}
const ZodMiniNull = /*@__PURE__*/ $constructor("ZodMiniNull", (inst, def) => {
    $ZodNull.init(inst, def);
    ZodMiniType.init(inst, def);
});
// @__NO_SIDE_EFFECTS__
function _null(params) {
    return _null$1(ZodMiniNull, params);
}
const ZodMiniUnknown = /*@__PURE__*/ $constructor("ZodMiniUnknown", (inst, def) => {
    $ZodUnknown.init(inst, def);
    ZodMiniType.init(inst, def);
});
// @__NO_SIDE_EFFECTS__
function unknown() {
    return _unknown(ZodMiniUnknown);
}
const ZodMiniNever = /*@__PURE__*/ $constructor("ZodMiniNever", (inst, def) => {
    $ZodNever.init(inst, def);
    ZodMiniType.init(inst, def);
});
// @__NO_SIDE_EFFECTS__
function never(params) {
    return _never(ZodMiniNever, params);
}
const ZodMiniArray = /*@__PURE__*/ $constructor("ZodMiniArray", (inst, def) => {
    $ZodArray.init(inst, def);
    ZodMiniType.init(inst, def);
});
// @__NO_SIDE_EFFECTS__
function array(element, params) {
    return new ZodMiniArray({
        type: "array",
        element: element,
        ...normalizeParams(params),
    });
}
const ZodMiniObject = /*@__PURE__*/ $constructor("ZodMiniObject", (inst, def) => {
    $ZodObject.init(inst, def);
    ZodMiniType.init(inst, def);
    installLazyProp(inst, "shape", (self) => self._zod.def.shape, false);
});
// @__NO_SIDE_EFFECTS__
function object(shape, params) {
    const def = {
        type: "object",
        shape: shape ?? {},
        ...normalizeParams(params),
    };
    return new ZodMiniObject(def);
}
// strictObject
// @__NO_SIDE_EFFECTS__
function strictObject(shape, params) {
    return new ZodMiniObject({
        type: "object",
        shape,
        catchall: never(),
        ...normalizeParams(params),
    });
}
// looseObject
// @__NO_SIDE_EFFECTS__
function looseObject(shape, params) {
    return new ZodMiniObject({
        type: "object",
        shape,
        catchall: unknown(),
        ...normalizeParams(params),
    });
}
// object methods
// @__NO_SIDE_EFFECTS__
function extend(schema, shape) {
    return extend$1(schema, shape);
}
const ZodMiniDiscriminatedUnion = /*@__PURE__*/ $constructor("ZodMiniDiscriminatedUnion", (inst, def) => {
    $ZodDiscriminatedUnion.init(inst, def);
    ZodMiniType.init(inst, def);
});
// @__NO_SIDE_EFFECTS__
function discriminatedUnion(discriminator, options, params) {
    return new ZodMiniDiscriminatedUnion({
        type: "union",
        options: options,
        discriminator,
        ...normalizeParams(params),
    });
}
const ZodMiniRecord = /*@__PURE__*/ $constructor("ZodMiniRecord", (inst, def) => {
    $ZodRecord.init(inst, def);
    ZodMiniType.init(inst, def);
});
// @__NO_SIDE_EFFECTS__
function record(keyType, valueType, params) {
    // v3-compat: z.record(valueType, params?) — defaults keyType to z.string()
    if (!valueType || !valueType._zod) {
        return new ZodMiniRecord({
            type: "record",
            keyType: string(),
            valueType: keyType,
            ...normalizeParams(valueType),
        });
    }
    return new ZodMiniRecord({
        type: "record",
        keyType,
        valueType: valueType,
        ...normalizeParams(params),
    });
}
const ZodMiniEnum = /*@__PURE__*/ $constructor("ZodMiniEnum", (inst, def) => {
    $ZodEnum.init(inst, def);
    ZodMiniType.init(inst, def);
    // reuse the parsed value set so a numeric TS enum's reverse-mapping keys stay out
    inst.options = [...inst._zod.values];
});
// @__NO_SIDE_EFFECTS__
function _enum(values, params) {
    const entries = Array.isArray(values) ? Object.fromEntries(values.map((v) => [v, v])) : values;
    return new ZodMiniEnum({
        type: "enum",
        entries,
        ...normalizeParams(params),
    });
}
const ZodMiniLiteral = /*@__PURE__*/ $constructor("ZodMiniLiteral", (inst, def) => {
    $ZodLiteral.init(inst, def);
    ZodMiniType.init(inst, def);
});
// @__NO_SIDE_EFFECTS__
function literal(value, params) {
    return new ZodMiniLiteral({
        type: "literal",
        values: Array.isArray(value) ? value : [value],
        ...normalizeParams(params),
    });
}
const ZodMiniOptional = /*@__PURE__*/ $constructor("ZodMiniOptional", (inst, def) => {
    $ZodOptional.init(inst, def);
    ZodMiniType.init(inst, def);
});
// @__NO_SIDE_EFFECTS__
function optional(innerType) {
    return new ZodMiniOptional({
        type: "optional",
        innerType: innerType,
    });
}
const ZodMiniNullable = /*@__PURE__*/ $constructor("ZodMiniNullable", (inst, def) => {
    $ZodNullable.init(inst, def);
    ZodMiniType.init(inst, def);
});
// @__NO_SIDE_EFFECTS__
function nullable(innerType) {
    return new ZodMiniNullable({
        type: "nullable",
        innerType: innerType,
    });
}
// nullish
// @__NO_SIDE_EFFECTS__
function nullish(innerType) {
    return optional(nullable(innerType));
}
const ZodMiniCustom = /*@__PURE__*/ $constructor("ZodMiniCustom", (inst, def) => {
    $ZodCustom.init(inst, def);
    ZodMiniType.init(inst, def);
});
// refine
// @__NO_SIDE_EFFECTS__
function refine(fn, _params = {}) {
    return _refine(ZodMiniCustom, fn, _params);
}

// Zod schemas of every event payload and REST body: the client parses each event and answer
// with them at the edge. tests/test_js_schemas_drift.py checks them against the server's
// pydantic models; the assertions at the end check them against src/types.ts.
// zod/mini: the same schemas as classic Zod, tree-shakable (the static build is 130 KB, not 300).
const uuid = guid(); // any 8-4-4-4-12 hex uuid, as PostgreSQL accepts (z.uuid() wants RFC variants)
const timestamp = string();
const AIStatus = _enum(["started", "processing", "completed", "failed"]);
const TicketStatus = _enum(["open", "pending", "solved", "closed"]);
const ThreadStatus = _enum(["open", "resolved", "archived"]);
const Thread = object({
    id: uuid,
    ticket_id: uuid,
    subject: string(),
    status: ThreadStatus,
    created_by: uuid,
    created_at: timestamp,
    updated_at: timestamp,
    version: int(),
});
const ThreadNote = object({
    id: uuid,
    thread_id: uuid,
    ticket_id: uuid,
    author_id: uuid,
    body: string(),
    internal: boolean(),
    created_at: timestamp,
    updated_at: timestamp,
    version: int(),
});
const AnyRow = record(string(), unknown());
/** postgres_changes for rows of `row`: {} new exactly on DELETE, null old exactly on INSERT. */
function postgresChanges(row) {
    const base = {
        schema: string(),
        table: string(),
        commit_timestamp: timestamp,
        errors: nullish(array(string())),
    };
    return discriminatedUnion("eventType", [
        object({ ...base, eventType: literal("INSERT"), new: row, old: _null() }),
        object({ ...base, eventType: literal("UPDATE"), new: row, old: row }),
        object({
            ...base,
            eventType: literal("DELETE"),
            new: record(string(), never()),
            old: row,
        }),
    ]);
}
const Ticket = object({
    id: uuid,
    org_id: uuid,
    requester_id: uuid,
    subject: string(),
    status: TicketStatus,
    created_at: timestamp,
    updated_at: timestamp,
    version: int(),
});
const TicketRealtimePayload = postgresChanges(Ticket);
const ThreadRealtimePayload = postgresChanges(Thread);
const NoteRealtimePayload = postgresChanges(ThreadNote);
const AnyRealtimePayload = postgresChanges(AnyRow);
const percent = int().check(_gte(0), _lte(100));
const AIProcessingPayload = object({
    threadId: uuid,
    status: AIStatus,
    progress: nullish(percent),
    error: nullish(string()),
    ticketId: nullish(uuid),
});
const SystemEvent = object({
    type: _enum(["subscribed", "reset", "expired", "shutdown"]),
    message: string(),
    reason: nullish(string()),
    channel: nullish(string()),
    /** The multi-channel stream's `subscribed`: the channels it is live for. */
    channels: nullish(array(string())),
    bindings: nullish(int()),
    connection: nullish(string()),
});
const presenceState = record(string(), unknown());
const PresenceEntry = object({ key: string(), ref: uuid, state: presenceState });
const PresencePayload = object({
    channel: string(),
    type: _enum(["sync", "join", "leave"]),
    presences: array(PresenceEntry),
});
const PresenceTracked = object({ channel: string(), key: string(), ref: uuid, state: presenceState });
const AIState = object({
    thread_id: uuid,
    status: AIStatus,
    progress: nullish(int()),
    error: nullish(string()),
    updated_at: timestamp,
});
const ThreadWithNotes = extend(Thread, {
    notes: array(ThreadNote),
    ai_status: nullish(AIState),
});
/** A REST read's log position, "<tick>-<id>" (an SSE id): start its stream from it. */
const Position = string().check(_regex(/^[0-9]{1,19}-[0-9]{1,19}$/));
const ThreadDetail = extend(ThreadWithNotes, { position: Position });
const ThreadList = object({
    ticket_id: uuid,
    ticket: Ticket,
    threads: array(ThreadWithNotes),
    position: Position,
});
const InboxTicket = extend(Ticket, { ai_statuses: array(AIState) });
const TicketList = object({
    tickets: array(InboxTicket),
    position: Position,
});
// Request bodies are strict, as the server's are (extra="forbid"), and refuse what PostgreSQL
// refuses: text with NUL.
const text = () => string().check(_regex(/^[^\u0000]*$/));
strictObject({
    id: nullish(uuid),
    subject: text().check(_minLength(1), _maxLength(500), _regex(/[^\s\u0000]/)),
});
strictObject({
    id: nullish(uuid),
    body: text().check(_minLength(1)),
    internal: optional(boolean()),
});
strictObject({ body: nullish(text().check(_minLength(1))), internal: nullish(boolean()) })
    .check(refine((edit) => edit.body != null || edit.internal != null, "give body, internal, or both"));
strictObject({
    status: AIStatus,
    progress: nullish(percent),
    error: nullish(text().check(_maxLength(2000))),
})
    .check(refine((s) => s.error == null || s.status === "failed", "an error only with status failed"));
const Problem = object({ field: string(), problem: string() });
const ErrorBody = looseObject({
    error: string(),
    message: string(),
    problems: nullish(array(Problem)),
    current: nullish(ThreadNote),
});
/** The schema of a postgres_changes payload of `table`. */
function changesSchemaFor(table) {
    if (table === "ticket_threads")
        return ThreadRealtimePayload;
    if (table === "ticket_notes")
        return NoteRealtimePayload;
    if (table === "tickets")
        return TicketRealtimePayload;
    return AnyRealtimePayload;
}

/** Any non-2xx answer; `body` is the server's {"error", "message", ...}. */
class HTTPError extends Error {
    status;
    body;
    constructor(status, body) {
        super(body.message || `HTTP ${status}`);
        this.name = "HTTPError";
        this.status = status;
        this.body = body;
    }
}
/** 412: someone else changed the note first. `current` is their version (null if gone). */
class ConflictError extends HTTPError {
    current;
    constructor(message, current, status = 412) {
        super(status, { error: "version_conflict", message, current: current ?? null });
        this.name = "ConflictError";
        this.current = current ?? null;
    }
}
/** 404: the row does not exist, or the caller may not see it. */
class NotFoundError extends HTTPError {
    constructor(body) {
        super(404, body);
        this.name = "NotFoundError";
    }
}
/** 403: the caller may see it but not do this (or the Origin is not allowed). */
class ForbiddenError extends HTTPError {
    constructor(body) {
        super(403, body);
        this.name = "ForbiddenError";
    }
}
/** 400/422: the server refused the request as malformed; `body.problems` says where. */
class ValidationError extends HTTPError {
    constructor(status, body) {
        super(status, body);
        this.name = "ValidationError";
    }
}
/** 429 (or 503 with Retry-After): try again after `retryAfter` seconds. */
class RateLimitedError extends HTTPError {
    retryAfter;
    constructor(status, body, retryAfter) {
        super(status, body);
        this.name = "RateLimitedError";
        this.retryAfter = retryAfter;
    }
}
/** An event or answer from the server that does not match its schema. */
class InvalidPayloadError extends Error {
    payload;
    issues;
    constructor(what, payload, issues) {
        super(`threadcast: invalid ${what}: ${issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")}`);
        this.name = "InvalidPayloadError";
        this.payload = payload;
        this.issues = issues;
    }
}
/** The typed error for a non-2xx answer. */
function errorFor(status, body, retryAfter) {
    if (status === 412)
        return new ConflictError(body.message, body.current ?? null);
    if (status === 404)
        return new NotFoundError(body);
    if (status === 403)
        return new ForbiddenError(body);
    if (status === 400 || status === 422)
        return new ValidationError(status, body);
    if (status === 429 || (status === 503 && retryAfter !== null)) {
        return new RateLimitedError(status, body, retryAfter);
    }
    return new HTTPError(status, body);
}
/** Whether a retry may succeed: network failures, 5xx and rate limits; never another 4xx. */
function isRetryable(error) {
    if (error instanceof RateLimitedError)
        return true;
    if (error instanceof HTTPError)
        return error.status >= 500;
    return !(error instanceof InvalidPayloadError);
}

/** `data` as `schema`'s output, or an InvalidPayloadError naming what was wrong. */
function parse(schema, data, what) {
    const result = schema.safeParse(data);
    if (result.success)
        return result.data;
    const issues = result.error.issues.map((issue) => ({
        path: issue.path.map(String).join("."),
        message: issue.message,
    }));
    throw new InvalidPayloadError(what, data, issues);
}

class Channel {
    host;
    name;
    status;
    /** Every event of the channel up to here has been delivered (or was before `from`). */
    position;
    /** The stream says this channel is live. */
    live = false;
    // Bookkeeping of the channel set (channels.ts): when it joined, on which connection.
    /** @internal */ revision = 0;
    /** @internal */ includedIn;
    /** @internal */ coveredBy;
    bindings = [];
    closed = true;
    pending = [];
    flushTimer;
    statusCallback;
    /** This channel's presence ref: its own presence, one per tab and channel. */
    presenceRef = randomId();
    /** The stream connection this channel is live on (the `subscribed` frame's `connection`). */
    connection;
    presences = new PresenceSet();
    tracker;
    refused = false;
    constructor(host, name, options = {}) {
        this.host = host;
        this.name = name;
        if (options.from !== undefined && !isPosition(options.from)) {
            throw new TypeError(`threadcast: from must be a position <tick>-<id>, not ${JSON.stringify(options.from)}`);
        }
        this.position = options.from;
    }
    on(type, filterOrCallback, maybeCallback) {
        const callback = typeof filterOrCallback === "function" ? filterOrCallback : maybeCallback;
        const filter = typeof filterOrCallback === "function" ? {} : filterOrCallback;
        if (callback)
            this.bindings.push({ type, filter, callback });
        return this;
    }
    /** The server-side subscriptions: one `on` parameter per binding; `presence` when the
     * channel listens to presence or tracks (presence is opt-in on the server too). */
    specs() {
        const specs = this.bindings.flatMap(({ type, filter }) => {
            if (type === "ai_status")
                return ["ai_status"];
            if (type !== "postgres_changes")
                return [];
            const changes = filter;
            const spec = `${changes.event || "*"}:${changes.schema || "public"}.${changes.table}`;
            return [changes.filter ? `${spec}:${changes.filter}` : spec];
        });
        if (this.wantsPresence)
            specs.push("presence");
        return specs;
    }
    get wantsPresence() {
        return this.tracker !== undefined || this.bindings.some((b) => b.type === "presence");
    }
    // Presence ------------------------------------------------------------------------------------
    /** Every presence this viewer sees on the channel: `{ [key]: [{ presence_ref, ...state }] }`. */
    presenceState() {
        return this.presences.state();
    }
    /**
     * Be present on the channel with `state` (a small JSON object; the server caps its size), or
     * change it: the latest state wins, one request is in flight and at most ~4 go per second
     * per client, so calling it on every keystroke is fine. It lives as long as the stream
     * connection; after a reconnect it is tracked again on the new one, and on `pagehide` it
     * ends. Resolves when the server holds this state (or a later one): "ok"; "rate limited"
     * (it is sent again after Retry-After); "error" (refused: 400, 403, 409).
     */
    track(state) {
        const io = this.host.presenceIO?.(this);
        if ((!this.tracker && !io) || (this.refused && this.closed))
            return Promise.resolve("error");
        const first = !this.wantsPresence;
        this.tracker ??= new Tracker(io);
        const result = this.tracker.track(state);
        this.tracker.connected(this.live ? this.connection : undefined);
        // Already on a stream without the presence binding: join again with it.
        if (first && !this.closed)
            this.rebind();
        return result;
    }
    /** End this tab's presence on the channel. */
    untrack() {
        return this.tracker?.untrack() ?? Promise.resolve("ok");
    }
    /** @internal The page is going away (`pagehide`): end the presence now, with keepalive. */
    unload() {
        this.tracker?.unload();
    }
    /** @internal The page is shown again (bfcache): track again. */
    resume() {
        this.tracker?.resume();
    }
    /** @internal Presences a channel of the same name already has on this connection. */
    seedPresence(entries) {
        this.dispatch("presence", { channel: this.name, type: "sync", presences: entries });
    }
    rebind() {
        this.host.detach(this);
        this.host.attach(this);
    }
    get subscribed() {
        return !this.closed;
    }
    /**
     * Join the client's stream. SUBSCRIBED each time the stream is live (again) for this
     * channel; CHANNEL_ERROR when it breaks (the stream retries by itself, unless the server
     * refused the channel (400/403/404), or the token expired or was refused: then it waits for
     * setToken()); TIMED_OUT when the server did not answer in time (it retries); CLOSED on
     * unsubscribe().
     */
    subscribe(statusCallback = () => { }) {
        if (!this.closed)
            return this;
        this.refused = false;
        this.statusCallback = statusCallback;
        this.closed = false;
        this.host.attach(this);
        return this;
    }
    unsubscribe() {
        if (this.closed)
            return;
        void this.tracker?.untrack();
        this.stop();
        this.setStatus("CLOSED");
        this.host.detach(this);
    }
    // Called by the channel set ---------------------------------------------------------------
    /** @internal The server refused the channel: retrying cannot help. */
    refuse(error) {
        if (this.closed)
            return;
        this.refused = true;
        this.tracker?.fail();
        this.stop();
        this.setStatus("CHANNEL_ERROR", error);
        this.host.detach(this);
    }
    /** @internal The stream is live for this channel (again): SUBSCRIBED, once per outage. */
    goLive(event) {
        if (this.closed)
            return;
        // A new connection (also one that replaced the last without going down): track on it.
        this.connection = event.connection ?? undefined;
        this.tracker?.connected(this.connection);
        if (this.live)
            return;
        this.setLive(true);
        this.dispatch("system", event);
        this.setStatus("SUBSCRIBED");
    }
    /** @internal The stream broke; it retries (status null: quietly, the page is paused). */
    goDown(status, error) {
        if (this.closed)
            return;
        this.connection = undefined;
        this.tracker?.connected(undefined);
        if (this.live)
            this.setLive(false);
        if (status)
            this.setStatus(status, error);
    }
    /** @internal One event of this channel's name, validated. Dropped if not after `position`
     * (a replay the channel already has: after a handover between tabs, or before `from`). */
    receive(event, payload, id) {
        if (this.closed)
            return;
        if (id !== undefined) {
            if (!isAfter(id, this.position))
                return;
            this.position = id;
        }
        this.dispatch(event, payload);
    }
    /** @internal Every event of the channel up to `position` has been delivered. */
    advance(position) {
        this.position = laterPosition(this.position, position);
    }
    // -------------------------------------------------------------------------------------------
    stop() {
        this.closed = true;
        this.live = false;
        this.connection = undefined;
        this.tracker?.connected(undefined);
        this.presences.clear();
        clearTimeout(this.flushTimer);
        this.flushTimer = undefined;
        this.pending = [];
    }
    setStatus(status, error) {
        // SUBSCRIBED repeats after every resume; errors are reported each time.
        if (status === "CLOSED" && this.status === "CLOSED")
            return;
        this.status = status;
        try {
            this.statusCallback?.(status, error);
        }
        catch (e) {
            console.error("threadcast: a status callback failed", e);
        }
    }
    setLive(live) {
        this.live = live;
        this.host.changed();
    }
    dispatch(type, payload) {
        const interval = this.host.throttleMs;
        // A system event with nothing waiting goes at once: a `subscribed` must not open a
        // throttle window that cuts the first burst after it in two.
        if (!(interval > 0) || (type === "system" && !this.pending.length)) {
            this.deliver(type, payload);
            return;
        }
        // Client-side throttling: a burst is delivered together, in order, at most once per
        // interval, so a UI re-renders once per burst instead of once per event.
        this.pending.push([type, payload]);
        this.flushTimer ??= setTimeout(() => {
            const batch = this.pending;
            this.pending = [];
            this.flushTimer = undefined;
            for (const [t, p] of batch)
                this.deliver(t, p);
        }, interval);
    }
    deliver(type, payload) {
        if (type === "presence") {
            // The state changes once per frame, whoever listens; then each event to its bindings.
            for (const event of this.presences.apply(payload))
                this.deliverPresence(event);
            return;
        }
        for (const { type: wanted, filter: anyFilter, callback } of this.bindings) {
            if (wanted !== type)
                continue;
            const filter = anyFilter;
            if (type === "postgres_changes") {
                const change = payload;
                if (filter.table && filter.table !== change.table)
                    continue;
                if ((filter.schema || "public") !== change.schema)
                    continue;
                if (filter.event && filter.event !== "*" && filter.event !== change.eventType)
                    continue;
                const row = change.eventType === "DELETE" ? change.old : change.new;
                if (!matchesFilter(filter.filter, row))
                    continue;
            }
            try {
                callback(payload);
            }
            catch (error) {
                console.error("threadcast: a callback failed", error);
            }
        }
    }
    deliverPresence(event) {
        for (const { type, filter, callback } of this.bindings) {
            if (type !== "presence" || filter.event !== event.event)
                continue;
            try {
                callback(event);
            }
            catch (error) {
                console.error("threadcast: a presence callback failed", error);
            }
        }
    }
}
/** A frame's parsed JSON, checked by its event's schema (unknown events pass as they are); a
 * payload that breaks its schema is an InvalidPayloadError. */
function validate(event, data) {
    let schema;
    if (event === "postgres_changes") {
        const table = typeof data === "object" && data !== null ? data.table : undefined;
        schema = changesSchemaFor(typeof table === "string" ? table : "");
    }
    else if (event === "ai_status")
        schema = AIProcessingPayload;
    else if (event === "system")
        schema = SystemEvent;
    else if (event === "presence")
        schema = PresencePayload;
    return schema ? parse(schema, data, `${event} event`) : data;
}

class ChannelSet {
    /** Bumped on every join and leave; a connection carries the set as of one revision. */
    revision = 0;
    byName = new Map();
    current;
    /** Per name, the presences of the connection `generation` (for channels joining it). */
    presence = new Map();
    all() {
        return [...this.byName.values()].flatMap((set) => [...set]);
    }
    get size() {
        return this.byName.size;
    }
    /** Add `channel`; true when the stream must reconnect to carry it. */
    add(channel, join) {
        this.revision += 1;
        channel.revision = this.revision;
        channel.includedIn = undefined;
        channel.coveredBy = undefined;
        let set = this.byName.get(channel.name);
        if (!set)
            this.byName.set(channel.name, (set = new Set()));
        set.add(channel);
        const now = join?.(channel.name, channel.specs());
        if (!now)
            return true;
        if (channel.position === undefined) {
            channel.position = now.position; // it starts where the stream is
        }
        else if (now.position === undefined || isAfter(now.position, channel.position)) {
            return true; // it needs events from before where the connection is: a replay
        }
        channel.includedIn = now.generation;
        if (channel.position === undefined)
            channel.position = now.position;
        const live = this.current;
        if (now.live && live && live.generation === now.generation && live.names.has(channel.name)) {
            channel.coveredBy = now.generation;
            channel.goLive(live.event);
            const presence = this.presence.get(channel.name);
            if (presence?.generation === now.generation && channel.specs().includes("presence")) {
                channel.seedPresence(presence.set.snapshot());
            }
        }
        return false;
    }
    /** Remove `channel`; true when its name left the set (the stream may drop it). */
    remove(channel) {
        this.revision += 1;
        const set = this.byName.get(channel.name);
        if (!set?.delete(channel))
            return false;
        if (set.size)
            return false;
        this.byName.delete(channel.name);
        this.presence.delete(channel.name);
        return true;
    }
    /**
     * Each name once: the union of its channels' bindings, and `from`: the earliest position of
     * its channels not on `generation` (all of them when the stream is new: a handover).
     */
    wanted(generation) {
        return [...this.byName].map(([name, set]) => {
            const specs = new Set();
            let from;
            let pending = false;
            for (const channel of set) {
                for (const spec of channel.specs())
                    specs.add(spec);
                if (channel.includedIn !== generation || generation === undefined) {
                    pending = true;
                    from = earlierPosition(from, channel.position);
                }
            }
            return { name, specs: [...specs].sort(), from, pending };
        });
    }
    /** Connection `generation` carries the set as of `revision` (this tab's own, by default). */
    connecting(generation, revision = this.revision) {
        for (const channel of this.all()) {
            if (channel.revision <= revision)
                channel.includedIn = generation;
        }
    }
    frame(generation, event, name, payload, id) {
        if (event === "presence" && name !== undefined && this.byName.has(name)) {
            let held = this.presence.get(name);
            if (held?.generation !== generation)
                this.presence.set(name, (held = { generation, set: new PresenceSet() }));
            held.set.apply(payload);
        }
        if (name !== undefined) {
            for (const channel of this.byName.get(name) ?? []) {
                if (channel.includedIn === generation)
                    channel.receive(event, payload, id);
            }
        }
        else {
            // A system frame (reset, shutdown, expired) is for every channel of the connection.
            for (const channel of this.all()) {
                if (channel.includedIn === generation)
                    channel.receive(event, payload, undefined);
            }
        }
        if (id === undefined)
            return;
        for (const channel of this.all())
            if (channel.coveredBy === generation)
                channel.advance(id);
    }
    live(generation, names, event, id) {
        this.current = { generation, names: new Set(names), event };
        for (const name of names) {
            for (const channel of this.byName.get(name) ?? []) {
                if (channel.includedIn !== generation)
                    continue;
                channel.coveredBy = generation;
                channel.advance(id);
                channel.goLive(event);
            }
        }
    }
    down(status, error) {
        this.current = undefined;
        for (const channel of this.all())
            channel.goDown(status, error);
    }
    /** The server refused these names: their channels fail (and leave the set). */
    refused(names, error) {
        for (const name of names)
            for (const channel of [...(this.byName.get(name) ?? [])])
                channel.refuse(error);
    }
}

const MAX_BACKOFF_MS$1 = 30000;
const isOffline$1 = () => globalThis.navigator?.onLine === false;
class WriteQueue {
    perform;
    items = [];
    flushing = false;
    retryTimer;
    constructor(perform) {
        this.perform = perform;
    }
    get length() {
        return this.items.length;
    }
    push(request) {
        return new Promise((resolve, reject) => {
            const item = { request, resolve: resolve, reject, attempt: 0 };
            this.items.push(item);
            // An aborted write that is still waiting is dropped; one in flight is aborted by fetch.
            request.signal?.addEventListener("abort", () => {
                const index = this.items.indexOf(item);
                if (index > 0 || (index === 0 && !this.flushing))
                    this.items.splice(index, 1);
                if (index >= 0)
                    reject(request.signal?.reason);
            }, { once: true });
            void this.flush();
        });
    }
    /**
     * Send what is queued, in order. A network failure (fetch rejects with TypeError) keeps the
     * write for a retry under jittered backoff; the server may have done it already, so the
     * retry meets its own earlier attempt: creates are replayed by id, and `recover` turns the
     * retry's error into the earlier attempt's result.
     */
    async flush() {
        if (this.flushing)
            return;
        this.flushing = true;
        clearTimeout(this.retryTimer);
        try {
            while (this.items.length && !isOffline$1()) {
                const item = this.items[0];
                try {
                    item.resolve(await this.perform(item.request));
                }
                catch (error) {
                    if (error instanceof TypeError && !item.request.signal?.aborted) {
                        item.attempt += 1;
                        const cap = Math.min(MAX_BACKOFF_MS$1, 1000 * 2 ** Math.min(item.attempt - 1, 10));
                        this.retryTimer = setTimeout(() => void this.flush(), Math.random() * cap);
                        return;
                    }
                    const earlier = item.attempt > 0 ? item.request.recover?.(error) : undefined;
                    if (earlier === undefined)
                        item.reject(error);
                    else
                        item.resolve(earlier);
                }
                this.items.shift();
            }
        }
        finally {
            this.flushing = false;
        }
    }
    /** Reject everything still queued. */
    close() {
        clearTimeout(this.retryTimer);
        for (const item of this.items.splice(0))
            item.reject(new Error("client closed"));
    }
}

/** Perform one request with `fetchFn`: the parsed answer, or a typed error. */
async function perform(fetchFn, baseUrl, token, request) {
    const headers = { ...request.headers };
    if (token !== undefined)
        headers.Authorization = `Bearer ${token}`;
    if (request.body !== undefined)
        headers["Content-Type"] = "application/json";
    const init = { method: request.method, headers, cache: "no-store" };
    if (request.body !== undefined)
        init.body = JSON.stringify(request.body);
    if (request.signal)
        init.signal = request.signal;
    const response = await fetchFn(`${baseUrl}${request.path}`, init);
    if (response.ok) {
        if (request.schema === null || response.status === 204)
            return null;
        return parse(request.schema, await response.json(), `answer to ${request.method} ${request.path}`);
    }
    const data = await response.json().catch(() => ({}));
    const checked = ErrorBody.safeParse(data);
    const body = checked.success
        ? checked.data
        : { error: "http_error", message: `HTTP ${response.status}` };
    const retryAfter = response.headers.get("Retry-After");
    throw errorFor(response.status, body, retryAfter === null ? null : Number(retryAfter) || 0);
}
/** Whether a retried edit's 412 shows the edit itself: the next version, with the patch. */
function isOwnEdit(error, version, patch) {
    const current = error instanceof ConflictError ? error.current : null;
    return (current !== null &&
        current.version === version + 1 &&
        Object.entries(patch).every(([field, value]) => value === undefined || current[field] === value));
}
function restApi(send) {
    return {
        listTickets: ({ orgId, limit, signal } = {}) => {
            const query = new URLSearchParams();
            if (orgId !== undefined)
                query.set("org_id", orgId);
            if (limit !== undefined)
                query.set("limit", String(limit));
            const search = query.toString();
            const path = search ? `/v1/tickets?${search}` : "/v1/tickets";
            return send({ method: "GET", path, schema: TicketList, signal }, false);
        },
        listThreads: (ticketId, { signal } = {}) => send({ method: "GET", path: `/v1/tickets/${ticketId}/threads`, schema: ThreadList, signal }, false),
        getThread: (threadId, { signal } = {}) => send({ method: "GET", path: `/v1/threads/${threadId}`, schema: ThreadDetail, signal }, false),
        createThread: (ticketId, subject, { id = randomId(), signal } = {}) => send({
            method: "POST", path: `/v1/tickets/${ticketId}/threads`, body: { id, subject },
            schema: ThreadWithNotes, signal,
        }, true),
        addNote: (threadId, body, internal = false, { id = randomId(), signal } = {}) => send({
            method: "POST", path: `/v1/threads/${threadId}/notes`, body: { id, body, internal },
            schema: ThreadNote, signal,
        }, true),
        editNote: (noteId, version, patch, { signal } = {}) => send({
            method: "PATCH", path: `/v1/notes/${noteId}`, body: patch,
            headers: { "If-Match": String(version) }, schema: ThreadNote, signal,
            recover: (error) => (isOwnEdit(error, version, patch) ? error.current ?? undefined : undefined),
        }, true),
        deleteNote: (noteId, version, { signal } = {}) => send({
            method: "DELETE", path: `/v1/notes/${noteId}`,
            headers: version === undefined ? {} : { "If-Match": String(version) }, schema: null, signal,
            recover: (error) => (error instanceof NotFoundError ? null : undefined),
        }, true),
        setAIStatus: (threadId, status, progress, error, { signal } = {}) => send({
            method: "POST", path: `/v1/threads/${threadId}/ai-status`, body: { status, progress, error },
            schema: AIState, signal,
        }, true),
    };
}

/**
 * An incremental parser for text/event-stream, per the HTML standard: lines end in CRLF, LF or
 * CR; `:` starts a comment; `data` lines join with "\n"; `id` (without NUL) and `retry`
 * (digits only) are remembered; unknown fields are ignored; a blank line ends an event.
 * feed() takes decoded text in arbitrary pieces and returns the blocks it completed.
 */
class SSEParser {
    buffer = "";
    started = false;
    data = [];
    event = "";
    id;
    retry;
    block() {
        this.data = [];
        this.event = "";
        this.id = undefined;
        this.retry = undefined;
    }
    feed(text) {
        const out = [];
        this.buffer += text;
        if (!this.started && this.buffer.length) {
            this.started = true;
            if (this.buffer[0] === "\uFEFF")
                this.buffer = this.buffer.slice(1); // one leading BOM
        }
        let pos = 0;
        for (;;) {
            const cr = this.buffer.indexOf("\r", pos);
            const lf = this.buffer.indexOf("\n", pos);
            const end = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
            if (end < 0)
                break;
            let next = end + 1;
            if (end === cr) {
                // A CR as the last character may be the first half of a CRLF split across chunks:
                // wait for the next chunk rather than read its LF as a second, blank line.
                if (next === this.buffer.length)
                    break;
                if (this.buffer[next] === "\n")
                    next += 1;
            }
            this.line(this.buffer.slice(pos, end), out);
            pos = next;
        }
        this.buffer = this.buffer.slice(pos);
        return out;
    }
    /** The stream ended: a held-back CR still ends its line; an unfinished event is dropped. */
    end() {
        const out = [];
        if (this.buffer.endsWith("\r"))
            this.line(this.buffer.slice(0, -1), out);
        this.buffer = "";
        this.block();
        return out;
    }
    line(line, out) {
        if (line === "") {
            if (this.data.length || this.id !== undefined || this.retry !== undefined) {
                const frame = {
                    event: this.event || "message",
                    data: this.data.length ? this.data.join("\n") : null,
                };
                if (this.id !== undefined)
                    frame.id = this.id;
                if (this.retry !== undefined)
                    frame.retry = this.retry;
                out.push(frame);
            }
            this.block();
            return;
        }
        if (line[0] === ":")
            return; // a comment: the server's heartbeat
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value[0] === " ")
            value = value.slice(1);
        if (field === "data")
            this.data.push(value);
        else if (field === "event")
            this.event = value;
        else if (field === "id" && !value.includes("\0"))
            this.id = value;
        else if (field === "retry" && /^\d+$/.test(value))
            this.retry = Number(value);
    }
}

// One SSE connection for every channel of a client (and, through tabs.ts, of every tab):
//   GET /v1/stream?channel=a&channel=b&on.a=<spec>&from.b=<position>   Last-Event-ID: <position>
// It owns the connection: which channels it carries and from where, reconnection (Last-Event-ID,
// jittered backoff, pausing, token renewal), a debounced reconnect when the set of channels
// changes, and routing each frame by its `channel` key. Fetch, not EventSource: the token stays
// in a header and reconnects are ours.
//
// Positions, exactly: on a connection, channel c starts after s(c) (from.c, else Last-Event-ID,
// else live) and the server sends c's events after s(c) in log order, interleaved with the
// others'. So once a frame with id x has arrived, c has every event of its own up to x, whatever
// channel the frame was for: pos(c) = max(pos(c), x). A live-started channel has a position
// only from `subscribed` (whose id is where the stream is live from). A reconnect sends the
// most common position as Last-Event-ID and from.c for every channel elsewhere, so nothing is
// lost or repeated on any channel, including one whose `from` is before the others'.
const MAX_BACKOFF_MS = 30000;
/** Channel changes within this long are one reconnect. */
const CHANGE_DEBOUNCE_MS = 50;
/** The channels a refusal is about: the body's `channel`, else those its message quotes,
 * else (a refusal of the whole request) all of them. */
function refusedChannels(body, names, accepted) {
    const named = body.channel;
    if (typeof named === "string" && names.includes(named))
        return [named];
    if (body.error === "too_many_channels") {
        // "... 101 > 100": the channels past the cap leave, newest first; the others go on.
        const cap = Number(/>\s*(\d+)/.exec(body.message)?.[1]);
        if (Number.isInteger(cap) && cap > 0 && cap < names.length)
            return names.slice(cap);
        const added = names.filter((n) => !accepted.has(n));
        return added.length ? added : names;
    }
    const quoted = names.filter((n) => body.message.includes(`'${n}'`) || body.message.includes(`"${n}"`));
    return quoted.length ? quoted : names;
}
/** The server's default cap on a query string (THREADCAST_MAX_QUERY_BYTES), with room to spare. */
const MAX_QUERY_BYTES = 8000;
// `:` and `,` need no escaping in a query: channel names and bindings stay readable and short.
const encode = (text) => encodeURIComponent(text).replace(/%3A/gi, ":").replace(/%2C/gi, ",");
/**
 * The URL query and Last-Event-ID of a connection with these starts (see the module doc). The
 * query stays under `maxBytes`: past it, channels lose their `on.` bindings (the server then
 * sends all of the channel's events, and each channel's own bindings filter them here), then
 * the `from.` starts give way to the earliest start as Last-Event-ID (a longer replay, whose
 * repeats each channel drops by its position).
 */
function streamRequest(wanted, starts, maxBytes = MAX_QUERY_BYTES) {
    const counts = new Map();
    for (const start of starts.values())
        if (start !== undefined)
            counts.set(start, (counts.get(start) ?? 0) + 1);
    let lastEventId;
    let most = 0;
    for (const [start, n] of counts) {
        if (n > most || (n === most && lastEventId !== undefined && laterPosition(start, lastEventId) === start)) {
            lastEventId = start;
            most = n;
        }
    }
    const parts = wanted.map(({ name }) => `channel=${encode(name)}`);
    let used = parts.join("&").length;
    const froms = [];
    for (const { name } of wanted) {
        const start = starts.get(name);
        if (start !== undefined && start !== lastEventId)
            froms.push(`from.${encode(name)}=${start}`);
    }
    const fromBytes = froms.reduce((n, f) => n + f.length + 1, 0);
    if (used + fromBytes <= maxBytes) {
        parts.push(...froms);
        used += fromBytes;
    }
    else {
        let earliest;
        for (const start of starts.values())
            earliest = earlierPosition(earliest, start);
        lastEventId = earliest;
    }
    const unfiltered = new Set();
    for (const { name, specs } of wanted) {
        const ons = specs.map((spec) => `on.${encode(name)}=${encode(spec)}`);
        const bytes = ons.reduce((n, o) => n + o.length + 1, 0);
        if (used + bytes > maxBytes) {
            unfiltered.add(name); // all of its events; its channels filter them
            continue;
        }
        parts.push(...ons);
        used += bytes;
    }
    return { query: parts.join("&"), lastEventId, unfiltered };
}
class Stream {
    host;
    sink;
    /** Connections are named `<stream id>/<n>`: unique across tabs, which hand streams over. */
    id = randomId();
    connections = 0;
    generation = "";
    /** The latest position the stream has seen. */
    cursor;
    /** The current connection said `subscribed`. */
    live = false;
    wakeUp;
    positions = new Map();
    /** The names on the current connection, with their bindings ("all": none were sent). */
    carried = new Map();
    accepted = new Set();
    abort;
    replacing = false;
    running = false;
    closed = false;
    debounce;
    constructor(host, sink) {
        this.host = host;
        this.sink = sink;
    }
    /**
     * The set of channels changed: reconnect with the new one, at most once per debounce. A
     * stream not running starts at the end of this task (the channels subscribed together in it
     * share the first connection), or after `delayMs`.
     */
    changed(delayMs = this.running ? CHANGE_DEBOUNCE_MS : 0) {
        if (this.closed)
            return;
        if (this.debounce && !this.running && delayMs === 0)
            return; // a start is coming
        clearTimeout(this.debounce);
        this.debounce = setTimeout(() => {
            this.debounce = undefined;
            if (!this.running)
                void this.run();
            else if (this.abort && this.differs(this.sink.wanted())) {
                this.replacing = true;
                this.abort.abort();
            }
        }, delayMs);
    }
    /**
     * Whether a channel of `name` with `specs` can join the current connection as it is: it
     * carries the name with those bindings. Then its events flow now, from `position` on.
     */
    carries(name, specs) {
        const carried = this.carried.get(name);
        if (!this.abort || !carried || (carried !== "all" && !specs.every((s) => carried.has(s))))
            return undefined;
        return { generation: this.generation, position: this.positions.get(name) };
    }
    /** Whether `wanted` needs another connection than the current one. */
    differs(wanted) {
        if (wanted.length !== this.carried.size)
            return true;
        return wanted.some(({ name, specs, pending }) => {
            const carried = this.carried.get(name);
            if (pending || !carried)
                return true;
            return carried !== "all" && (carried.size !== specs.length || !specs.every((s) => carried.has(s)));
        });
    }
    /** Whether the current connection is live for `name`. */
    isLive(name) {
        return this.live && this.positions.has(name);
    }
    /** Close the current connection (the page is hidden); the loop waits, then resumes. */
    interrupt() {
        this.abort?.abort();
    }
    close() {
        this.closed = true;
        clearTimeout(this.debounce);
        this.abort?.abort();
        this.wakeUp?.();
    }
    /** Connect, read, and reconnect until there is nothing to carry or the stream is closed. */
    async run() {
        this.running = true;
        let attempt = 0; // failures since the last `subscribed`
        let retryMs = 1000; // the server's `retry:` hint: the base of the backoff
        try {
            while (!this.closed) {
                if (this.host.paused) {
                    await this.host.sleep(Infinity, this); // until the page is visible again
                    attempt = 0;
                    continue;
                }
                const wanted = this.sink.wanted();
                if (!wanted.length)
                    return;
                const tokenEpoch = this.host.tokenEpoch;
                const outcome = await this.connect(wanted, (ms) => (retryMs = ms), () => (attempt = 0));
                this.live = false;
                if (this.closed)
                    return;
                if (outcome.restart)
                    continue; // a new set of channels: reconnect now, nothing to report
                if (outcome.refused) {
                    this.sink.refused(outcome.refused, outcome.error ?? new Error("refused"));
                    continue; // the others go on at once
                }
                if (outcome.needsToken && !this.host.tokenIsFunction) {
                    // A fixed token expired or was refused: wait for setToken(), then resume.
                    this.sink.down("CHANNEL_ERROR", outcome.error);
                    while (!this.closed && this.host.tokenEpoch === tokenEpoch)
                        await this.host.sleep(Infinity, this);
                    attempt = 0;
                    continue;
                }
                if (this.host.paused) {
                    this.sink.down(null);
                    continue;
                }
                this.sink.down(outcome.timedOut ? "TIMED_OUT" : "CHANNEL_ERROR", outcome.error);
                // Exponential backoff with full jitter: a restarted server is not hit by every client
                // at once. Retry-After (429, 503) is a floor. `online` or a visible page cut it short.
                attempt += 1;
                const cap = Math.min(MAX_BACKOFF_MS, retryMs * 2 ** Math.min(attempt - 1, 10));
                await this.host.sleep(Math.max(outcome.retryAfterMs || 0, Math.random() * cap), this);
            }
        }
        finally {
            this.running = false;
            this.abort = undefined;
            this.carried = new Map();
            // Changes that came while it was stopping still get a stream.
            if (!this.closed && this.sink.wanted().length && !this.debounce)
                this.changed();
        }
    }
    /** Where each wanted channel starts on the next connection. */
    starts(wanted) {
        const starts = new Map();
        for (const { name, from } of wanted) {
            // A channel already carried continues where it is (or earlier, for a joining snapshot);
            // a new one starts at `from`, else where the stream is.
            const start = this.positions.has(name) ? this.positions.get(name) : this.cursor;
            starts.set(name, earlierPosition(start, from));
        }
        return starts;
    }
    /** One connection, start to end. Resolves to what happened; never rejects. */
    async connect(wanted, setRetry, onSubscribed) {
        const abort = new AbortController();
        this.abort = abort;
        this.replacing = false;
        this.connections += 1;
        this.generation = `${this.id}/${this.connections}`;
        const generation = this.generation;
        const starts = this.starts(wanted);
        const { query, lastEventId, unfiltered } = streamRequest(wanted, starts);
        // A channel with no start of its own starts at Last-Event-ID, as the server reads it.
        for (const [name, start] of starts)
            if (start === undefined && lastEventId)
                starts.set(name, lastEventId);
        this.positions = starts;
        this.carried = new Map(wanted.map((w) => [w.name, unfiltered.has(w.name) ? "all" : new Set(w.specs)]));
        this.sink.connecting(generation);
        let timedOut = false;
        let idle;
        const startTimer = setTimeout(() => {
            timedOut = true;
            abort.abort();
        }, this.host.subscribeTimeoutMs);
        const alive = () => {
            clearTimeout(idle);
            idle = setTimeout(() => abort.abort(), this.host.idleTimeoutMs);
        };
        try {
            const headers = { Authorization: `Bearer ${await this.host.currentToken()}` };
            if (lastEventId)
                headers["Last-Event-ID"] = lastEventId;
            const url = `${this.host.baseUrl}/v1/stream?${query}`;
            const response = await this.host.fetch(url, { headers, signal: abort.signal, cache: "no-store" });
            if (!response.ok || !response.body) {
                clearTimeout(startTimer);
                const body = await response.json().catch(() => ({}));
                const checked = ErrorBody.safeParse(body);
                const errorBody = checked.success
                    ? checked.data
                    : { error: "http_error", message: `HTTP ${response.status}` };
                const retryAfter = Number(response.headers.get("Retry-After")) || 0;
                const error = errorFor(response.status, errorBody, response.headers.has("Retry-After") ? retryAfter : null);
                if (response.status === 401)
                    return { needsToken: true, error };
                if ([400, 403, 404].includes(response.status)) {
                    // Retrying cannot fix these: the channels they name leave, the others go on.
                    return { refused: refusedChannels(errorBody, wanted.map((w) => w.name), this.accepted), error };
                }
                return { error, retryAfterMs: retryAfter * 1000 };
            }
            this.accepted = new Set(wanted.map((w) => w.name));
            const reader = response.body.getReader();
            const decoder = new TextDecoder();
            const parser = new SSEParser();
            alive();
            for (;;) {
                const { value, done } = await reader.read();
                clearTimeout(startTimer); // the server answered; from here the idle timer watches
                alive();
                const frames = done ? parser.end() : parser.feed(decoder.decode(value, { stream: true }));
                for (const frame of frames) {
                    const stop = this.handle(generation, frame, setRetry, onSubscribed);
                    if (stop) {
                        abort.abort();
                        return stop;
                    }
                }
                if (done)
                    return { error: new Error("the server ended the stream") };
            }
        }
        catch (error) {
            if (this.replacing)
                return { restart: true };
            if (timedOut)
                return { timedOut, error: new Error("no answer from the server") };
            return { error: error instanceof Error ? error : new Error(String(error)) };
        }
        finally {
            clearTimeout(startTimer);
            clearTimeout(idle);
        }
    }
    /** One parsed frame; returns an outcome when the connection should end here. */
    handle(generation, frame, setRetry, onSubscribed) {
        if (frame.retry !== undefined)
            setRetry(frame.retry);
        const id = frame.id && isPosition(frame.id) ? frame.id : undefined;
        let stop;
        if (frame.data !== null)
            stop = this.route(generation, frame.event, frame.data, id, onSubscribed);
        if (id !== undefined) {
            // Every channel carried here now has all of its events up to `id` (see the module doc).
            this.cursor = laterPosition(this.cursor, id);
            for (const [name, position] of this.positions) {
                if (position !== undefined)
                    this.positions.set(name, laterPosition(position, id));
            }
        }
        return stop;
    }
    route(generation, event, data, id, onSubscribed) {
        let payload;
        let channel;
        try {
            let parsed;
            try {
                parsed = JSON.parse(data);
            }
            catch {
                throw new InvalidPayloadError(`${event} frame`, data, [{ path: "", message: "not JSON" }]);
            }
            if ((event === "postgres_changes" || event === "ai_status") && typeof parsed === "object" && parsed !== null) {
                // The multiplexed stream's routing key: the channel's own schema knows nothing of it.
                const { channel: key, ...rest } = parsed;
                if (typeof key !== "string") {
                    throw new InvalidPayloadError(`${event} frame`, data, [{ path: "channel", message: "missing" }]);
                }
                channel = key;
                parsed = rest;
            }
            else if (event === "presence" && typeof parsed === "object" && parsed !== null) {
                // Presence (no id: never replayed) keeps its `channel`: it is part of the payload.
                const key = parsed.channel;
                if (typeof key === "string")
                    channel = key;
            }
            payload = validate(event, parsed);
        }
        catch (error) {
            // Never a crash, never a silent pass: the frame is skipped and reported.
            this.host.reportError(error instanceof Error ? error : new Error(String(error)));
            return undefined;
        }
        if (event !== "system") {
            if (channel !== undefined && this.positions.has(channel))
                this.sink.frame(generation, event, channel, payload, id);
            return undefined;
        }
        const system = payload;
        if (system.type === "subscribed") {
            const listed = system.channels;
            const names = Array.isArray(listed)
                ? listed.filter((n) => typeof n === "string" && this.positions.has(n))
                : [...this.positions.keys()];
            for (const name of names)
                this.positions.set(name, laterPosition(this.positions.get(name), id));
            this.live = true;
            onSubscribed();
            this.sink.live(generation, names, system, id);
            this.host.subscribed();
            return undefined;
        }
        this.sink.frame(generation, event, undefined, payload, id);
        if (system.type === "expired")
            return { needsToken: true, error: new Error(system.message) };
        // `reset` and `shutdown` are followed by the server closing the stream (a cursor_* reset
        // continues instead); both resume from the positions.
        return undefined;
    }
}

/** Whether this runtime can share a stream between tabs (Web Locks and BroadcastChannel). */
function canShareTabs() {
    const nav = globalThis.navigator;
    return typeof globalThis.BroadcastChannel === "function" && typeof nav?.locks?.request === "function";
}
/** Who the token is for (its `sub`), to key the shared stream by user; else a digest of it. */
function tokenUser(token) {
    try {
        const part = token.split(".")[1] ?? "";
        const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
        const claims = JSON.parse(json);
        if (typeof claims.sub === "string")
            return `${String(claims.role ?? "")}:${claims.sub}`;
    }
    catch {
        // not a JWT: fall through
    }
    let hash = 2166136261; // FNV-1a: two tabs share only with the very same opaque token
    for (let i = 0; i < token.length; i++)
        hash = Math.imul(hash ^ token.charCodeAt(i), 16777619) >>> 0;
    return `token:${hash.toString(16)}`;
}
const toWire = (error) => error && (error instanceof HTTPError ? { message: error.message, status: error.status, body: error.body } : { message: error.message });
const fromWire = (error) => error && (error.status && error.body ? errorFor(error.status, error.body, null) : new Error(error.message));
class TabShare {
    host;
    channels = new ChannelSet();
    tab = randomId();
    /** This tab holds the stream. */
    leading = false;
    bus;
    stop = new AbortController();
    releaseLeadership;
    releaseTab;
    reportQueued = false;
    closed = false;
    // As a follower: the connection this tab's channels are on.
    generation;
    // As the leader:
    stream;
    reports = new Map();
    carried = new Map();
    watched = new Set();
    constructor(host) {
        this.host = host;
        void this.start();
    }
    async start() {
        const key = `${this.host.baseUrl}:${tokenUser(await this.host.currentToken())}`;
        if (this.closed)
            return;
        const locks = navigator.locks;
        // Our own lock first: the leader watches it to know when this tab is gone.
        await new Promise((granted) => {
            void locks.request(`threadcast-tab:${this.tab}`, { signal: this.stop.signal }, () => {
                granted();
                return new Promise((release) => (this.releaseTab = release));
            }).catch(() => granted());
        });
        if (this.closed)
            return;
        this.bus = new BroadcastChannel(`threadcast:${key}`);
        this.bus.onmessage = (event) => this.receive(event.data);
        this.report();
        const leader = `threadcast-leader:${key}`;
        const hold = (takeover) => (lock) => {
            if (this.closed || !lock)
                return undefined;
            this.lead(takeover);
            return new Promise((release) => (this.releaseLeadership = release));
        };
        // Free at once: no tab had a stream (every other tab would be waiting in the lock's
        // queue), so it starts now. Else queue: granted when the holder goes, to take over.
        let first = false;
        await locks.request(leader, { ifAvailable: true, signal: this.stop.signal }, (lock) => {
            first = lock !== null;
            return hold(false)(lock);
        }).catch(() => { });
        if (first || this.closed)
            return;
        void locks.request(leader, { signal: this.stop.signal }, hold(true)).catch(() => { }); // aborted by close()
    }
    // The client's side ---------------------------------------------------------------------
    attach(channel) {
        if (this.stream) {
            const stream = this.stream;
            const join = (name, specs) => {
                const carried = stream.carries(name, specs);
                return carried && { ...carried, live: stream.isLive(name) };
            };
            if (this.channels.add(channel, join))
                stream.changed();
        }
        else {
            this.channels.add(channel);
            this.report();
        }
    }
    detach(channel) {
        const left = this.channels.remove(channel);
        if (this.stream) {
            if (left)
                this.stream.changed();
        }
        else
            this.report();
    }
    pausedChanged() {
        if (this.stream)
            this.pauseOrResume();
        else
            this.report();
    }
    close() {
        if (this.closed)
            return;
        this.closed = true;
        if (!this.leading)
            this.post({ t: "bye", tab: this.tab });
        this.stream?.close();
        this.stream = undefined;
        this.stop.abort();
        this.releaseLeadership?.();
        this.releaseTab?.();
        this.bus?.close();
    }
    // Messages --------------------------------------------------------------------------------
    post(message) {
        try {
            this.bus?.postMessage(message);
        }
        catch (error) {
            this.host.reportError(error instanceof Error ? error : new Error(String(error)));
        }
    }
    /** Send this tab's set to the leader, once per turn of the event loop. */
    report(full = false) {
        if (this.leading || !this.bus || this.reportQueued)
            return;
        this.reportQueued = true;
        queueMicrotask(() => {
            this.reportQueued = false;
            if (this.leading || this.closed)
                return;
            const presences = this.channels.all()
                .filter((c) => c.specs().includes("presence"))
                .map((c) => ({ channel: c.name, ref: c.presenceRef }));
            this.post({
                t: "report", tab: this.tab, revision: this.channels.revision, paused: this.host.paused,
                channels: this.channels.wanted(full ? undefined : this.generation), presences,
            });
        });
    }
    receive(message) {
        if (this.closed)
            return;
        if (this.stream) {
            this.leaderReceives(message);
            return;
        }
        switch (message.t) {
            case "hello": // a new leader: it needs every channel's position
                this.generation = undefined;
                this.report(true);
                break;
            case "connecting": {
                const revision = message.revisions[this.tab];
                if (revision === undefined)
                    break;
                this.generation = message.generation;
                this.channels.connecting(message.generation, revision);
                break;
            }
            case "frame":
                this.channels.frame(message.generation, message.event, message.channel, message.payload, message.id);
                break;
            case "live":
                this.channels.live(message.generation, message.names, message.event, message.id);
                break;
            case "down":
                this.channels.down(message.status, fromWire(message.error));
                break;
            case "refused":
                this.channels.refused(message.names, fromWire(message.error) ?? new Error("refused"));
                break;
        }
    }
    // As the leader -----------------------------------------------------------------------------
    /** Hold the stream; `takeover`: another tab held it, so wait a moment for every tab's set. */
    lead(takeover) {
        this.leading = true;
        this.generation = undefined;
        const tabs = this;
        const host = this.host;
        // The stream pauses only when every tab is paused.
        const streamHost = {
            get baseUrl() { return host.baseUrl; },
            get paused() { return host.paused && [...tabs.reports.values()].every((r) => r.paused); },
            get tokenEpoch() { return host.tokenEpoch; },
            get tokenIsFunction() { return host.tokenIsFunction; },
            get subscribeTimeoutMs() { return host.subscribeTimeoutMs; },
            get idleTimeoutMs() { return host.idleTimeoutMs; },
            get fetch() { return host.fetch; },
            currentToken: () => host.currentToken(),
            sleep: (ms, owner) => host.sleep(ms, owner),
            reportError: (error) => host.reportError(error),
            subscribed: () => host.subscribed(),
        };
        const sink = {
            wanted: () => this.wanted(),
            connecting: (generation) => {
                this.carried = new Map([...this.reports].map(([tab, r]) => [tab, r.revision]));
                this.channels.connecting(generation);
                this.post({ t: "connecting", tab: this.tab, generation, revisions: Object.fromEntries(this.carried) });
            },
            frame: (generation, event, channel, payload, id) => {
                this.channels.frame(generation, event, channel, payload, id);
                this.post({ t: "frame", tab: this.tab, generation, event, ...(channel === undefined ? {} : { channel }), payload, ...(id === undefined ? {} : { id }) });
            },
            live: (generation, names, event, id) => {
                this.channels.live(generation, names, event, id);
                this.post({ t: "live", tab: this.tab, generation, names, event, ...(id === undefined ? {} : { id }) });
            },
            down: (status, error) => {
                this.channels.down(status, error);
                const wire = toWire(error);
                this.post({ t: "down", tab: this.tab, status, ...(wire ? { error: wire } : {}) });
            },
            refused: (names, error) => {
                // Out of every tab's set at once: the stream reconnects without them right away.
                for (const report of this.reports.values())
                    report.channels = report.channels.filter((c) => !names.includes(c.name));
                this.post({ t: "refused", tab: this.tab, names, error: toWire(error) ?? { message: error.message } });
                this.channels.refused(names, error);
            },
        };
        this.stream = new Stream(streamHost, sink);
        this.post({ t: "hello", tab: this.tab });
        this.stream.changed(takeover ? CHANGE_DEBOUNCE_MS : 0);
    }
    /** Every tab's set merged: each name once, the union of bindings, the earliest start of its
     * channels not on the current connection. */
    wanted() {
        const merged = new Map();
        const add = (want, pending) => {
            let entry = merged.get(want.name);
            if (!entry)
                merged.set(want.name, (entry = { specs: new Set(), from: undefined, pending: false }));
            for (const spec of want.specs)
                entry.specs.add(spec);
            if (pending && want.pending) {
                entry.pending = true;
                entry.from = earlierPosition(entry.from, want.from);
            }
        };
        for (const want of this.channels.wanted(this.stream?.generation || undefined))
            add(want, true);
        for (const [tab, report] of this.reports) {
            const carried = this.carried.get(tab);
            const pending = carried === undefined || report.revision > carried;
            for (const want of report.channels)
                add(want, pending);
        }
        return [...merged].map(([name, { specs, from, pending }]) => ({ name, specs: [...specs].sort(), from, pending }));
    }
    leaderReceives(message) {
        if (message.t === "report") {
            this.reports.set(message.tab, {
                revision: message.revision, paused: message.paused, channels: message.channels, presences: message.presences ?? [],
            });
            this.watch(message.tab);
            this.pauseOrResume();
            this.stream?.changed();
        }
        else if (message.t === "bye") {
            this.forget(message.tab);
        }
        // `hello` from another leader cannot happen while we hold the lock; the rest are ours.
    }
    /** Queue for the tab's own lock: granted when the tab is gone. */
    watch(tab) {
        if (this.watched.has(tab))
            return;
        this.watched.add(tab);
        const locks = navigator.locks;
        void locks.request(`threadcast-tab:${tab}`, { signal: this.stop.signal }, () => this.forget(tab)).catch(() => { });
    }
    forget(tab) {
        this.watched.delete(tab);
        const report = this.reports.get(tab);
        if (!report || !this.reports.delete(tab))
            return;
        // Its presences lived on this tab's stream: they end now, not when this tab goes.
        for (const { channel, ref } of report.presences)
            this.host.removePresence?.(channel, ref);
        this.carried.delete(tab);
        this.stream?.changed();
    }
    pauseOrResume() {
        const stream = this.stream;
        if (!stream)
            return;
        const allPaused = this.host.paused && [...this.reports.values()].every((r) => r.paused);
        if (allPaused)
            stream.interrupt();
        else
            stream.wakeUp?.();
    }
}

// The client: channels, REST, the connection state, pausing while hidden, token renewal. Its
// channels share one stream (stream.ts), which the tabs of a browser share (tabs.ts).
const DEFAULTS = {
    throttleMs: 0, // deliver callbacks at once; > 0: in batches, at most once per interval
    pauseWhenHiddenMs: 60000, // close streams of a tab hidden this long; null: never
    subscribeTimeoutMs: 10000, // no answer from the server this long: TIMED_OUT, retry
    idleTimeoutMs: 45000, // nothing at all (the server sends a heartbeat every 15 s): retry
    presenceIntervalMs: 250, // at most one presence PUT per this long, for all channels (~4/s)
};
const isOffline = () => globalThis.navigator?.onLine === false;
const presencePath = (channel, ref) => `/v1/channels/${encodeURIComponent(channel).replace(/%3A/gi, ":")}/presence/${ref}`;
/** The client's own stream, for its channels alone. */
class OwnStream {
    channels = new ChannelSet();
    stream;
    constructor(host) {
        this.stream = new Stream(host, this);
    }
    attach(channel) {
        const join = (name, specs) => {
            const carried = this.stream.carries(name, specs);
            return carried && { ...carried, live: this.stream.isLive(name) };
        };
        if (this.channels.add(channel, join))
            this.stream.changed();
    }
    detach(channel) {
        if (this.channels.remove(channel))
            this.stream.changed();
    }
    pausedChanged() {
        this.stream.interrupt();
    }
    close() {
        this.stream.close();
    }
    wanted() {
        return this.channels.wanted(this.stream.generation || undefined);
    }
    connecting(generation) {
        this.channels.connecting(generation);
    }
    frame(generation, event, channel, payload, id) {
        this.channels.frame(generation, event, channel, payload, id);
    }
    live(generation, names, event, id) {
        this.channels.live(generation, names, event, id);
    }
    down(status, error) {
        this.channels.down(status, error);
    }
    refused(names, error) {
        this.channels.refused(names, error);
    }
}
class ThreadcastClient {
    baseUrl;
    rest;
    offlineQueue;
    state = "reconnecting";
    paused = false;
    tokenEpoch = 0;
    fetch;
    token;
    options;
    /** The stream its channels use: its own, or the one its tabs share. */
    transport;
    sleepers = new Set();
    stateListeners = new Set();
    queue;
    listeners = [];
    hiddenTimer;
    /** The last token used, for the keepalive untrack on `pagehide` (no time to await one). */
    lastToken;
    /** When the next presence PUT may start (ms, Date.now()). */
    nextPresenceAt = 0;
    constructor(baseUrl, options) {
        this.baseUrl = baseUrl.replace(/\/$/, "");
        this.options = { ...DEFAULTS, ...options };
        this.token = options.token;
        this.offlineQueue = options.offlineQueue !== false;
        this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
        this.queue = new WriteQueue((request) => this.perform(request));
        this.rest = restApi((request, write) => write && this.offlineQueue ? this.queue.push(request) : this.direct(request, write));
        this.listen(globalThis, "online", () => {
            this.changed();
            this.wake(); // reconnect now, not at the end of a backoff
            void this.queue.flush();
        });
        this.listen(globalThis, "offline", () => this.changed());
        if (globalThis.document) {
            this.listen(globalThis.document, "visibilitychange", () => this.visibilityChanged());
        }
        // Leaving the page ends this tab's presences at once (the stream's end would, within 1 s);
        // a page restored from the back-forward cache tracks again.
        this.listen(globalThis, "pagehide", () => {
            for (const channel of this.transport.channels.all())
                channel.unload();
        });
        this.listen(globalThis, "pageshow", () => {
            for (const channel of this.transport.channels.all())
                channel.resume();
        });
        const share = options.shareAcrossTabs !== false && canShareTabs();
        this.transport = share ? new TabShare(this) : new OwnStream(this);
        this.state = this.currentState();
    }
    get tokenIsFunction() {
        return typeof this.token === "function";
    }
    get throttleMs() {
        return this.options.throttleMs;
    }
    get subscribeTimeoutMs() {
        return this.options.subscribeTimeoutMs;
    }
    get idleTimeoutMs() {
        return this.options.idleTimeoutMs;
    }
    /** Writes waiting in the offline queue. */
    get pendingWrites() {
        return this.queue.length;
    }
    /** A channel on the client's one stream; `from`: start after this REST read's position. */
    channel(name, options = {}) {
        return new Channel(this, name, options);
    }
    /** Use a new token from now on; channels waiting for one resume from where they were. */
    setToken(token) {
        this.token = token;
        this.tokenEpoch += 1;
        this.wake();
    }
    async currentToken() {
        this.lastToken = typeof this.token === "function" ? await this.token() : this.token;
        return this.lastToken;
    }
    /** Call `listener` on every change of `state`; returns the unsubscribe function. */
    onConnectionState(listener) {
        this.stateListeners.add(listener);
        return () => this.stateListeners.delete(listener);
    }
    /** Unsubscribe every channel and stop listening to the page; queued writes are rejected. */
    close() {
        for (const channel of this.transport.channels.all())
            channel.unsubscribe();
        this.transport.close();
        for (const [target, type, handler] of this.listeners)
            target.removeEventListener(type, handler);
        this.listeners = [];
        clearTimeout(this.hiddenTimer);
        this.queue.close();
    }
    // ChannelHost --------------------------------------------------------------------------
    attach(channel) {
        this.transport.attach(channel);
        this.changed();
    }
    detach(channel) {
        this.transport.detach(channel);
        this.changed();
    }
    /** End a presence of this user that a tab now gone held (tabs.ts, as the leader). */
    removePresence(channel, ref) {
        this.perform({ method: "DELETE", path: presencePath(channel, ref), schema: null }).catch(() => { });
    }
    /** The presence requests of `channel`, paced for the whole client. */
    presenceIO(channel) {
        const path = presencePath(channel.name, channel.presenceRef);
        const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
        return {
            put: async (connection, state) => {
                try {
                    const body = { connection, state };
                    await this.perform({ method: "PUT", path, body, schema: PresenceTracked });
                }
                catch (error) {
                    if (error instanceof RateLimitedError) {
                        throw new PresenceRefused(true, Math.max(this.options.presenceIntervalMs, (error.retryAfter ?? 1) * 1000), error);
                    }
                    throw error;
                }
            },
            remove: async () => {
                await this.perform({ method: "DELETE", path, schema: null });
            },
            removeOnUnload: () => {
                const headers = this.lastToken === undefined ? {} : { Authorization: `Bearer ${this.lastToken}` };
                this.fetch(`${this.baseUrl}${path}`, { method: "DELETE", headers, keepalive: true }).catch(() => { });
            },
            gate: () => {
                const now = Date.now();
                const at = Math.max(now, this.nextPresenceAt);
                this.nextPresenceAt = at + this.options.presenceIntervalMs;
                return at > now ? wait(at - now) : Promise.resolve();
            },
            wait,
        };
    }
    subscribed() {
        void this.queue.flush(); // the server is reachable again
    }
    reportError(error) {
        (this.options.onError ?? ((e) => console.error(e)))(error);
    }
    /** What `state` should say now (with no channel: live, unless the browser is offline). */
    currentState() {
        if (this.paused)
            return "paused";
        if (isOffline())
            return "offline";
        return this.transport.channels.all().every((c) => c.live) ? "live" : "reconnecting";
    }
    changed() {
        const state = this.currentState();
        if (this.state === state)
            return;
        this.state = state;
        for (const listener of [this.options.onConnectionState, ...this.stateListeners]) {
            try {
                listener?.(state);
            }
            catch (error) {
                console.error("threadcast: a connection state listener failed", error);
            }
        }
    }
    /** Resolves after `ms`, or sooner on wake() (or the owner's wakeUp(), on unsubscribe). */
    sleep(ms, owner) {
        return new Promise((resolve) => {
            const done = () => {
                clearTimeout(timer);
                this.sleepers.delete(done);
                resolve();
            };
            const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
            this.sleepers.add(done);
            owner.wakeUp = done;
        });
    }
    // --------------------------------------------------------------------------------------
    wake() {
        for (const done of [...this.sleepers])
            done();
    }
    listen(target, type, handler) {
        if (!target?.addEventListener)
            return;
        target.addEventListener(type, handler);
        this.listeners.push([target, type, handler]);
    }
    async perform(request) {
        return perform(this.fetch, this.baseUrl, await this.currentToken(), request);
    }
    /** Sent once, no queue. A write's retry (React Query's) may meet its own earlier attempt:
     * `recover` turns that error into the earlier attempt's result. */
    async direct(request, write) {
        try {
            return await this.perform(request);
        }
        catch (error) {
            const earlier = write ? request.recover?.(error) : undefined;
            if (earlier === undefined)
                throw error;
            return earlier;
        }
    }
    // Going quiet while hidden: a background tab holding a stream costs the server a connection
    // and, over HTTP/1.1, takes one of the browser's six connections per origin from every
    // other tab. After `pauseWhenHiddenMs` hidden the streams close; when the page shows again
    // they resume from Last-Event-ID and replay what was missed (or get `reset` past retention).
    visibilityChanged() {
        const limit = this.options.pauseWhenHiddenMs;
        if (document.visibilityState === "hidden") {
            if (limit === null || limit === undefined || this.hiddenTimer)
                return;
            this.hiddenTimer = setTimeout(() => {
                this.paused = true;
                this.transport.pausedChanged();
                this.changed();
            }, limit);
            return;
        }
        clearTimeout(this.hiddenTimer);
        this.hiddenTimer = undefined;
        if (!this.paused)
            return;
        this.paused = false;
        this.transport.pausedChanged();
        this.changed();
        this.wake();
    }
}
function createClient(baseUrl, options) {
    return new ThreadcastClient(baseUrl, options);
}

export { Channel, ConflictError, ForbiddenError, HTTPError, InvalidPayloadError, NotFoundError, RateLimitedError, SSEParser, ThreadcastClient, ValidationError, comparePositions, createClient, isPosition, isRetryable, matchesFilter, randomId };
