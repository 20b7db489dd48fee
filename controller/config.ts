import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { LoaError } from '../shared/errors.js';
import { checker, parseJsonText } from '../shared/validate.js';

// CAP 1.2 <severity> and <urgency> values (the same lists as controller/cap/parse.ts).
const CAP_SEVERITIES = ['Extreme', 'Severe', 'Moderate', 'Minor', 'Unknown'] as const;
const CAP_URGENCIES = ['Immediate', 'Expected', 'Future', 'Past', 'Unknown'] as const;

const port = (def: number | undefined, description: string) => Type.Integer({ minimum: 0, maximum: 65535, ...(def === undefined ? {} : { default: def }), description });

/** The controller configuration (DESIGN §6): a JSON file, then environment variables on top, then checked. */
export const ControllerConfig = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, default: '.loa-controller', description: 'Database, media and keys live here' }),
    http: Type.Object(
      {
        host: Type.String({ default: '0.0.0.0', description: 'Address the HTTP API and dashboard listen on' }),
        port: port(8080, 'HTTP port (0 = any free port)'),
        publicUrl: Type.Optional(Type.String({ pattern: '^https?://', description: 'URL devices use to reach the API (default http://<host>:<port>)' })),
        trustProxy: Type.Boolean({ default: false, description: 'Take the client address from X-Forwarded-For (behind a reverse proxy)' }),
      },
      { additionalProperties: false, default: {} },
    ),
    mqtt: Type.Object(
      {
        url: Type.Optional(Type.String({ pattern: '^(mqtts?|wss?|tcp)://', description: 'External broker (Mosquitto, EMQX); when set, no broker is embedded' })),
        username: Type.Optional(Type.String({ description: 'Controller user on the external broker' })),
        password: Type.Optional(Type.String({ description: 'Controller password on the external broker' })),
        host: Type.String({ default: '0.0.0.0', description: 'Embedded broker listen address' }),
        port: port(1883, 'Embedded broker TCP port (0 = any free port)'),
        wsPort: Type.Optional(port(undefined, 'Embedded broker MQTT-over-WebSocket port')),
        publicUrl: Type.Optional(Type.String({ pattern: '^(mqtts?|wss?|tcp)://', description: 'Broker URL handed to devices at enrollment' })),
      },
      { additionalProperties: false, default: {} },
    ),
    keysDir: Type.Optional(Type.String({ description: 'Folder with root.json, schedule.key and emergency.key (default <dataDir>/keys)' })),
    media: Type.Object(
      {
        maxUploadBytes: Type.Integer({ minimum: 1024, default: 200 * 1024 * 1024, description: 'Largest accepted upload' }),
        loudnessLufs: Type.Number({ minimum: -40, maximum: -5, default: -16, description: 'EBU R128 integrated loudness target' }),
      },
      { additionalProperties: false, default: {} },
    ),
    manifests: Type.Object(
      {
        validityDays: Type.Integer({ minimum: 1, maximum: 365, default: 14, description: 'How long a signed manifest is valid' }),
        renewBeforeDays: Type.Integer({ minimum: 0, maximum: 364, default: 7, description: 'Re-sign manifests this long before they expire' }),
        debounceMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 100, description: 'Coalesce changes before recompiling' }),
      },
      { additionalProperties: false, default: {} },
    ),
    auth: Type.Object(
      {
        sessionTtlHours: Type.Number({ minimum: 0.1, maximum: 720, default: 12 }),
        loginAttemptsPerMinute: Type.Integer({ minimum: 1, maximum: 1000, default: 10, description: 'Per client address' }),
        loginFreeFailuresPerAccount: Type.Integer({ minimum: 1, maximum: 1000, default: 5, description: 'Failed sign-ins in a row for one user name (from any address) before each further attempt must wait, 5 s doubling up to 15 min' }),
        enrollTokenTtlHours: Type.Number({ minimum: 0.1, maximum: 720, default: 72 }),
      },
      { additionalProperties: false, default: {} },
    ),
    pairing: Type.Object(
      {
        codeTtlMinutes: Type.Number({ minimum: 0.05, maximum: 1440, default: 15, description: 'How long an on-site pairing code stays valid' }),
        requestsPerMinute: Type.Integer({ minimum: 1, maximum: 10_000, default: 20, description: 'Pairing requests (new codes) per client address' }),
        claimsPerMinute: Type.Integer({ minimum: 1, maximum: 10_000, default: 20, description: 'Code entries (claims) per signed-in user' }),
      },
      { additionalProperties: false, default: {} },
    ),
    retention: Type.Object(
      {
        telemetryDays: Type.Integer({ minimum: 1, default: 30 }),
        eventsDays: Type.Integer({ minimum: 1, default: 180 }),
        playsDays: Type.Integer({ minimum: 1, default: 400 }),
      },
      { additionalProperties: false, default: {} },
    ),
    tts: Type.Object(
      {
        url: Type.Optional(Type.String({ pattern: '^https?://', maxLength: 2048, description: 'An external TTS engine: POST {text, voice, language} as JSON, audio back. Default: espeak-ng, offline' })),
        token: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'Bearer token for the external TTS engine (never logged)' })),
        voice: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+_.:-]{1,64}$', description: 'Default voice (espeak-ng: vi)' })),
      },
      { additionalProperties: false, default: {} },
    ),
    emergency: Type.Object(
      {
        approvalZones: Type.Array(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' }), {
          maxItems: 1000, default: [], description: 'Two-person rule: an emergency order touching one of these zone subtrees waits for a second user to approve it',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    cap: Type.Object(
      {
        enabledAuto: Type.Boolean({
          default: false,
          description: 'Start CAP alerts of the auto-start severities and urgencies at once, without an operator. Off by default: automatic start must be switched on deliberately; otherwise every matching alert waits for approval',
        }),
        autoStartSeverities: Type.Array(Type.Union(CAP_SEVERITIES.map((v) => Type.Literal(v))), {
          uniqueItems: true, maxItems: CAP_SEVERITIES.length, default: ['Extreme'], description: 'CAP severities that start at once (with enabledAuto and an auto-start urgency)',
        }),
        autoStartUrgencies: Type.Array(Type.Union(CAP_URGENCIES.map((v) => Type.Literal(v))), {
          uniqueItems: true, maxItems: CAP_URGENCIES.length, default: ['Immediate'], description: 'CAP urgencies that start at once (with enabledAuto and an auto-start severity)',
        }),
        geocodeNames: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
          maxItems: 20, default: ['VN-ADMIN', 'MA_DVHC', 'ISO3166-2'], description: 'CAP geocode valueNames whose values are administrative codes, matched against the zones\' codes',
        }),
        defaultTtlMinutes: Type.Integer({ minimum: 1, maximum: 1440, default: 60, description: 'Lifetime of an order made from an alert without <expires> (an alert\'s own expiry is capped at 24 h)' }),
        repeat: Type.Integer({ minimum: 1, maximum: 20, default: 1, description: 'How many times receivers play an order made from a CAP alert' }),
        feeds: Type.Array(
          Type.Object(
            {
              url: Type.String({ pattern: '^https?://', maxLength: 2048, description: 'An Atom or RSS index of CAP alerts, or a single CAP document' }),
              intervalSeconds: Type.Integer({ minimum: 10, maximum: 86_400, default: 60, description: 'Polling interval (ETag / If-Modified-Since make an unchanged feed cheap)' }),
              actAs: Type.String({ minLength: 1, maxLength: 100, description: 'Username whose zones and rights the feed\'s alerts are handled with (audited as that user)' }),
              allowedHosts: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), {
                maxItems: 20, description: 'Hosts the index may link CAP documents on (default: the feed\'s own host only)',
              })),
            },
            { additionalProperties: false },
          ),
          { maxItems: 50, default: [], description: 'CAP feeds polled by the controller; each new alert goes the way of POST /api/v1/cap' },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    logLevel: Type.Union([Type.Literal('trace'), Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('silent')], { default: 'info' }),
  },
  { additionalProperties: false, title: 'controller configuration' },
);
export type ControllerConfig = Static<typeof ControllerConfig>;

const configChecker = checker(ControllerConfig, 'LOA_ERR_CONFIG_INVALID');

type Json = Record<string, unknown>;

function set(o: Json, path: string[], value: unknown): void {
  let cur = o;
  for (const k of path.slice(0, -1)) cur = (cur[k] ??= {}) as Json;
  cur[path[path.length - 1]!] = value;
}

/** Environment variables that override the file: name → [path, type]. */
export const ENV_VARS: Record<string, [string[], 'string' | 'int']> = {
  LOA_DATA_DIR: [['dataDir'], 'string'],
  LOA_HTTP_HOST: [['http', 'host'], 'string'],
  PORT: [['http', 'port'], 'int'],
  LOA_HTTP_PORT: [['http', 'port'], 'int'],
  LOA_PUBLIC_URL: [['http', 'publicUrl'], 'string'],
  MQTT_URL: [['mqtt', 'url'], 'string'],
  MQTT_USERNAME: [['mqtt', 'username'], 'string'],
  MQTT_PASSWORD: [['mqtt', 'password'], 'string'],
  LOA_MQTT_PORT: [['mqtt', 'port'], 'int'],
  LOA_MQTT_WS_PORT: [['mqtt', 'wsPort'], 'int'],
  LOA_MQTT_PUBLIC_URL: [['mqtt', 'publicUrl'], 'string'],
  LOA_KEYS_DIR: [['keysDir'], 'string'],
  LOA_LOG_LEVEL: [['logLevel'], 'string'],
  LOA_TTS_URL: [['tts', 'url'], 'string'],
  LOA_TTS_TOKEN: [['tts', 'token'], 'string'],
};

/**
 * Loads the configuration: `file` (or $LOA_CONFIG) if given, then the environment, then `overrides`; checked
 * against the schema with every problem reported (LOA_ERR_CONFIG_INVALID), defaults applied, result frozen.
 */
export function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env, overrides: Json = {}): ControllerConfig {
  const path = file ?? env.LOA_CONFIG;
  let base: Json = {};
  if (path) {
    if (!existsSync(path)) throw new LoaError('LOA_ERR_CONFIG_NOT_FOUND', `configuration file ${path} does not exist`);
    const parsed = parseJsonText(readFileSync(path), 1024 * 1024, `configuration file ${path}`);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new LoaError('LOA_ERR_CONFIG_INVALID', `${path} must hold a JSON object`);
    base = parsed as Json;
  }
  const merged = structuredClone(base);
  for (const [name, [p, type]] of Object.entries(ENV_VARS)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const value = type === 'int' ? Number(raw) : raw;
    if (type === 'int' && !Number.isInteger(value)) throw new LoaError('LOA_ERR_CONFIG_INVALID', `environment variable ${name}=${raw} must be an integer`);
    set(merged, p, value);
  }
  for (const [k, v] of Object.entries(overrides)) {
    merged[k] = v && typeof v === 'object' && !Array.isArray(v) ? { ...(merged[k] as Json | undefined), ...(v as Json) } : v;
  }
  return configChecker.parse(merged, path ? `configuration (${path})` : 'configuration');
}

export function keysDirOf(c: ControllerConfig): string {
  return resolve(c.keysDir ?? resolve(c.dataDir, 'keys'));
}

export function publicHttpUrl(c: ControllerConfig, boundPort: number): string {
  if (c.http.publicUrl) return c.http.publicUrl.replace(/\/$/, '');
  const host = c.http.host === '0.0.0.0' || c.http.host === '::' ? '127.0.0.1' : c.http.host;
  return `http://${host}:${boundPort}`;
}
