import * as assert from 'assert';
import { inspect } from 'util';
import * as v8 from 'v8';
import { threadId } from 'worker_threads';
import * as tk from 'thread-kill';

// The reason codec keeps fast encodings for common reasons (primitives,
// short strings, small plain JSON-safe objects) and v8.serialize() for the
// rest: whichever it picks, `reason` must be exactly v8's structured clone,
// the message the same, and the same reasons refused with the same error.

/** The reason as an interrupt of this thread delivers it (pending, then a region entry). */
function viaInterrupt(reason: unknown): { reason: unknown; message: string } {
  assert.strictEqual(tk.interrupt(threadId, reason, { pending: true }), false);
  try {
    tk.interruptible(() => undefined);
  } catch (e) {
    assert.ok(e instanceof tk.InterruptedError);
    return { reason: e.reason, message: e.message };
  }
  throw new Error('the pending interrupt was not thrown');
}

/** The reason as a stop token's cell carries it. */
function viaToken(reason: unknown): unknown {
  const token = new tk.StopToken();
  token.stop(reason);
  return token.reason;
}

const clone = (v: unknown): unknown => v8.deserialize(v8.serialize(v));

// The library's describe(), for the expected messages.
function described(v: unknown): string {
  let s: string;
  try {
    if (typeof v === 'string') s = v;
    else if (v instanceof Error) s = String(v.message);
    else s = JSON.stringify(v) ?? String(v);
  } catch {
    s = inspect(v, { depth: 2, breakLength: Infinity, customInspect: false, getters: false });
  }
  return s.length > 200 ? `${s.slice(0, 199)}…` : s;
}

/**
 * a and b are the same structure: same primitives (Object.is), prototypes,
 * own keys in the same order with the same descriptors, the same sharing of
 * objects, Dates, Maps, Sets, typed arrays and errors alike.
 */
function assertSame(a: unknown, b: unknown, path = '$', pairs = new Map<object, object>()): void {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) {
    assert.ok(Object.is(a, b), `${path}: ${String(a)} vs ${String(b)}`);
    return;
  }
  if (pairs.has(a)) {
    assert.strictEqual(pairs.get(a), b, `${path}: shared object not shared alike`);
    return;
  }
  pairs.set(a, b);
  assert.strictEqual(Object.getPrototypeOf(a), Object.getPrototypeOf(b), `${path}: prototype`);
  assert.strictEqual(Object.prototype.toString.call(a), Object.prototype.toString.call(b), `${path}: kind`);
  if (a instanceof Date) assert.ok(Object.is(a.getTime(), (b as Date).getTime()), `${path}: date`);
  if (a instanceof Map) assertSame([...a], [...(b as Map<unknown, unknown>)], `${path}<map>`, pairs);
  if (a instanceof Set) assertSame([...a], [...(b as Set<unknown>)], `${path}<set>`, pairs);
  if (ArrayBuffer.isView(a)) assert.deepStrictEqual(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from((b as ArrayBufferView).buffer, (b as ArrayBufferView).byteOffset, (b as ArrayBufferView).byteLength));
  if (a instanceof Error) assert.deepStrictEqual([a.name, a.message], [(b as Error).name, (b as Error).message]);
  const ka = Reflect.ownKeys(a);
  const kb = Reflect.ownKeys(b);
  assert.deepStrictEqual(ka.map(String), kb.map(String), `${path}: own keys`);
  for (const k of ka) {
    if (a instanceof Error && k === 'stack') continue;
    const da: PropertyDescriptor = Object.getOwnPropertyDescriptor(a, k)!;
    const db: PropertyDescriptor = Object.getOwnPropertyDescriptor(b, k)!;
    assert.deepStrictEqual([da.enumerable, da.writable, da.configurable, 'value' in da],
      [db.enumerable, db.writable, db.configurable, 'value' in db], `${path}.${String(k)}: descriptor`);
    if ('value' in da) assertSame(da.value, db.value, `${path}.${String(k)}`, pairs);
  }
}

/** Sends `make()` both ways and checks it against v8's clone of another make() (for getters that count). */
function assertRoundTrip(make: () => unknown): void {
  const expected = clone(make());
  const got = viaInterrupt(make());
  assertSame(expected, got.reason);
  // (A description crosses threads as UTF-8: a lone surrogate in it reads as U+FFFD, as before.)
  const text = (described(make()) as unknown as { toWellFormed(): string }).toWellFormed();
  assert.strictEqual(got.message, `interrupted by thread ${threadId}: ${text}`);
  assertSame(expected, viaToken(make()));
}

describe('the reason codec: exactly the structured clone, whichever encoding', () => {
  const sparse = (): unknown[] => { const a = [1, , 3]; return a; }; // eslint-disable-line no-sparse-arrays
  const cases: Array<[string, () => unknown]> = [
    ['numbers', () => [0, 1, -1, 0.5, 1e21, 2 ** 53, -(2 ** 31), Number.MIN_VALUE, Number.MAX_VALUE]],
    ['a number', () => 1.25],
    ['-0 alone', () => -0],
    ['-0 inside', () => ({ a: -0, b: [-0] })],
    ['NaN and infinities', () => ({ a: NaN, b: [Infinity, -Infinity] })],
    ['NaN alone', () => NaN],
    ['booleans and null', () => ({ t: true, f: false, n: null, a: [null, true] })],
    ['true alone', () => true],
    ['false alone', () => false],
    ['null alone', () => null],
    ['0 alone', () => 0],
    ['an undefined value', () => ({ a: undefined, b: 1 })],
    ['undefined in an array', () => [1, undefined]],
    ['a sparse array', sparse],
    ['an array with a property', () => Object.assign([1, 2], { extra: 'x' })],
    ['an array with a non-enumerable element', () => Object.defineProperty([1, 2], 0, { value: 9, enumerable: false })],
    ['a Date', () => ({ at: new Date(86_400_000) })],
    ['a Map and a Set', () => ({ m: new Map([[1, { a: 1 }]]), s: new Set(['x']) })],
    ['a class instance', () => ({ p: new (class Point { x = 1; y = 2; })() })],
    ['a null-prototype object', () => Object.assign(Object.create(null), { a: 1 })],
    ['a boxed primitive', () => ({ n: new Number(1), s: new String('s') })], // eslint-disable-line no-new-wrappers
    ['a pure getter', () => ({ get a() { return 1; }, b: 2 })],
    ['a symbol key', () => ({ [Symbol('s')]: 1, a: 1 })],
    ['a non-enumerable property', () => Object.defineProperty({ a: 1 }, 'hidden', { value: 2, enumerable: false })],
    ['an own __proto__ key', () => JSON.parse('{"__proto__": {"a": 1}, "b": 2}')],
    ['a nested own __proto__ key', () => ({ x: JSON.parse('{"__proto__": 1}') })],
    ['integer-like keys', () => ({ b: 1, 2: 'two', 1: 'one', '-1': 'minus', '01': 'lead' })],
    ['a toJSON value', () => ({ toJSON: 'not a function', a: 1 })],
    ['strings to escape', () => ({ s: '"\\\n\t\u0000\u001f\u2028 é 中 😀', 'k"\n': 1 })],
    ['a lone surrogate', () => 'a\ud800b'],
    ['a lone surrogate inside', () => ({ s: 'x\udc00', a: ['\ud83d'] })],
    ['a short string', () => 'too slow'],
    ['a string of 1,025 characters', () => 'y'.repeat(1025)],
    ['the empty string, object and array', () => ['', {}, []]],
    ['a shared object', () => { const o = { a: 1 }; return { x: o, y: o }; }],
    ['a shared array', () => { const a = [1]; return [a, a]; }],
    ['a cycle', () => { const o: Record<string, unknown> = { a: 1 }; o.self = o; return o; }],
    ['nesting to the fast path\'s depth and past it', () => {
      const deep = (n: number): unknown => (n === 0 ? { leaf: true } : { d: deep(n - 1) });
      return [deep(6), deep(7), deep(8), deep(30)];
    }],
    ['a frozen object', () => Object.freeze({ a: Object.freeze([1]) })],
    ['an Error', () => new RangeError('out')],
    ['a typed array', () => ({ u: new Uint8Array([1, 2, 3]) })],
    ['a bigint', () => ({ n: 10n })],
    ['an object near the fast path\'s text bound', () => ({ s: 'z'.repeat(690) })],
    ['an object past the fast path\'s text bound', () => ({ s: 'z'.repeat(710) })],
    ['escapes past the text bound', () => ({ s: '\u0001'.repeat(200) })],
    ['a long description', () => ({ list: Array.from({ length: 120 }, (_, i) => i * 1.5) })],
    ['an object from another realm', () => require('vm').runInNewContext('({ a: 1, b: [2] })')],
    ['namespace-like built-ins', () => ({ m: Math, j: JSON, r: Reflect })],
    ['a frozen empty object', () => Object.freeze({})],
  ];
  for (const [name, make] of cases) {
    it(`${name}: the same value and message as v8.serialize gives`, () => assertRoundTrip(make));
  }

  it('a getter with a side effect runs as often as before, and the reason is its first value', () => {
    // Before: once by v8.serialize(), once more for the description (JSON.stringify).
    let calls = 0;
    const make = (): object => ({ a: 1, get b() { return ++calls; } });
    const o = make();
    v8.serialize(o);
    JSON.stringify(o);
    const before = calls;
    calls = 0;
    assert.deepStrictEqual(viaInterrupt(make()).reason, { a: 1, b: 1 });
    assert.strictEqual(calls, before);
    // A getter before what the fast path cannot take (a Date further on): the same.
    calls = 0;
    const later = (): object => ({ get b() { return ++calls; }, at: new Date(0) });
    assertSame(viaInterrupt(later()).reason, { b: 1, at: new Date(0) });
    assert.strictEqual(calls, before);
  });

  it('an inherited toJSON (a polluted prototype): the same value and message as before', () => {
    for (const proto of [Object.prototype, Array.prototype]) {
      Object.defineProperty(proto, 'toJSON', { value: () => 'polluted', configurable: true, writable: true, enumerable: false });
      try {
        assertRoundTrip(() => ({ a: [1] }));
      } finally {
        delete (proto as { toJSON?: unknown }).toJSON;
      }
    }
  });

  it('a proxy is refused like v8.serialize refuses it, with the same traps run', () => {
    let traps = 0;
    const handler: ProxyHandler<object> = {};
    for (const t of ['get', 'getPrototypeOf', 'ownKeys', 'getOwnPropertyDescriptor', 'has']) {
      (handler as Record<string, unknown>)[t] = (...args: unknown[]) => { traps++; return (Reflect as any)[t](...args); };
    }
    const make = (): object => ({ p: new Proxy({ a: 1 }, handler) });
    assert.throws(() => v8.serialize(make()));
    const v8Traps = traps;
    traps = 0;
    assert.throws(() => tk.interrupt(threadId, make(), { pending: true }), { code: 'ERR_THREAD_KILL_NOT_CLONEABLE' });
    assert.strictEqual(traps, v8Traps);
  });

  it('an arguments object (plain prototype, yet not cloneable) is refused as v8 refuses it', () => {
    const args = (function (..._: unknown[]) { return arguments; })(1, 'a'); // eslint-disable-line prefer-rest-params
    assert.strictEqual(Object.getPrototypeOf(args), Object.prototype);
    assert.throws(() => v8.serialize(args));
    assert.throws(() => tk.interrupt(threadId, { args }, { pending: true }), { code: 'ERR_THREAD_KILL_NOT_CLONEABLE' });
  });

  it('a cloneable reason with no JSON and no toString (a cycle without a prototype, a BigInt) is sent and described by every call', async () => {
    const cycle: Record<string, unknown> = Object.create(null);
    cycle.self = cycle;
    const big = Object.assign(Object.create(null), { n: 1n });
    for (const [reason, text] of [[cycle, '<ref *1> [Object: null prototype] { self: [Circular *1] }'], [big, '[Object: null prototype] { n: 1n }']] as const) {
      assertRoundTrip(() => reason);
      assert.strictEqual(viaInterrupt(reason).message, `interrupted by thread ${threadId}: ${text}`);
      const token = new tk.StopToken();
      token.stop(reason);
      // (The token's reader describes its clone, which has the plain prototype.)
      assert.throws(() => token.throwIfStopped(), (e: any) => e.code === 'ERR_THREAD_STOPPED' && e.message === `stopped: ${described(clone(reason))}`);
      const w = new tk.KillableWorker('setInterval(() => {}, 1000)', { eval: true });
      await new Promise((resolve) => w.once('online', resolve));
      assert.strictEqual(tk.stop(w.threadId, reason), true);
      assert.strictEqual((await tk.kill(w, { reason })).outcome, 'killed');
    }
  });

  it('a SharedArrayBuffer (cloneable, but only by postMessage) is refused with a typed error saying what to send instead', () => {
    assert.throws(() => tk.interrupt(threadId, { sab: new SharedArrayBuffer(8) }, { pending: true }),
      (e: any) => e.code === 'ERR_THREAD_KILL_NOT_CLONEABLE' && /^reason must be structured-cloneable without transfer/.test(e.message) && /SharedArrayBuffer/.test(e.message));
  });

  it('what cannot be cloned is refused as before', () => {
    for (const bad of [{ f: () => 1 }, { s: Symbol('x') }, [Symbol('y')], { toJSON() { return 'json'; } }]) {
      assert.throws(() => v8.serialize(bad));
      assert.throws(() => tk.interrupt(threadId, bad, { pending: true }), { name: 'NotCloneableError', code: 'ERR_THREAD_KILL_NOT_CLONEABLE' });
    }
  });

  it('the limit is on v8.serialize()\'s size, as documented: up to 4080 bytes a reason arrives exactly, its description shortened or made by the receiver', () => {
    const n = 4080 - v8.serialize('').byteLength - 1; // one more byte of length (a varint) from 128 on
    for (const v of ['z'.repeat(3900), 'z'.repeat(n), { s: 'q'.repeat(4000) }]) {
      assert.ok(v8.serialize(v).byteLength <= 4080, `${v8.serialize(v).byteLength}`);
      const got = viaInterrupt(v);
      assertSame(clone(v), got.reason);
      const whole = `interrupted by thread ${threadId}: ${described(v)}`;
      assert.ok(got.message === whole || (got.message.endsWith('…') && whole.startsWith(got.message.slice(0, -1))), got.message);
      assert.ok(got.message.length > 60, got.message); // a description, shortened or not
      assertSame(clone(v), viaToken(v));
    }
    assert.strictEqual(v8.serialize('z'.repeat(n)).byteLength, 4080);
    assert.throws(() => tk.interrupt(threadId, 'z'.repeat(n + 1), { pending: true }),
      { code: 'ERR_THREAD_KILL_OUT_OF_RANGE', message: 'reason is too large to send (4081 bytes serialized, at most 4080)' });
  });

  it('an object over the limit is refused with its v8.serialize() size', () => {
    for (const big of [{ s: 'w'.repeat(5000) }, Array.from({ length: 2000 }, (_, i) => i)]) {
      const size = v8.serialize(big).byteLength;
      assert.ok(size > 4080);
      assert.throws(() => tk.interrupt(threadId, big, { pending: true }),
        { code: 'ERR_THREAD_KILL_OUT_OF_RANGE', message: `reason is too large to send (${size} bytes serialized, at most 4080)` });
      assert.throws(() => new tk.StopToken().stop(big), { code: 'ERR_THREAD_KILL_OUT_OF_RANGE' });
    }
  });

  it('the largest reasons the fast path takes also fit the v8 encoding (it accepts exactly what v8 did)', () => {
    // Its worst cases, each grown to the fast path's bound (700 units of JSON text).
    const grow = (push: (a: unknown[]) => void): unknown[] => {
      const a: unknown[] = [0.5];
      while (JSON.stringify(a).length <= 700) push(a);
      a.pop();
      return a;
    };
    const shapes = [
      grow((a) => a.push(1)), // a double array: 9 bytes per "1,"
      grow((a) => a.push([])),
      grow((a) => a.push({})),
      grow((a) => a.push(-(2 ** 30))),
      ['中'.repeat(690)],
    ];
    for (const v of shapes) {
      const text = JSON.stringify(v);
      assert.ok(text.length <= 700, `${text.length}`);
      assert.ok(3 + Buffer.byteLength(described(v)) + v8.serialize(v).byteLength <= 4080);
      assertSame(clone(v), viaInterrupt(v).reason);
    }
  });

  it('a stop token smaller than the limit takes a reason exactly when its v8.serialize() size fits', () => {
    // The fast path is not used under a smaller limit; a string's UTF-8 may be longer than its v8 form.
    const capacity = 64 - 16;
    let discriminating = 0;
    for (let n = 0; n < 50; n++) {
      for (const v of [{ a: 'q'.repeat(n) }, '中'.repeat(n), 'q'.repeat(n)]) {
        const token = new tk.StopToken(new SharedArrayBuffer(64));
        const size = v8.serialize(v).byteLength;
        if (size <= capacity && 3 + Buffer.byteLength(described(v)) + size > capacity) discriminating++;
        if (size <= capacity) {
          token.stop(v);
          assertSame(clone(v), token.reason);
        } else {
          assert.throws(() => token.stop(v), { code: 'ERR_THREAD_KILL_OUT_OF_RANGE', message: `reason is too large to send (${size} bytes serialized, at most ${capacity})` });
        }
      }
    }
    assert.ok(discriminating > 0);
  });
});
