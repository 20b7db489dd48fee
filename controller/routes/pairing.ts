import { randomInt, timingSafeEqual } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { keyIdOf, verifyBytes } from '../../shared/crypto.js';
import { verifyDeviceToken } from '../../shared/device-token.js';
import { CryptoError, LoaError, type ErrorCode } from '../../shared/errors.js';
import {
  PAIRING_ALPHABET, PAIRING_CODE_LENGTH, PAIRING_LOCATOR_LENGTH, PAIRING_MAX_ATTEMPTS, PAIRING_PROOF_SKEW_MS, PAIRING_SECRET_LENGTH,
  formatPairingCode, normalizePairingCode, pairingProofMessage,
} from '../../shared/pairing.js';
import { PairingRequest, type PairingStatus } from '../../shared/schemas/pairing.js';
import type { Device } from '../data/devices.js';
import { newId } from '../data/ids.js';
import { pairingSecretHash as secretHash, stateAt, type PairingRecord } from '../data/pairing.js';
import type { AppContext } from '../http/context.js';
import { IdParam, Limit, SafeName } from '../http/schemas.js';
import { audit, authz, visible } from './helpers.js';
import { PAIR_PAGE } from './pair-page.js';

/** How often a pending device should poll its pairing state. */
const POLL_AFTER_MS = 3000;
/** Random locators tried before giving up (only when thousands of requests are pending at once). */
const LOCATOR_TRIES = 32;

const randomChars = (n: number): string => Array.from({ length: n }, () => PAIRING_ALPHABET[randomInt(PAIRING_ALPHABET.length)]!).join('');
const sameHash = (a: string, b: string): boolean => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

type Outcome<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string; reason: string; details?: Record<string, unknown> };
const fail = (code: ErrorCode, reason: string, message: string, details?: Record<string, unknown>): Outcome<never> => ({ ok: false, code, reason, message, ...(details ? { details } : {}) });

/** A pending request as a technician sees it: never a code (none is stored) and never a secret hash. */
const publicView = (p: PairingRecord) => ({
  pairingId: p.id, keyid: p.keyid, hardwareProfile: p.hardwareProfile, agentVersion: p.agentVersion, hardware: p.hardware, ip: p.ip,
  createdAt: p.createdAt, expiresAt: p.expiresAt, failedAttempts: p.failedAttempts,
});

const ClaimBody = Type.Object(
  {
    code: Type.String({ minLength: 1, maxLength: 20, description: 'The code the device shows, XXXX-XXXX (case, spaces and dashes do not matter)' }),
    zoneId: Type.Optional(IdParam),
    name: Type.Optional(SafeName(200)),
    kind: Type.Optional(Type.Union([Type.Literal('speaker'), Type.Literal('board')])),
    replaceDeviceId: Type.Optional(IdParam),
  },
  { additionalProperties: false },
);
interface ClaimBody { code: string; zoneId?: string; name?: string; kind?: 'speaker' | 'board'; replaceDeviceId?: string }

/**
 * On-site pairing (issue 5): an unpaired device asks for a code (proving that it holds its key), a technician
 * types the code into the API with the cluster it goes to, and the device, polling with a signature of the same
 * key, then receives exactly what enrollment returns. Every outcome is audited, never with the code.
 */
export function registerPairing(app: FastifyInstance, ctx: AppContext): void {
  const ttlMs = Math.round(ctx.config.pairing.codeTtlMinutes * 60_000);

  // What the device's QR code opens: sign in, pick the cluster, confirm (calls the claim route below).
  app.get('/pair', { config: { auth: 'public' }, schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(PAIR_PAGE));

  app.post('/api/v1/pairing', {
    config: { auth: 'public', rateLimit: { max: ctx.config.pairing.requestsPerMinute, timeWindow: 60_000 } },
    schema: { tags: ['pairing'], summary: 'An unpaired device asks for a pairing code (with a proof that it holds the key)', body: PairingRequest },
  }, async (req, reply) => {
    const b = req.body as PairingRequest;
    const now = ctx.clock.now();
    const keyid = keyIdOf(b.publicKey);
    const refuse = (code: ErrorCode, reason: string, message: string, details?: Record<string, unknown>): never => {
      ctx.data.audit.add({ actor: `key:${keyid.slice(0, 16)}`, ip: req.ip, action: 'pairing.request_refused', targetType: 'pairing', details: { reason, keyid } }, now);
      throw new LoaError(code, message, details ? { details } : {});
    };
    if (Math.abs(b.proof.at - now) > PAIRING_PROOF_SKEW_MS) {
      refuse('LOA_ERR_PAIRING_CLOCK', 'clock', `the device clock is ${Math.round((b.proof.at - now) / 1000)} s off the controller's (at most ±${PAIRING_PROOF_SKEW_MS / 1000} s)`, { serverTime: now });
    }
    const { proof, ...request } = b;
    if (!verifyBytes(b.publicKey, pairingProofMessage(request, proof.at), proof.sig)) {
      ctx.data.audit.add({ actor: `key:${keyid.slice(0, 16)}`, ip: req.ip, action: 'pairing.request_refused', targetType: 'pairing', details: { reason: 'proof', keyid } }, now);
      throw new CryptoError('the proof of possession does not verify with this public key');
    }
    const out = ctx.data.tx((): Outcome<{ id: string; code: string; expiresAt: number; superseded: number }> => {
      ctx.data.pairing.expireDue(now);
      if (ctx.data.devices.isKeyRevoked(keyid)) return fail('LOA_ERR_PAIRING_KEY_REVOKED', 'key_revoked', 'this device key has been revoked; make a new key on the device (loa agent pair --new-key) and pair again');
      if (ctx.data.pairing.deviceWithKey(keyid)) return fail('LOA_ERR_PAIRING_KEY_IN_USE', 'key_in_use', 'this device key is already bound to a device; it needs no pairing');
      const superseded = ctx.data.pairing.supersede(keyid, now);
      let locator: string | null = null;
      for (let i = 0; i < LOCATOR_TRIES && !locator; i++) {
        const candidate = randomChars(PAIRING_LOCATOR_LENGTH);
        if (!ctx.data.pairing.locatorTaken(candidate)) locator = candidate;
      }
      if (!locator) return fail('LOA_ERR_PAIRING_BUSY', 'busy', 'no free pairing code: too many requests are pending; try again in a few minutes');
      const secret = randomChars(PAIRING_SECRET_LENGTH);
      const id = newId('pair');
      const expiresAt = now + ttlMs;
      ctx.data.pairing.create({
        id, locator, secretHash: secretHash(id, secret), publicKey: b.publicKey, keyid, hardwareProfile: b.hardwareProfile ?? null,
        agentVersion: b.agentVersion ?? null, hardware: b.hardware ?? {}, ip: req.ip, expiresAt,
      }, now);
      ctx.data.audit.add({ actor: `key:${keyid.slice(0, 16)}`, ip: req.ip, action: 'pairing.request', targetType: 'pairing', targetId: id, details: { keyid, hardwareProfile: b.hardwareProfile ?? null, agentVersion: b.agentVersion ?? null, superseded } }, now);
      return { ok: true, value: { id, code: formatPairingCode(locator + secret), expiresAt, superseded } };
    });
    if (!out.ok) return refuse(out.code, out.reason, out.message);
    return reply.code(201).send({ pairingId: out.value.id, code: out.value.code, expiresAt: new Date(out.value.expiresAt).toISOString(), pollAfterMs: POLL_AFTER_MS });
  });

  app.get('/api/v1/pairing/:pairingId', {
    config: { auth: 'public', rateLimit: { max: 600, timeWindow: 60_000 } },
    schema: {
      tags: ['pairing'], summary: 'The device polls its pairing state (Bearer: a loa1 token with sub = pairingId, signed by the key it paired with); once paired, what enrollment returns',
      params: Type.Object({ pairingId: IdParam }, { additionalProperties: false }),
    },
  }, async (req): Promise<PairingStatus> => {
    const { pairingId } = req.params as { pairingId: string };
    const now = ctx.clock.now();
    const token = bearerOf(req);
    if (!token) throw new LoaError('LOA_ERR_UNAUTHENTICATED', 'sign the request with the key that asked for pairing');
    const p = ctx.data.pairing.get(pairingId);
    if (!p) throw new LoaError('LOA_ERR_NOT_FOUND', `pairing request ${pairingId} does not exist; ask for a new code`);
    const claims = verifyDeviceToken(token, p.publicKey, now);
    if (claims.sub !== pairingId) throw new CryptoError('the token is for another pairing request');
    const state = stateAt(p, now);
    switch (state) {
      case 'pending':
        return { state, expiresAt: new Date(p.expiresAt).toISOString(), pollAfterMs: POLL_AFTER_MS };
      case 'expired':
      case 'locked':
        return { state };
      case 'paired': {
        // The binding may have changed since (revoked, replaced, decommissioned): then this key gets nothing.
        const d = p.deviceId ? ctx.data.devices.get(p.deviceId) : null;
        if (!d || d.keyid !== p.keyid || d.revokedAt !== null) throw new LoaError('LOA_ERR_DEVICE_REVOKED', 'this key is no longer bound to its device');
        return { state, enrollment: { deviceId: d.id, zoneId: d.zoneId, root: ctx.root as NonNullable<PairingStatus['enrollment']>['root'], controllerUrl: ctx.urls.http(), mqttUrl: ctx.urls.mqtt() } };
      }
    }
  });

  app.get('/api/v1/pairing', {
    config: { perm: 'device.write' },
    schema: {
      tags: ['pairing'], summary: 'Pending pairing requests, for a technician on site (never the codes)',
      querystring: Type.Object({ zoneId: Type.Optional(IdParam), limit: Limit }, { additionalProperties: false }),
    },
  }, async (req) => {
    const q = req.query as { zoneId?: string; limit: number };
    if (q.zoneId) authz(ctx, req, 'device.write', q.zoneId);
    else visible(req, 'device.write');
    return { pending: ctx.data.pairing.listPending(ctx.clock.now(), q.limit).map(publicView) };
  });

  app.post('/api/v1/pairing/claim', {
    config: {
      perm: 'device.write',
      rateLimit: {
        max: ctx.config.pairing.claimsPerMinute, timeWindow: 60_000, hook: 'preHandler',
        keyGenerator: (req) => `user:${req.user?.id ?? req.ip}`,
        onExceeded: (req) => ctx.data.audit.add({ actor: req.user?.id ?? 'anonymous', ip: req.ip, action: 'pairing.claim_failed', targetType: 'pairing', details: { reason: 'rate_limited' } }, ctx.clock.now()),
      },
    },
    schema: {
      tags: ['pairing'], summary: 'Pair the device showing this code: a new device in zoneId, or (replaceDeviceId) new hardware for an existing device',
      body: ClaimBody,
    },
  }, async (req, reply) => {
    const b = req.body as ClaimBody;
    // Authorization first, against the zone the device goes to: a refused caller never gets to test codes.
    let target: Device | null = null;
    let zoneId: string;
    try {
      if (b.replaceDeviceId) {
        target = ctx.data.devices.require(b.replaceDeviceId);
        authz(ctx, req, 'device.write', target.zoneId);
        zoneId = target.zoneId;
      } else {
        if (!b.zoneId) throw new LoaError('LOA_ERR_SCHEMA', 'body is invalid: zoneId is required (or replaceDeviceId)');
        authz(ctx, req, 'device.write', b.zoneId);
        zoneId = b.zoneId;
      }
    } catch (e) {
      if (e instanceof LoaError && e.code === 'LOA_ERR_FORBIDDEN') {
        ctx.data.audit.add({ actor: req.user!.id, ip: req.ip, action: 'pairing.claim_failed', targetType: 'pairing', zoneId: target?.zoneId ?? b.zoneId ?? null, details: { reason: 'forbidden', ...(b.replaceDeviceId ? { replaceDeviceId: b.replaceDeviceId } : {}) } }, ctx.clock.now());
      }
      throw e;
    }
    if (target && b.zoneId && b.zoneId !== target.zoneId) throw new LoaError('LOA_ERR_CONFLICT', `replacement hardware keeps the device's zone (${target.zoneId}); move the device afterwards`);
    if (!target) {
      const zone = ctx.data.zones.require(zoneId);
      if (zone.level !== 'cluster' && zone.level !== 'commune') throw new LoaError('LOA_ERR_ZONE_HIERARCHY', 'a device belongs to a cluster (or directly to a commune)');
    }
    const now = ctx.clock.now();
    const user = req.user!;
    const parsed = normalizePairingCode(b.code);
    const out = ctx.data.tx((): Outcome<{ deviceId: string; pairingId: string; previousKeyid: string | null }> => {
      ctx.data.pairing.expireDue(now);
      if (!parsed) return fail('LOA_ERR_PAIRING_CODE', 'malformed', `a pairing code has ${PAIRING_CODE_LENGTH} characters from ${PAIRING_ALPHABET}`);
      const candidates = ctx.data.pairing.withLocator(parsed.locator);
      const match = candidates.find((c) => sameHash(secretHash(c.id, parsed.secret), c.secretHash));
      if (!match) {
        // Every wrong secret for a located request counts against it; at the limit it locks.
        const pending = candidates.find((c) => stateAt(c, now) === 'pending');
        if (!pending) return fail('LOA_ERR_PAIRING_CODE', 'unknown', 'no pending pairing request has this code');
        const f = ctx.data.pairing.recordFailure(pending.id, PAIRING_MAX_ATTEMPTS, now);
        return fail('LOA_ERR_PAIRING_CODE', f.state === 'locked' ? 'wrong_secret_locked' : 'wrong_secret', 'no pending pairing request has this code', { pairingId: pending.id, failedAttempts: f.failedAttempts, locked: f.state === 'locked' });
      }
      const state = stateAt(match, now);
      if (state === 'paired') return fail('LOA_ERR_PAIRING_USED', 'used', 'this code has already been used', { pairingId: match.id });
      if (state === 'expired') return fail('LOA_ERR_PAIRING_EXPIRED', 'expired', 'this code has expired; the device must ask for a new one', { pairingId: match.id });
      if (state === 'locked') return fail('LOA_ERR_PAIRING_LOCKED', 'locked', 'this pairing request is locked after too many wrong codes; the device must ask for a new one', { pairingId: match.id });
      if (ctx.data.devices.isKeyRevoked(match.keyid)) return fail('LOA_ERR_PAIRING_KEY_REVOKED', 'key_revoked', 'this device key has been revoked', { pairingId: match.id });
      if (ctx.data.pairing.deviceWithKey(match.keyid)) return fail('LOA_ERR_PAIRING_KEY_IN_USE', 'key_in_use', 'this device key is already bound to a device', { pairingId: match.id });
      const binding = { publicKey: match.publicKey, keyid: match.keyid, hardwareProfile: match.hardwareProfile, agentVersion: match.agentVersion };
      let deviceId: string;
      let previousKeyid: string | null = null;
      if (target) {
        // Replacement hardware keeps the id, the zone and the history; the old key is refused from now on.
        const cur = ctx.data.devices.require(target.id);
        if (cur.state === 'decommissioned') return fail('LOA_ERR_DEVICE_DECOMMISSIONED', 'decommissioned', `device ${cur.id} has been decommissioned; pair a new device instead`, { pairingId: match.id });
        previousKeyid = cur.keyid;
        ctx.data.devices.retireKey(cur.id, 'replace', now);
        ctx.data.devices.bindKey(cur.id, binding, now);
        if (b.name) ctx.data.devices.update(cur.id, { name: b.name }, now);
        deviceId = cur.id;
      } else {
        const d = ctx.data.devices.create({ id: newId('dev'), zoneId, name: b.name ?? `Thiết bị ${match.keyid.slice(0, 8)}`, kind: b.kind ?? 'speaker' }, now);
        ctx.data.devices.bindKey(d.id, binding, now);
        deviceId = d.id;
      }
      ctx.data.pairing.markPaired(match.id, deviceId, user.id, now);
      audit(ctx, req, {
        action: target ? 'device.replace' : 'device.pair', targetType: 'device', targetId: deviceId, zoneId,
        details: { pairingId: match.id, keyid: match.keyid, previousKeyid, hardwareProfile: match.hardwareProfile, hardware: match.hardware },
      });
      return { ok: true, value: { deviceId, pairingId: match.id, previousKeyid } };
    });
    if (!out.ok) {
      // Audited outside the refused transaction, so that the record stays; the code itself is never written.
      ctx.data.audit.add({ actor: user.id, ip: req.ip, action: 'pairing.claim_failed', targetType: 'pairing', targetId: (out.details?.pairingId as string | undefined) ?? null, zoneId, details: { reason: out.reason, error: out.code, ...out.details, ...(target ? { replaceDeviceId: target.id } : {}) } }, now);
      // The answer never says whether the locator matched a pending request.
      throw new LoaError(out.code, out.message);
    }
    ctx.compiler.markDirty([out.value.deviceId]);
    // The old hardware's broker session (if any) goes now; the new hardware connects with its own key.
    if (target) ctx.disconnectDevice(out.value.deviceId);
    const { publicKey: _pk, ...device } = ctx.data.devices.require(out.value.deviceId);
    return reply.code(target ? 200 : 201).send({ device, pairingId: out.value.pairingId, replaced: target !== null });
  });
}

function bearerOf(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : null;
}
