import fastifyCookie from '@fastify/cookie';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import fastifyMultipart from '@fastify/multipart';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { Fastify, type FastifyInstance } from './fastify.js';
import type { AppContext } from './context.js';
import { installErrorHandling } from './errors.js';
import { authModeOf, registerAuth } from './auth.js';
import { ErrorBody } from './schemas.js';
import { registerRoutes } from '../routes/index.js';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export interface RouteInfo {
  method: string;
  url: string;
  auth: string;
  perm: string | undefined;
}

/**
 * The Fastify application: one plugin per domain (DESIGN §5). Bodies are checked by ajv against TypeBox
 * schemas (allErrors), errors leave as `{error: {code, message, vi}}`, and every route is authenticated
 * unless it is marked public. `routes` lists every route with its auth mode and permission (the
 * authorization matrix test walks it).
 */
export async function buildApp(ctx: AppContext): Promise<{ app: FastifyInstance; routes: RouteInfo[] }> {
  const app = Fastify({
    logger: false,
    trustProxy: ctx.config.http.trustProxy,
    bodyLimit: 1024 * 1024,
  });
  // Bodies are checked strictly (no type coercion: a number is not a name); query strings and path parameters
  // arrive as text, so there numbers and booleans are coerced.
  const strict = new Ajv({ allErrors: true, removeAdditional: false, coerceTypes: false, useDefaults: true, strict: false });
  const coercing = new Ajv({ allErrors: true, removeAdditional: false, coerceTypes: 'array', useDefaults: true, strict: false });
  for (const a of [strict, coercing]) addFormats(a);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema));
  const routes: RouteInfo[] = [];
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const m of methods) if (m !== 'HEAD') routes.push({ method: m, url: r.url, auth: authModeOf(r.url, r.config?.auth), perm: r.config?.perm });
  });
  installErrorHandling(app, ctx.log);
  app.addSchema(ErrorBody);
  await app.register(fastifyCookie);
  await app.register(fastifyRateLimit, { global: false });
  await app.register(fastifyMultipart, { preservePath: true, limits: { fileSize: ctx.config.media.maxUploadBytes + 1, files: 1, fields: 10, fieldSize: 4096, parts: 12 } });
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'loaphuong controller API', version: '1', description: 'Zones, users, devices, media, programs, schedules, manifests and telemetry of the grassroots information system (thông tin cơ sở). Errors are `{error: {code, message, vi}}`.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A session token from POST /api/v1/auth/login, an API token (loat_…, POST /api/v1/users/:id/tokens), or a device token (loa1.…)' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
  app.addContentTypeParser(['text/csv', 'text/plain'], { parseAs: 'string', bodyLimit: 8 * 1024 * 1024 }, (_req, body, done) => done(null, body));
  registerAuth(app, ctx);
  registerRoutes(app, ctx);
  return { app, routes };
}
