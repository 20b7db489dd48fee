import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { verifyDeviceCommand } from '../../../agent/commands/verify.js';
import { parseProfile } from '../../../agent/config/profile.js';
import { verifyEmergencyOrder } from '../../../agent/emergency/verify.js';
import { verifyManifest } from '../../../agent/manifest/verify.js';
import { parseAgentConfig } from '../../../agent/provision/config.js';
import { parseNotify } from '../../../agent/sync/down-messages.js';
import { parseCap } from '../../../controller/cap/parse.js';
import { decodeUp } from '../../../controller/telemetry/decode.js';
import { signEnvelope } from '../../../shared/crypto.js';
import { ERRORS } from '../../../shared/errors.js';
import { normalizePairingCode } from '../../../shared/pairing.js';
import { verifyRelease } from '../../../shared/release.js';
import type { DeviceCommand } from '../../../shared/schemas/command.js';
import { topics } from '../../../shared/topics.js';
import { signedRootChecker } from '../../../shared/trust.js';
import { normalizeVietnamese } from '../../../shared/tts/normalize-vi.js';
import { baseManifest, makeTrust, signManifest } from '../../support/trust.js';
import { pick, recordFigures } from '../support/mode.js';

/**
 * fast-check fuzzing of the schema-checked parsers (issue 10): for any input, a parser returns or throws a LoaError
 * whose code is in shared/errors.ts, never another exception, within a bounded time per case. Inputs are random
 * JSON, random text, and genuine documents with one field replaced by a random JSON value (so the schema, not
 * only JSON.parse, is exercised). Genuine generated inputs are accepted.
 */
const RUNS = pick(2_000, 10_000);
const MAX_CASE_MS = 2_000;
const REPRODUCE = 'npm test -- test/reliability/fuzz (long: npm run soak)';
const NOW = Date.parse('2026-12-01T00:00:00Z');
const trust = makeTrust();
const iso = (ms: number): string => new Date(ms).toISOString();

/** Throws unless `fn(input)` returns or throws a coded LoaError, in bounded time. */
function coded(fn: (input: unknown) => unknown): (input: unknown) => void {
  return (input) => {
    const started = performance.now();
    try {
      fn(input);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (!(e instanceof Error) || typeof code !== 'string' || !(code in ERRORS)) throw new Error(`not a coded LoaError: ${String((e as Error)?.name)}: ${String((e as Error)?.message)}`);
    }
    const ms = performance.now() - started;
    if (ms > MAX_CASE_MS) throw new Error(`one case took ${Math.round(ms)} ms`);
  };
}

/** A genuine document with the value at one (random) path replaced by a random JSON value. */
function mutated(doc: unknown): fc.Arbitrary<unknown> {
  const paths: string[][] = [];
  const walk = (v: unknown, p: string[]): void => {
    paths.push(p);
    if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) walk(c, [...p, k]);
  };
  walk(doc, []);
  return fc.tuple(fc.constantFrom(...paths), fc.jsonValue({ maxDepth: 3 })).map(([path, value]) => {
    if (path.length === 0) return value;
    const copy = structuredClone(doc) as Record<string, unknown>;
    let o = copy;
    for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
    o[path.at(-1)!] = value;
    return copy;
  });
}

/** Random JSON, random text (as string and Buffer), and mutations of `doc`, as JSON text or as a value. */
const inputs = (doc: unknown): fc.Arbitrary<unknown> => fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.string({ maxLength: 300 }),
  fc.string({ maxLength: 300, unit: 'binary' }).map((s) => Buffer.from(s)),
  mutated(doc),
  mutated(doc).map((v) => JSON.stringify(v) ?? 'null'),
);
const asText = (v: unknown): string | Buffer => (typeof v === 'string' || Buffer.isBuffer(v) ? v : JSON.stringify(v) ?? 'null');

const command = (over: Partial<DeviceCommand> = {}): DeviceCommand => ({
  _type: 'command', schemaVersion: 1, commandId: 'cmd-1', deviceId: 'dev-001', seq: 5, nonce: 'n'.repeat(22), issuedAt: iso(NOW - 1000), expiresAt: iso(NOW + 60_000), type: 'volume', params: { volume: 40 }, ...over,
} as DeviceCommand);
const order = { _type: 'emergency', schemaVersion: 1, orderId: 'em-1', action: 'cancel', seq: 3, nonce: 'n'.repeat(22), issuedAt: iso(NOW - 1000), expiresAt: iso(NOW + 60_000), target: { zones: ['X01-C1'], devices: [] }, title: 'Thử', repeat: 1, outputs: [] };
const cap = `<?xml version="1.0"?><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier><sender>a@b</sender><sent>2026-11-23T03:00:00+07:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope><info><category>Met</category><event>Bão</event><urgency>Immediate</urgency><severity>Extreme</severity><certainty>Observed</certainty><area><areaDesc>Huế</areaDesc><geocode><valueName>VN-ADMIN</valueName><value>19753</value></geocode></area></info></alert>`;

const PARSERS: [string, fc.Arbitrary<unknown>, (input: unknown) => unknown][] = [
  ['manifest (verifyManifest)', inputs(signManifest(baseManifest({ version: 6 }), [trust.schedule])), (i) => verifyManifest(i, { root: trust.root, deviceId: 'dev-001', currentVersion: 5, now: NOW })],
  ['emergency order (verifyEmergencyOrder)', inputs(signEnvelope(order, [trust.emergency.privateKeyPem])), (i) => verifyEmergencyOrder(i, { root: trust.root, deviceId: 'dev-001', zones: ['X01-C1'], now: NOW, seen: () => false })],
  ['device command (verifyDeviceCommand)', inputs(signEnvelope(command(), [trust.schedule.privateKeyPem])), (i) => verifyDeviceCommand(i, { root: trust.root, deviceId: 'dev-001', now: NOW, seen: () => false })],
  ['root metadata (signedRootChecker)', inputs(trust.signedRoot), (i) => signedRootChecker.parse(i)],
  ['release metadata (verifyRelease)', inputs({ signed: { _type: 'release', version: '1.2.3' }, signatures: [] }), (i) => verifyRelease(i, trust.root)],
  ['device telemetry (decodeUp)', inputs({ at: NOW, manifestVersion: 1, stale: false }), (i) => decodeUp(topics.up('dev-001', 'telemetry'), Buffer.from(asText(i)), NOW, { maxPayloadBytes: 256 * 1024, maxEventsPerMessage: 1000 })],
  ['device events (decodeUp)', inputs([{ deviceId: 'dev-001', seq: 1, key: 'dev-001:1', type: 'agent.start', at: NOW, data: {} }]), (i) => decodeUp(topics.up('dev-001', 'events'), Buffer.from(asText(i)), NOW, { maxPayloadBytes: 256 * 1024, maxEventsPerMessage: 1000 })],
  ['device status (decodeUp)', inputs({ online: true, at: NOW }), (i) => decodeUp(topics.up('dev-001', 'status'), Buffer.from(asText(i)), NOW, { maxPayloadBytes: 256 * 1024, maxEventsPerMessage: 1000 })],
  ['notify (parseNotify)', inputs({ version: 3, at: NOW }), (i) => parseNotify(Buffer.from(asText(i)))],
  ['hardware profile (parseProfile)', inputs({ id: 'p', name: 'p', audio: { driver: 'file', device: '/tmp/x' }, relay: { type: 'none' }, outputs: [] }), (i) => parseProfile(asText(i))],
  ['agent config (parseAgentConfig)', inputs({ controller: 'https://c.example' }), (i) => parseAgentConfig(asText(i), 'fuzz')],
  ['CAP XML (parseCap)', fc.oneof(fc.string({ maxLength: 400 }), fc.tuple(fc.nat(cap.length), fc.string({ maxLength: 40 })).map(([at, s]) => cap.slice(0, at) + s + cap.slice(at))), (i) => parseCap(i as string)],
  ['pairing code (normalizePairingCode)', fc.string({ maxLength: 60 }), (i) => normalizePairingCode(i as string)],
  ['TTS text (normalizeVietnamese)', fc.oneof(fc.string({ maxLength: 300 }), fc.stringMatching(/^[0-9.,:/%-]{1,40}$/)), (i) => normalizeVietnamese(i as string)],
];

for (const [name, arb, parse] of PARSERS) {
  test(`fuzz: ${name} returns or throws a coded LoaError for any input, in bounded time`, () => {
    const started = performance.now();
    fc.assert(fc.property(arb, coded(parse)), { numRuns: RUNS, seed: Number(process.env.LOA_FUZZ_SEED ?? Date.now() % 2 ** 31) });
    const ms = performance.now() - started;
    recordFigures({ suite: 'fuzz', what: name, figures: { cases: RUNS, ms: Math.round(ms), perCaseUs: Math.round((ms * 1000) / RUNS) }, reproduce: REPRODUCE });
  });
}

test('regression (fuzz counterexample): a CAP document whose declaration is `<?"xml …?>` is refused with LOA_ERR_CAP_INVALID, not a parser exception', () => {
  assert.throws(() => parseCap(`<?"${cap.slice(2)}`), (e: Error & { code?: string }) => e.code === 'LOA_ERR_CAP_INVALID');
});

test('fuzz: genuine generated device commands (any type, volume, seq and lifetime within the rules) are accepted', () => {
  const started = performance.now();
  const arb = fc.record({ seq: fc.integer({ min: 1, max: 2 ** 40 }), volume: fc.integer({ min: 0, max: 100 }), ttl: fc.integer({ min: 1000, max: 15 * 60_000 }), age: fc.integer({ min: 0, max: 999 }) });
  fc.assert(fc.property(arb, ({ seq, volume, ttl, age }) => {
    const env = signEnvelope(command({ seq, nonce: randomBytes(16).toString('base64url'), issuedAt: iso(NOW - age), expiresAt: iso(NOW - age + ttl), params: { volume } }), [trust.schedule.privateKeyPem]);
    assert.equal(verifyDeviceCommand(JSON.stringify(env), { root: trust.root, deviceId: 'dev-001', now: NOW, seen: () => false }).signed.seq, seq);
  }), { numRuns: pick(500, 2_000) });
  recordFigures({ suite: 'fuzz', what: 'device command: genuine inputs accepted', figures: { cases: pick(500, 2_000), ms: Math.round(performance.now() - started) }, reproduce: REPRODUCE });
});
