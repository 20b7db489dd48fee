import type { FastifyInstance } from 'fastify';
import { LoaError } from '../../shared/errors.js';
import { CapIngest } from '../cap/ingest.js';
import { CAP_MAX_BYTES } from '../cap/parse.js';
import { EmergencyService } from '../emergency/service.js';
import type { AppContext } from '../http/context.js';
import { actorOf } from './emergency.js';
import { visible } from './helpers.js';

/** The content types a CAP alert is posted with. */
export const CAP_CONTENT_TYPES = ['application/cap+xml', 'application/xml', 'text/xml'];

/**
 * POST /api/v1/cap (issue 6): a CAP 1.2 alert, as raw XML, becomes an emergency order for the poster's zones (see
 * controller/cap/ingest.ts): 201 started at once (auto-start policy), 202 waiting for approval, 200 ignored, a
 * duplicate, or a Cancel carried out. A bad alert is refused with 422 LOA_ERR_CAP_INVALID (DOCTYPE and entities
 * included), audited without its body. The XML parser is registered for this route only.
 */
export function registerCap(app: FastifyInstance, ctx: AppContext): void {
  const ingest = new CapIngest(ctx, new EmergencyService(ctx));
  void app.register(async (scope) => {
    scope.addContentTypeParser(CAP_CONTENT_TYPES, { parseAs: 'buffer', bodyLimit: CAP_MAX_BYTES }, (_req, body, done) => {
      done(null, body);
    });
    scope.post('/api/v1/cap', {
      config: { perm: 'emergency.send' },
      bodyLimit: CAP_MAX_BYTES,
      schema: {
        tags: ['emergency'],
        summary: 'Ingest a CAP 1.2 alert (raw XML: application/cap+xml, application/xml or text/xml; at most 1 MiB) as an emergency order for your zones',
        description: 'Areas map to zones by administrative geocode (VN-ADMIN, MA_DVHC, ISO3166-2) or by receivers inside a polygon or circle. '
          + '201 {action: "auto"} started at once (cap.enabledAuto and the auto-start severities/urgencies); 202 {action: "pending"} waits for '
          + 'POST /api/v1/emergency/:id/approve by another user; 200 {action: "ignore" | "duplicate" | "cancel"}. 422 LOA_ERR_CAP_INVALID for a bad alert.',
      },
    }, async (req, reply) => {
      visible(req, 'emergency.send');
      if (!Buffer.isBuffer(req.body)) {
        throw new LoaError('LOA_ERR_UNSUPPORTED_MEDIA_TYPE', `send the CAP alert as raw XML (${CAP_CONTENT_TYPES.join(', ')})`);
      }
      const r = await ingest.ingest(actorOf(req), req.body, { via: 'api' });
      return reply.code(r.action === 'auto' ? 201 : r.action === 'pending' ? 202 : 200).send(r);
    });
  });
}
