import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseRange, planRange, type RangePlan } from '../../../controller/media/range.js';

const ETAG = 'a'.repeat(64);
const GET = { etag: ETAG, mime: 'audio/ogg' };

/** The bytes a plan says to send, cut from the file. */
function served(file: Uint8Array, plan: RangePlan): Uint8Array {
  if (plan.length === 0 || plan.start === undefined || plan.end === undefined) return new Uint8Array(0);
  return file.subarray(plan.start, plan.end + 1);
}

/** A Range header value: a valid single range of each form, plus the odd and the broken. */
const rangeHeader = fc.oneof(
  fc.tuple(fc.nat(3000), fc.nat(3000)).map(([a, b]) => `bytes=${a}-${b}`),
  fc.nat(3000).map((a) => `bytes=${a}-`),
  fc.nat(3000).map((n) => `bytes=-${n}`),
  fc.tuple(fc.nat(3000), fc.nat(3000)).map(([a, b]) => `bytes=${a}-${b}, ${b}-`),
  fc.string({ maxLength: 30 }),
  fc.string({ maxLength: 30 }).map((s) => `bytes=${s}`),
);

test('answers 200 with the whole file, Accept-Ranges and a strong ETag when there is no Range', () => {
  const p = planRange({}, { size: 1000, ...GET });
  assert.equal(p.status, 200);
  assert.deepEqual([p.start, p.end, p.length], [0, 999, 1000]);
  assert.equal(p.headers['Accept-Ranges'], 'bytes');
  assert.equal(p.headers.ETag, `"${ETAG}"`);
  assert.equal(p.headers['Content-Length'], '1000');
  assert.equal(p.headers['Content-Type'], 'audio/ogg');
  assert.match(p.headers['Cache-Control'] ?? '', /immutable/);
});

test('answers the three single-range forms with 206 and the right Content-Range', () => {
  const cases: Array<[string, number, number]> = [['bytes=0-99', 0, 99], ['bytes=900-', 900, 999], ['bytes=-100', 900, 999], ['bytes=990-5000', 990, 999], ['bytes=-5000', 0, 999], ['bytes=5-5', 5, 5]];
  for (const [range, start, end] of cases) {
    const p = planRange({ range }, { size: 1000, ...GET });
    assert.equal(p.status, 206, range);
    assert.equal(p.headers['Content-Range'], `bytes ${start}-${end}/1000`, range);
    assert.equal(p.headers['Content-Length'], String(end - start + 1), range);
  }
});

test('answers 416 with "bytes */size" for a range past the end or an empty suffix', () => {
  for (const range of ['bytes=1000-', 'bytes=1000-2000', 'bytes=-0', 'bytes=99999999999999999999-']) {
    const p = planRange({ range }, { size: 1000, ...GET });
    assert.equal(p.status, 416, range);
    assert.equal(p.headers['Content-Range'], 'bytes */1000');
    assert.equal(p.length, 0);
  }
});

test('sends the whole file for several ranges, other units, broken syntax, and HEAD', () => {
  for (const range of ['bytes=0-1,5-6', 'items=0-5', 'bytes=5-1', 'bytes=abc', 'bytes=', 'bytes=--5']) {
    assert.equal(planRange({ range }, { size: 1000, ...GET }).status, 200, range);
  }
  const head = planRange({ range: 'bytes=0-9' }, { size: 1000, ...GET, method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.length, 0, 'a HEAD has no body');
  assert.equal(head.headers['Content-Length'], '1000');
});

test('answers 304 to If-None-Match naming the ETag (weakly, or *), even with a Range', () => {
  for (const inm of [`"${ETAG}"`, `W/"${ETAG}"`, `"x", "${ETAG}"`, '*']) {
    const p = planRange({ 'if-none-match': inm, range: 'bytes=0-1' }, { size: 1000, ...GET });
    assert.equal(p.status, 304, inm);
    assert.equal(p.headers.ETag, `"${ETAG}"`);
  }
  assert.equal(planRange({ 'if-none-match': '"other"' }, { size: 1000, ...GET }).status, 200);
});

test('honours Range only when If-Range names the current ETag exactly', () => {
  const plan = (ifRange: string): number => planRange({ range: 'bytes=10-', 'if-range': ifRange }, { size: 1000, ...GET }).status;
  assert.equal(plan(`"${ETAG}"`), 206);
  assert.equal(plan(`W/"${ETAG}"`), 200, 'a weak validator never matches If-Range');
  assert.equal(plan('"older"'), 200);
  assert.equal(plan('Wed, 21 Oct 2015 07:28:00 GMT'), 200, 'there is no Last-Modified to compare a date with');
});

test('property: a 206 sends exactly the bytes its Content-Range names, inside the file', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 2500 }), rangeHeader, (size, range) => {
    const p = planRange({ range }, { size, ...GET });
    if (p.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(p.headers['Content-Range'] ?? '');
      assert.ok(m, p.headers['Content-Range']);
      const [a, b, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
      assert.equal(total, size);
      assert.ok(a >= 0 && a <= b && b < size);
      assert.equal(p.length, b - a + 1);
      assert.equal(Number(p.headers['Content-Length']), p.length);
      assert.deepEqual([p.start, p.end], [a, b]);
    } else if (p.status === 200) {
      assert.equal(p.length, size);
      assert.equal(p.headers['Content-Length'], String(size));
      assert.equal(p.headers['Content-Range'], undefined);
    } else {
      assert.equal(p.status, 416);
      assert.equal(p.headers['Content-Range'], `bytes */${size}`);
    }
  }), { numRuns: 3000 });
});

test('property: the planner agrees with a direct reading of RFC 9110 on single ranges', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 2000 }), fc.nat(2500), fc.option(fc.nat(2500), { nil: undefined }), fc.boolean(), (size, a, b, suffix) => {
    const range = suffix ? `bytes=-${a}` : `bytes=${a}-${b ?? ''}`;
    const r = parseRange(range, size);
    if (suffix) {
      if (a === 0) return r.kind === 'unsatisfiable';
      return r.kind === 'range' && r.start === Math.max(0, size - a) && r.end === size - 1;
    }
    if (b !== undefined && b < a) return r.kind === 'ignore';
    if (a >= size) return r.kind === 'unsatisfiable';
    return r.kind === 'range' && r.start === a && r.end === Math.min(b ?? size - 1, size - 1);
  }), { numRuns: 3000 });
});

test('property: a download cut after any number of bytes and resumed with bytes=N- rebuilds the file', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 3000 }), fc.nat(), (file, cutAt) => {
    const n = cutAt % (file.length + 1);
    const first = served(file, planRange({}, { size: file.length, ...GET })).subarray(0, n);
    const resume = planRange({ range: `bytes=${n}-`, 'if-range': `"${ETAG}"` }, { size: file.length, ...GET });
    if (n === file.length) {
      assert.equal(resume.status, 416, 'nothing is left to fetch');
      assert.deepEqual(first, file);
      return;
    }
    assert.equal(resume.status, 206);
    assert.deepEqual(Buffer.concat([first, served(file, resume)]), Buffer.from(file));
  }), { numRuns: 1000 });
});

test('property: any headers at all give one of 200, 206, 304, 416 and never throw', () => {
  const anyHeader = fc.option(fc.oneof(fc.string({ maxLength: 40 }), fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 })), { nil: undefined });
  fc.assert(fc.property(fc.nat(5000), anyHeader, anyHeader, anyHeader, fc.constantFrom('GET', 'HEAD', 'get'), (size, range, inm, ifRange, method) => {
    const p = planRange({ range, 'if-none-match': inm, 'if-range': ifRange }, { size, ...GET, method });
    assert.ok([200, 206, 304, 416].includes(p.status));
    assert.equal(p.headers['Accept-Ranges'], 'bytes');
    if (method.toUpperCase() === 'HEAD') assert.equal(p.length, 0);
  }), { numRuns: 3000 });
});

test('refuses to plan with a negative size or an ETag that would break the header', () => {
  assert.throws(() => planRange({}, { size: -1, etag: ETAG }), RangeError);
  assert.throws(() => planRange({}, { size: 1, etag: 'a"b' }), RangeError);
});
