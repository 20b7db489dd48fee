import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { capDecision, capText, distanceKm, pointInPolygon, type CapZone } from '../../../controller/cap/map.js';
import { parseCap } from '../../../controller/cap/parse.js';
import { isLoaError } from '../../../shared/errors.js';
import { normalizeVietnamese } from '../../../shared/tts/normalize-vi.js';

const FIX = join(import.meta.dirname, '..', '..', '..', '..', 'test', 'fixtures', 'cap');
const fixture = (name: string): string => readFileSync(join(FIX, name), 'utf8');

const invalid = (xml: string, re: RegExp): void => {
  assert.throws(() => parseCap(xml), (e: unknown) => isLoaError(e) && e.code === 'LOA_ERR_CAP_INVALID' && re.test(e.message), String(re));
};

test('the four OASIS CAP 1.2 examples parse, with their areas, geocodes, polygon and circle', () => {
  const a1 = parseCap(fixture('oasis-example-1.xml'));
  assert.equal(a1.identifier, '43b080713727');
  assert.deepEqual(a1.infos[0]!.categories, ['Security']);
  assert.equal(a1.infos[0]!.parameters[0]!.value, 'ORANGE');
  const a2 = parseCap(fixture('oasis-example-2.xml'));
  assert.equal(a2.infos[0]!.areas[0]!.polygons[0]!.length, 5);
  assert.deepEqual(a2.infos[0]!.areas[0]!.geocodes.map((g) => g.value), ['006109', '006009', '006003']);
  assert.equal(a2.infos[0]!.expires, '2003-06-17T16:00:00-07:00');
  const a3 = parseCap(fixture('oasis-example-3.xml'));
  assert.equal(a3.msgType, 'Update');
  assert.deepEqual(a3.infos[0]!.areas[0]!.circles[0], { center: [32.9525, -115.5527], radiusKm: 0 });
  const a4 = parseCap(fixture('oasis-example-4.xml'));
  assert.deepEqual(a4.infos.map((i) => i.language), ['en-US', 'es-US']);
  assert.match(a4.infos[1]!.event, /Abducción/);
});

const ZONES: CapZone[] = [
  { id: 'T46', code: '46', name: 'Thành phố Huế' },
  { id: 'X19753', code: '19753', name: 'Xã Phú Thuận' },
  { id: 'X19756', code: '19756', name: 'Phường Thuận An', lat: 16.55, lon: 107.64 },
  { id: 'X19999', code: '19999', name: 'Xã miền núi', lat: 16.2, lon: 107.3 },
];

test('a Vietnamese storm warning maps to zones by geocode and polygon, starts at once, and reads well after normalisation', () => {
  const alert = parseCap(fixture('vn-storm.xml'));
  const d = capDecision(alert, ZONES);
  assert.equal(d.action, 'auto');
  if (d.action !== 'auto') return;
  assert.deepEqual(d.zoneIds, ['X19753', 'X19756']);
  assert.deepEqual(d.matchedBy, { X19753: 'geocode', X19756: 'polygon' });
  assert.equal(d.title, 'Tin bão khẩn cấp cơn bão số 9');
  assert.equal(d.expiresAt, '2026-11-24T03:00:00.000Z');
  const spoken = normalizeVietnamese(d.text);
  assert.match(spoken, /bảy giờ ngày hai mươi ba tháng mười một/);
  assert.match(spoken, /hai trăm đến ba trăm mi li mét/);
  assert.match(spoken, /Ủy ban nhân dân các xã ven biển/);
  assert.doesNotMatch(spoken, /\d/);
  // A Severe (not Extreme) warning waits for an operator.
  const severe = parseCap(fixture('vn-storm.xml').replace('<severity>Extreme</severity>', '<severity>Severe</severity>'));
  assert.equal(capDecision(severe, ZONES).action, 'pending');
});

test('alerts that are not for this province, not Actual, Past, or Cancels are handled without an emergency', () => {
  assert.deepEqual(capDecision(parseCap(fixture('oasis-example-2.xml')), ZONES), { action: 'ignore', reason: 'no zone of this province in the alert areas' });
  assert.deepEqual(capDecision(parseCap(fixture('oasis-example-3.xml')), ZONES), { action: 'ignore', reason: 'urgency Past' });
  assert.deepEqual(capDecision(parseCap(fixture('vn-storm.xml').replace('<status>Actual</status>', '<status>Exercise</status>')), ZONES), { action: 'ignore', reason: 'status Exercise' });
  const cancel = fixture('vn-storm.xml').replace('<msgType>Alert</msgType>', '<msgType>Cancel</msgType>\n  <references>canhbao@nchmf.gov.vn,NCHMF-2026-BAO9-02,2026-11-23T07:00:00+07:00</references>');
  assert.deepEqual(capDecision(parseCap(cancel), ZONES), { action: 'cancel', references: ['NCHMF-2026-BAO9-02'] });
  // Vietnamese is preferred when an alert has several languages.
  const bilingual = fixture('vn-storm.xml').replace('<info>', '<info><language>en-US</language><category>Met</category><event>Typhoon</event><urgency>Immediate</urgency><severity>Extreme</severity><certainty>Observed</certainty><headline>Typhoon 9</headline><area><areaDesc>x</areaDesc></area></info>\n  <info>');
  const d = capDecision(parseCap(bilingual), ZONES);
  assert.equal(d.action === 'auto' ? d.title : '', 'Tin bão khẩn cấp cơn bão số 9');
});

test('XXE, entity expansion and malformed or off-schema CAP are refused with a clear reason', () => {
  const xxe = `<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY x SYSTEM "file:///etc/passwd">]><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&x;</identifier></alert>`;
  invalid(xxe, /DOCTYPE or ENTITY/);
  const lol = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><alert>&lol2;</alert>`;
  invalid(lol, /DOCTYPE or ENTITY/);
  invalid('<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier>', /not well-formed/);
  invalid(fixture('vn-storm.xml').replace('cap:1.2', 'cap:1.1'), /namespace/);
  invalid(fixture('vn-storm.xml').replace('<status>Actual</status>', '<status>Real</status>'), /status/);
  invalid(fixture('vn-storm.xml').replace('<sent>2026-11-23T10:00:00+07:00</sent>', '<sent>2026-11-23T03:00:00Z</sent>'), /sent/);
  invalid(fixture('vn-storm.xml').replace(/<severity>.*<\/severity>/, ''), /severity/);
  invalid(fixture('vn-storm.xml').replace('16.40,107.50 16.40,107.80', '16.40,107.50 16.40,abc'), /lat,lon/);
  invalid(fixture('vn-storm.xml').replace('16.70,107.50 16.40,107.50', '16.70,107.50 16.41,107.50'), /first and last/);
  assert.throws(() => parseCap(`<alert>${'x'.repeat(1024 * 1024)}</alert>`), (e: unknown) => isLoaError(e) && e.code === 'LOA_ERR_INPUT_TOO_LARGE');
  // Predefined entities and character references are still text, not markup.
  const amp = parseCap(fixture('vn-storm.xml').replace('Bão</event>', 'Bão &amp; lũ &#7889;</event>'));
  assert.equal(amp.infos[0]!.event, 'Bão & lũ ố');
});

test('geometry: point in polygon and great-circle distance', () => {
  const square: [number, number][] = [[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]];
  assert.equal(pointInPolygon(0.5, 0.5, square), true);
  assert.equal(pointInPolygon(1.5, 0.5, square), false);
  // Huế to Đà Nẵng is about 80 km as the crow flies.
  const km = distanceKm([16.4637, 107.5909], [16.0544, 108.2022]);
  assert.ok(km > 75 && km < 82, `${km}`);
  assert.equal(capText({ headline: 'A', description: 'A', instruction: 'B!' } as never), 'A. B!');
});
