import type { FastifyInstance, FastifyReply } from 'fastify';
import { createPublicKey } from 'node:crypto';
import { canonicalize } from '../../shared/crypto.js';
import { LoaError } from '../../shared/errors.js';
import { PublicFeedRepo, type PublicAlert } from '../data/public-feed.js';
import { EMERGENCY_KEY_HINT, type EmergencySigner } from '../emergency/signer.js';
import type { AppContext } from '../http/context.js';

/** How long a fetched feed document is valid: a player must not keep showing (or accept a replay of) an old one. */
export const FEED_VALIDITY_MS = 5 * 60_000;
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const xml = (s: string): string => s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!)
  // Control characters are not allowed in XML 1.0.
  // eslint-disable-next-line no-control-regex
  .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
const zonesText = (a: PublicAlert): string => a.zones.map((z) => z.name).join(', ');
const summary = (a: PublicAlert): string => `${a.text ?? a.title} (${zonesText(a)}; hết hiệu lực ${a.expiresAt})`;

export interface FeedDocument {
  _type: 'loa.emergency-feed';
  schemaVersion: 1;
  issuer: string;
  keyid: string;
  generatedAt: string;
  expiresAt: string;
  alerts: PublicAlert[];
}

export function renderRss(doc: FeedDocument): string {
  const items = doc.alerts.map((a) => `<item><guid isPermaLink="false">${xml(a.id)}</guid><title>${xml(a.title)}</title><description>${xml(summary(a))}</description>`
    + `<pubDate>${new Date(a.issuedAt).toUTCString()}</pubDate>${a.zones.map((z) => `<category>${xml(z.name)}</category>`).join('')}</item>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>Cảnh báo khẩn cấp</title><link>${xml(doc.issuer)}</link>`
    + `<description>Lệnh phát khẩn cấp đang có hiệu lực (ký bởi khóa khẩn cấp ${doc.keyid})</description><language>vi</language>`
    + `<lastBuildDate>${new Date(doc.generatedAt).toUTCString()}</lastBuildDate><ttl>1</ttl>${items}</channel></rss>\n`;
}

export function renderAtom(doc: FeedDocument): string {
  const entries = doc.alerts.map((a) => `<entry><id>urn:loa:emergency:${xml(a.id)}</id><title>${xml(a.title)}</title><updated>${a.issuedAt}</updated>`
    + `<summary>${xml(summary(a))}</summary>${a.zones.map((z) => `<category term="${xml(z.id)}" label="${xml(z.name)}"/>`).join('')}</entry>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="vi"><id>urn:loa:emergency-feed:${xml(doc.issuer)}</id>`
    + `<title>Cảnh báo khẩn cấp</title><updated>${doc.generatedAt}</updated><author><name>loaphuong</name></author>${entries}</feed>\n`;
}

/** The emergency public key as SPKI PEM (for `openssl pkeyutl -verify`). */
export function publicKeyPem(publicKeyB64: string): string {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(publicKeyB64, 'base64')]), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }).toString();
}

/**
 * The public emergency feed for third-party screens (issue 8): the emergency orders in force, as canonical JSON
 * (RFC 8785), RSS 2.0 and Atom. Each response is signed with the emergency key, a detached Ed25519 signature
 * over exactly the bytes of the body, in `x-loa-signature` (base64) with `x-loa-keyid`. The key itself is at
 * /api/v1/public/emergency/key (pin it, or check it against the root metadata). No authentication.
 */
export function registerPublicFeed(app: FastifyInstance, ctx: AppContext): void {
  const repo = new PublicFeedRepo(ctx.data.db);
  const signer = (): EmergencySigner => {
    const s = ctx.emergency.signer();
    if (!s) throw new LoaError('LOA_ERR_EMERGENCY_KEY_MISSING', `the controller has no emergency key: ${EMERGENCY_KEY_HINT}`);
    return s;
  };
  const doc = (s: EmergencySigner): FeedDocument => {
    const now = ctx.clock.now();
    return {
      _type: 'loa.emergency-feed', schemaVersion: 1, issuer: ctx.urls.http(), keyid: s.keyid,
      generatedAt: new Date(now).toISOString(), expiresAt: new Date(now + FEED_VALIDITY_MS).toISOString(), alerts: repo.activeAlerts(now),
    };
  };
  const send = (reply: FastifyReply, s: EmergencySigner, type: string, text: string): FastifyReply => {
    const body = Buffer.from(text, 'utf8');
    return reply.type(type).header('cache-control', 'public, max-age=10').header('access-control-allow-origin', '*')
      .header('access-control-expose-headers', 'x-loa-signature, x-loa-keyid').header('x-loa-keyid', s.keyid).header('x-loa-signature', s.detached(body)).send(body);
  };
  const opts = (summary: string): { config: { auth: 'public'; rateLimit: { max: number; timeWindow: number } }; schema: { tags: string[]; summary: string } } => ({
    config: { auth: 'public', rateLimit: { max: 120, timeWindow: 60_000 } }, schema: { tags: ['public'], summary },
  });

  app.get('/api/v1/public/emergency/feed.json', opts('Emergency orders in force, canonical JSON signed with the emergency key (x-loa-signature over the body bytes)'), async (_req, reply) => {
    const s = signer();
    return send(reply, s, 'application/json; charset=utf-8', canonicalize(doc(s)));
  });
  app.get('/api/v1/public/emergency/feed.rss', opts('The same alerts as RSS 2.0 (signed the same way)'), async (_req, reply) => {
    const s = signer();
    return send(reply, s, 'application/rss+xml; charset=utf-8', renderRss(doc(s)));
  });
  app.get('/api/v1/public/emergency/feed.atom', opts('The same alerts as Atom (signed the same way)'), async (_req, reply) => {
    const s = signer();
    return send(reply, s, 'application/atom+xml; charset=utf-8', renderAtom(doc(s)));
  });
  app.get('/api/v1/public/emergency/key', opts('The emergency public key that signs the feed (Ed25519: raw base64 and SPKI PEM)'), async () => {
    const s = signer();
    return { keyid: s.keyid, keytype: 'ed25519', public: s.publicKey, pem: publicKeyPem(s.publicKey) };
  });
}
