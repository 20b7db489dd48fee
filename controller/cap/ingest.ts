import { LoaError, toLoaError } from '../../shared/errors.js';
import { normalizeVietnamese } from '../../shared/tts/normalize-vi.js';
import { can, scopes } from '../auth/policy.js';
import type { AuditInput } from '../data/audit.js';
import type { CapOrigin, EmergencyOrderRecord, EmergencyProgress } from '../data/emergency.js';
import type { Zone } from '../data/zones.js';
import type { Actor, EmergencyService, EmergencyServiceContext } from '../emergency/service.js';
import { MAX_TTS_CHARS } from '../tts/provider.js';
import { capDecision, type CapZone } from './map.js';
import { parseCap, type CapAlert } from './parse.js';

/** Where an alert came from: posted to the API, or read from a configured feed. */
export type CapSource = { via: 'api' } | { via: 'feed'; feed: string };

/** The alert's identity, as CAP references it (sender, identifier, sent). */
export interface CapRef {
  identifier: string;
  sender: string;
  sent: string;
}

export type CapOutcome =
  | { action: 'ignore'; reason: string; cap: CapRef }
  | { action: 'duplicate'; cap: CapRef; order: EmergencyOrderRecord | null; orderIds: string[] }
  | {
    action: 'auto' | 'pending'; cap: CapRef; order: EmergencyOrderRecord; approvalRequired: boolean; published: number; progress?: EmergencyProgress;
    /** How each matched zone was found (before the poster's scope is applied). */
    matchedBy: Record<string, 'geocode' | 'polygon' | 'circle'>;
    /** Matched zones the poster may not send to (left out of the order). */
    outsideScope: string[];
    /** Why an order that could have started at once waits for approval (null when it started, or was never for auto-start). */
    held: string | null;
  }
  | {
    action: 'cancel'; cap: CapRef;
    cancelled: { order: EmergencyOrderRecord; published: number }[];
    /** Orders of the referenced alerts the poster may not cancel (403, audited). */
    refused: { orderId: string; code: string }[];
    /** Orders of the referenced alerts that had ended already. */
    unchanged: { orderId: string; status: string }[];
    /** References with no order here, or from another sender than the Cancel's (never honoured). */
    unmatched: string[];
  };

const MINUTE = 60_000;
const MAX_TTL_MS = 24 * 60 * MINUTE;

// Characters order titles refuse (controller/http/schemas.ts SAFE_TEXT_PATTERN), besides control characters.
const UNSAFE_TITLE_CHARS = new Set(['\\', '<', '>', ';', '\'', '"', '`']);

/** Makes a CAP headline fit the order title rules (no control characters, \ < > ; ' " `, .., --, comment marks). */
export function safeTitle(text: string): string {
  let t = [...text].map((ch) => { const c = ch.codePointAt(0) ?? 0; return c < 0x20 || c === 0x7f || UNSAFE_TITLE_CHARS.has(ch) ? ' ' : ch; }).join('');
  for (let prev = ''; prev !== t;) {
    prev = t;
    t = t.replace(/\.{2,}/g, '.').replace(/-{2,}/g, '-').replace(/\/\*|\*\//g, ' ');
  }
  t = t.replace(/\s+/g, ' ').trim().slice(0, 200).trim();
  return t || 'Cảnh báo CAP';
}

/** The alert text, shortened by whole sentences until its normalised (spoken) form fits the TTS limit. */
export function fitSpoken(text: string, max = MAX_TTS_CHARS): string {
  let t = text;
  while (t.length > 0 && normalizeVietnamese(t).length > max) {
    const cut = t.slice(0, -1).search(/[.!?…][^.!?…]*$/);
    t = cut > 0 ? `${t.slice(0, cut + 1)}` : t.slice(0, Math.floor(t.length * 0.8)).replace(/\s+\S*$/, '…');
  }
  return t;
}

/** Zones with a subtree above them in the list are dropped: the order addresses each place once. */
function outermost(zones: readonly Zone[]): Zone[] {
  const uniq = [...new Map(zones.map((z) => [z.id, z])).values()];
  return uniq.filter((z) => !uniq.some((o) => o.id !== z.id && z.path.startsWith(o.path))).sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * CAP alerts become emergency orders (issue 6): parse (DTD-free, CAP 1.2 structure) → decision against the
 * province's zones (administrative geocodes; polygons and circles through the receivers' coordinates) → an order
 * through the same EmergencyService as POST /api/v1/emergency, confirmed by the alert itself:
 *
 * - held for approval (the poster counts as the author) unless the alert is in the auto-start policy, automatic
 *   start is switched on (`cap.enabledAuto`), and every matched zone is in the poster's scope;
 * - only for the poster's own zones: a matched zone outside them is left out (a larger zone is narrowed to the
 *   poster's subtrees inside it); nothing in scope → 403;
 * - once per place: an alert (sender + identifier) already made into an order for a zone is not made again there;
 * - a Cancel ends the orders of the alerts it references (same sender only).
 *
 * Every outcome is audited; the XML itself is never logged or stored.
 */
export class CapIngest {
  constructor(private readonly ctx: EmergencyServiceContext, private readonly emergency: EmergencyService) {}

  private audit(actor: Actor, e: Omit<AuditInput, 'actor' | 'ip'>): void {
    this.ctx.data.audit.add({ ...e, actor: actor.user.id, ip: actor.ip }, this.ctx.clock.now());
  }

  /** The zones as CAP mapping sees them: receivers (by coordinates, for their cluster) first, then zones by administrative code. */
  private capZones(zones: readonly Zone[]): CapZone[] {
    const places = this.ctx.data.emergency.devicePlaces().map((p) => ({ id: p.zoneId, code: '', name: '', lat: p.lat, lon: p.lon }));
    // A cluster's code is local (thôn, tổ), not administrative: geocodes never match it.
    return [...places, ...zones.map((z) => ({ id: z.id, code: z.level === 'cluster' ? '' : z.code, name: z.name }))];
  }

  async ingest(actor: Actor, raw: Buffer | string, source: CapSource): Promise<CapOutcome> {
    const via: Record<string, string> = source.via === 'feed' ? { via: 'feed', feed: source.feed } : { via: 'api' };
    if (scopes(actor.user, 'emergency.send').length === 0) {
      throw new LoaError('LOA_ERR_FORBIDDEN', `${actor.user.username} may not send emergency orders`, { details: { permission: 'emergency.send' } });
    }
    let alert: CapAlert;
    try {
      alert = parseCap(raw);
    } catch (e) {
      const err = toLoaError(e, 'LOA_ERR_CAP_INVALID');
      this.audit(actor, { action: 'cap.refused', targetType: 'cap', details: { code: err.code, message: err.message.slice(0, 300), bytes: typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length, ...via } });
      throw err;
    }
    const cap: CapRef = { identifier: alert.identifier, sender: alert.sender, sent: alert.sent };
    const c = this.ctx.config.cap;
    const zones = this.ctx.data.zones.list();
    const decision = capDecision(alert, this.capZones(zones), { geocodeNames: c.geocodeNames, autoStartSeverities: c.autoStartSeverities, autoStartUrgencies: c.autoStartUrgencies });
    const ignore = (reason: string): CapOutcome => {
      this.audit(actor, { action: 'cap.ignore', targetType: 'cap', targetId: cap.identifier, details: { ...cap, msgType: alert.msgType, status: alert.status, reason, ...via } });
      return { action: 'ignore', reason, cap };
    };
    if (decision.action === 'ignore') return ignore(decision.reason);
    if (decision.action === 'cancel') return this.cancel(actor, alert, cap, via);

    const now = this.ctx.clock.now();
    const expiresAt = decision.expiresAt === undefined ? null : Date.parse(decision.expiresAt);
    if (expiresAt !== null && expiresAt - now < MINUTE) return ignore(`expired at ${decision.expiresAt ?? ''}`);
    const ttlMs = expiresAt === null ? c.defaultTtlMinutes * MINUTE : Math.min(expiresAt - now, MAX_TTL_MS);

    // The poster's part of the matched zones: a zone in scope as is; a larger one narrowed to the poster's subtrees inside it.
    const byId = new Map(zones.map((z) => [z.id, z]));
    const matched = outermost(decision.zoneIds.map((id) => byId.get(id)).filter((z): z is Zone => z !== undefined));
    const grants = scopes(actor.user, 'emergency.send').map((p) => byId.get(p.split('/').filter(Boolean).at(-1) ?? '')).filter((z): z is Zone => z !== undefined);
    const outsideScope = matched.filter((z) => !can(actor.user, 'emergency.send', z.path)).map((z) => z.id);
    const mine = outermost(matched.flatMap((z) => (can(actor.user, 'emergency.send', z.path) ? [z] : grants.filter((g) => g.path.startsWith(z.path)))));
    if (mine.length === 0) {
      this.audit(actor, { action: 'cap.refused', targetType: 'cap', targetId: cap.identifier, details: { ...cap, code: 'LOA_ERR_FORBIDDEN', zones: outsideScope, ...via } });
      throw new LoaError('LOA_ERR_FORBIDDEN', `the alert's areas (${outsideScope.slice(0, 10).join(', ')}) lie outside the zones where ${actor.user.username} may send emergency orders`, {
        details: { permission: 'emergency.send', zones: outsideScope },
      });
    }

    // Once per place: zones that an order of this alert covers already are not addressed again.
    const coverage = (): ((z: Zone) => EmergencyOrderRecord | undefined) => {
      const orders = this.ctx.data.emergency.capOrders(cap.sender, cap.identifier).map((o) => ({ o, paths: o.zones.map((id) => byId.get(id)?.path).filter((p): p is string => p !== undefined) }));
      return (z) => orders.find((x) => x.paths.some((p) => z.path.startsWith(p)))?.o;
    };
    const coveredBy = coverage();
    const duplicate = (orders: EmergencyOrderRecord[]): CapOutcome => {
      const order = orders[0] ?? null;
      const readable = order && (() => { const owner = this.ctx.data.zones.get(order.zoneId); return owner !== null && can(actor.user, 'emergency.read', owner.path); })();
      this.audit(actor, { action: 'cap.duplicate', targetType: 'cap', targetId: cap.identifier, zoneId: order?.zoneId ?? null, details: { ...cap, orders: orders.map((o) => o.id), ...via } });
      return { action: 'duplicate', cap, order: readable ? order : null, orderIds: orders.map((o) => o.id) };
    };
    const targets = mine.filter((z) => !coveredBy(z));
    if (targets.length === 0) return duplicate([...new Set(mine.map((z) => coveredBy(z)!))]);

    const info = decision.info;
    const held = decision.action !== 'auto' ? null
      : !c.enabledAuto ? 'automatic start is off (cap.enabledAuto)'
        : outsideScope.length > 0 ? 'some of the alert\'s zones lie outside your zones'
          : null;
    const origin: CapOrigin = { ...cap, expiresAt };
    try {
      const r = await this.emergency.send(actor, {
        title: safeTitle(decision.title), zones: targets.map((z) => z.id), content: { kind: 'tts', text: fitSpoken(decision.text) }, repeat: c.repeat, ttlMs,
      }, {
        confirmation: { by: 'cap' },
        hold: decision.action !== 'auto' || held !== null,
        cap: origin,
        auditDetails: {
          cap: { ...cap, msgType: alert.msgType, event: info.event.slice(0, 200), severity: info.severity, urgency: info.urgency, certainty: info.certainty, decision: decision.action, held, ...via },
          matchedBy: decision.matchedBy, outsideScope,
        },
        // Re-checked inside the transaction: two posts of the same alert at once make one order.
        existing: () => { const fresh = coverage(); return targets.map(fresh).find((o) => o !== undefined) ?? null; },
      });
      if (r.duplicate) return duplicate([r.order]);
      const started = r.order.status === 'active';
      return {
        action: started ? 'auto' : 'pending', cap, order: r.order, approvalRequired: r.approvalRequired, published: r.published, ...(r.progress ? { progress: r.progress } : {}),
        matchedBy: decision.matchedBy, outsideScope,
        held: decision.action === 'auto' && !started ? held ?? 'the two-person rule (emergency.approvalZones)' : null,
      };
    } catch (e) {
      const err = toLoaError(e);
      this.audit(actor, { action: 'cap.failed', targetType: 'cap', targetId: cap.identifier, details: { ...cap, code: err.code, message: err.message.slice(0, 300), zones: targets.map((z) => z.id), ...via } });
      throw err;
    }
  }

  /** A CAP Cancel: ends the active or pending orders made from the alerts it references, when the same sender sent them. */
  private async cancel(actor: Actor, alert: CapAlert, cap: CapRef, via: Record<string, string>): Promise<CapOutcome> {
    const refs = (alert.references ?? '').split(/\s+/).filter(Boolean).map((r) => {
      const [a, b] = r.split(',');
      return b === undefined ? { sender: alert.sender, identifier: a ?? '', text: r } : { sender: a ?? '', identifier: b, text: r };
    });
    const out: Extract<CapOutcome, { action: 'cancel' }> = { action: 'cancel', cap, cancelled: [], refused: [], unchanged: [], unmatched: [] };
    this.ctx.data.emergency.expireDue(this.ctx.clock.now());
    for (const ref of refs) {
      const orders = ref.sender === alert.sender ? this.ctx.data.emergency.capOrders(ref.sender, ref.identifier) : [];
      if (orders.length === 0) out.unmatched.push(ref.text.slice(0, 300));
      for (const o of orders) {
        if (o.status !== 'active' && o.status !== 'pending_approval') {
          out.unchanged.push({ orderId: o.id, status: o.status });
          continue;
        }
        try {
          const r = await this.emergency.cancel(actor, o.id, { cap: { ...cap, references: ref.identifier, ...via } });
          out.cancelled.push({ order: r.order, published: r.published });
        } catch (e) {
          const err = toLoaError(e);
          if (err.code !== 'LOA_ERR_FORBIDDEN' && err.code !== 'LOA_ERR_EMERGENCY_STATE') throw err;
          out.refused.push({ orderId: o.id, code: err.code });
        }
      }
    }
    this.audit(actor, {
      action: 'cap.cancel', targetType: 'cap', targetId: cap.identifier,
      details: { ...cap, references: refs.map((r) => r.text.slice(0, 300)).slice(0, 50), cancelled: out.cancelled.map((x) => x.order.id), refused: out.refused, unchanged: out.unchanged, unmatched: out.unmatched.slice(0, 50), ...via },
    });
    return out;
  }
}
