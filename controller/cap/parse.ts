import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { Type, type Static } from '@sinclair/typebox';
import { LoaError } from '../../shared/errors.js';
import { checker } from '../../shared/validate.js';

export const CAP_NS = 'urn:oasis:names:tc:emergency:cap:1.2';
export const CAP_MAX_BYTES = 1024 * 1024;

/** CAP 1.2 dateTime: a full time with an explicit offset (the XSD pattern; "Z" is not allowed). */
const DateTime = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}[-+]\\d{2}:\\d{2}$' });
const Text = (max: number) => Type.String({ minLength: 1, maxLength: max });

export const CapCategory = Type.Union(['Geo', 'Met', 'Safety', 'Security', 'Rescue', 'Fire', 'Health', 'Env', 'Transport', 'Infra', 'CBRNE', 'Other'].map((c) => Type.Literal(c)));
export const CapUrgency = Type.Union(['Immediate', 'Expected', 'Future', 'Past', 'Unknown'].map((c) => Type.Literal(c)));
export const CapSeverity = Type.Union(['Extreme', 'Severe', 'Moderate', 'Minor', 'Unknown'].map((c) => Type.Literal(c)));
export const CapCertainty = Type.Union(['Observed', 'Likely', 'Possible', 'Unlikely', 'Unknown'].map((c) => Type.Literal(c)));
const ValuePair = Type.Object({ valueName: Text(200), value: Text(2000) }, { additionalProperties: false });
const Point = Type.Tuple([Type.Number({ minimum: -90, maximum: 90 }), Type.Number({ minimum: -180, maximum: 180 })]);

export const CapArea = Type.Object(
  {
    areaDesc: Text(4000),
    polygons: Type.Array(Type.Array(Point, { minItems: 4, maxItems: 10_000 }), { maxItems: 100 }),
    circles: Type.Array(Type.Object({ center: Point, radiusKm: Type.Number({ minimum: 0, maximum: 20_000 }) }, { additionalProperties: false }), { maxItems: 100 }),
    geocodes: Type.Array(ValuePair, { maxItems: 10_000 }),
  },
  { additionalProperties: false },
);
export const CapInfo = Type.Object(
  {
    language: Type.String({ maxLength: 35, default: 'en-US' }),
    categories: Type.Array(CapCategory, { minItems: 1, maxItems: 12 }),
    event: Text(1000),
    responseTypes: Type.Array(Type.String({ maxLength: 50 }), { maxItems: 20 }),
    urgency: CapUrgency,
    severity: CapSeverity,
    certainty: CapCertainty,
    effective: Type.Optional(DateTime),
    onset: Type.Optional(DateTime),
    expires: Type.Optional(DateTime),
    senderName: Type.Optional(Text(1000)),
    headline: Type.Optional(Text(1000)),
    description: Type.Optional(Text(20_000)),
    instruction: Type.Optional(Text(20_000)),
    web: Type.Optional(Text(2000)),
    contact: Type.Optional(Text(1000)),
    eventCodes: Type.Array(ValuePair, { maxItems: 100 }),
    parameters: Type.Array(ValuePair, { maxItems: 200 }),
    areas: Type.Array(CapArea, { maxItems: 1000 }),
  },
  { additionalProperties: false },
);
/** A CAP 1.2 alert (OASIS, ITU-T X.1303), as the structure the CAP 1.2 XML schema allows, with coordinates parsed. */
export const CapAlert = Type.Object(
  {
    identifier: Type.String({ minLength: 1, maxLength: 500, pattern: '^[^\\s,<&]+$' }),
    sender: Type.String({ minLength: 1, maxLength: 500, pattern: '^[^\\s,<&]+$' }),
    sent: DateTime,
    status: Type.Union(['Actual', 'Exercise', 'System', 'Test', 'Draft'].map((c) => Type.Literal(c))),
    msgType: Type.Union(['Alert', 'Update', 'Cancel', 'Ack', 'Error'].map((c) => Type.Literal(c))),
    source: Type.Optional(Text(1000)),
    scope: Type.Union(['Public', 'Restricted', 'Private'].map((c) => Type.Literal(c))),
    restriction: Type.Optional(Text(1000)),
    addresses: Type.Optional(Text(10_000)),
    codes: Type.Array(Type.String({ maxLength: 200 }), { maxItems: 100 }),
    note: Type.Optional(Text(10_000)),
    references: Type.Optional(Text(10_000)),
    incidents: Type.Optional(Text(10_000)),
    infos: Type.Array(CapInfo, { maxItems: 100 }),
  },
  { additionalProperties: false, title: 'CAP 1.2 alert' },
);
export type CapAlert = Static<typeof CapAlert>;
export type CapInfo = Static<typeof CapInfo>;
export type CapArea = Static<typeof CapArea>;

const capChecker = checker(CapAlert, 'LOA_ERR_CAP_INVALID');

const ARRAYS = new Set([
  'alert.code', 'alert.info', 'alert.info.category', 'alert.info.responseType', 'alert.info.eventCode', 'alert.info.parameter',
  'alert.info.resource', 'alert.info.area', 'alert.info.area.polygon', 'alert.info.area.circle', 'alert.info.area.geocode',
]);

const parser = new XMLParser({
  ignoreAttributes: false, attributeNamePrefix: '@_', removeNSPrefix: true, ignoreDeclaration: true, ignorePiTags: true,
  // Predefined entities and character references (htmlEntities adds numeric references); a DTD never gets this far.
  processEntities: true, htmlEntities: true, parseTagValue: false, parseAttributeValue: false, trimValues: true,
  isArray: (_name, jpath) => ARRAYS.has(String(jpath)),
});

type Node = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
const pairs = (v: unknown): { valueName: string; value: string }[] => list(v).map((p) => ({ valueName: str((p as Node).valueName) ?? '', value: str((p as Node).value) ?? '' }));
const opt = <K extends string>(k: K, v: unknown): Partial<Record<K, string>> => {
  const s = str(v);
  return s ? ({ [k]: s } as Record<K, string>) : {};
};

function bad(message: string, details?: Record<string, unknown>): LoaError {
  return new LoaError('LOA_ERR_CAP_INVALID', `CAP alert: ${message}`, details ? { details } : {});
}

function point(s: string, where: string): [number, number] {
  const m = /^(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)$/.exec(s);
  if (!m) throw bad(`${where}: "${s.slice(0, 40)}" is not a "lat,lon" pair`);
  return [Number(m[1]), Number(m[2])];
}

function polygon(s: string): [number, number][] {
  const pts = s.trim().split(/\s+/).map((p) => point(p, 'polygon'));
  const [first, last] = [pts[0], pts[pts.length - 1]];
  if (pts.length < 4 || !first || !last || first[0] !== last[0] || first[1] !== last[1]) throw bad('a polygon needs at least four points, the first and last the same');
  return pts;
}

function circle(s: string): { center: [number, number]; radiusKm: number } {
  const m = /^(\S+)\s+(\d+(?:\.\d+)?)$/.exec(s.trim());
  if (!m) throw bad(`circle "${s.slice(0, 60)}" is not "lat,lon radius"`);
  return { center: point(m[1]!, 'circle'), radiusKm: Number(m[2]) };
}

/**
 * Parses and checks a CAP 1.2 alert. XML with a DOCTYPE (and so any entity declaration: XXE, "billion laughs")
 * is refused before parsing; CAP never needs one. The result is checked against the CAP 1.2 structure (required
 * elements, enumerations, dateTime form, coordinates). Throws LOA_ERR_CAP_INVALID with what is wrong.
 */
export function parseCap(input: string | Buffer): CapAlert {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > CAP_MAX_BYTES) throw new LoaError('LOA_ERR_INPUT_TOO_LARGE', `the CAP alert is ${size} bytes; the limit is ${CAP_MAX_BYTES}`);
  const text = typeof input === 'string' ? input : input.toString('utf8');
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw bad('a DOCTYPE or ENTITY declaration is not allowed (CAP needs none; this blocks XXE and entity expansion)');
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw bad(`not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`);
  let doc: Node;
  try {
    doc = parser.parse(text) as Node;
  } catch (e) {
    // The validator passes some documents the parser then refuses (e.g. `<?"xml …?>`): still a coded refusal.
    throw bad(`not well-formed XML: ${(e as Error).message}`);
  }
  const alert = doc.alert as Node | undefined;
  if (!alert || typeof alert !== 'object') throw bad('the root element is not <alert>');
  // The parser drops namespace prefixes (and with them the xmlns attributes), so the root tag is checked as text.
  const root = /<(?:([A-Za-z_][\w.-]*):)?alert\b([^>]*)>/.exec(text);
  const nsAttr = root ? new RegExp(`\\sxmlns${root[1] ? `:${root[1]}` : ''}\\s*=\\s*["']([^"']*)["']`).exec(root[2] ?? '') : null;
  if (nsAttr?.[1] !== CAP_NS) throw bad(`the alert is not in the CAP 1.2 namespace ${CAP_NS}`, { namespace: nsAttr?.[1] ?? null });
  const infos = list(alert.info).map((raw) => {
    const i = raw as Node;
    return {
      ...(str(i.language) ? { language: str(i.language)! } : {}),
      categories: list(i.category).map((c) => str(c) ?? ''),
      event: str(i.event) ?? '',
      responseTypes: list(i.responseType).map((c) => str(c) ?? ''),
      urgency: str(i.urgency) ?? '', severity: str(i.severity) ?? '', certainty: str(i.certainty) ?? '',
      ...opt('effective', i.effective), ...opt('onset', i.onset), ...opt('expires', i.expires), ...opt('senderName', i.senderName),
      ...opt('headline', i.headline), ...opt('description', i.description), ...opt('instruction', i.instruction), ...opt('web', i.web), ...opt('contact', i.contact),
      eventCodes: pairs(i.eventCode), parameters: pairs(i.parameter),
      areas: list(i.area).map((ra) => {
        const a = ra as Node;
        return {
          areaDesc: str(a.areaDesc) ?? '',
          polygons: list(a.polygon).map((p) => polygon(str(p) ?? '')),
          circles: list(a.circle).map((c) => circle(str(c) ?? '')),
          geocodes: pairs(a.geocode),
        };
      }),
    };
  });
  const candidate = {
    identifier: str(alert.identifier) ?? '', sender: str(alert.sender) ?? '', sent: str(alert.sent) ?? '',
    status: str(alert.status) ?? '', msgType: str(alert.msgType) ?? '', scope: str(alert.scope) ?? '',
    ...opt('source', alert.source), ...opt('restriction', alert.restriction), ...opt('addresses', alert.addresses),
    codes: list(alert.code).map((c) => str(c) ?? ''),
    ...opt('note', alert.note), ...opt('references', alert.references), ...opt('incidents', alert.incidents),
    infos,
  };
  return capChecker.parse(candidate, 'CAP alert');
}
