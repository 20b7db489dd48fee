import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../http/context.js';
import { Params } from '../http/schemas.js';
import { transition, type ApprovalState, type Transition } from '../data/workflow.js';
import { audit, authz } from './helpers.js';

export interface WorkflowTarget {
  kind: 'program' | 'schedule';
  load(id: string): { zoneId: string; status: ApprovalState; createdBy: string };
  save(id: string, status: ApprovalState, by: string, now: number): unknown;
  /** Checks to run before approving (e.g. the program of a schedule must be approved). */
  beforeApprove?(id: string, req: FastifyRequest): void;
  /** Devices to recompile after the state changed. */
  affected(id: string): string[];
}

const ACTIONS: Transition[] = ['submit', 'approve', 'reject', 'archive', 'reopen'];

/**
 * The approval workflow routes: POST /…/:id/{submit,approve,reject,archive,reopen}. Submitting needs write
 * rights; approving and rejecting need approval rights for the zone (admins, or operators granted them).
 * Only approved items air. Every change is in the audit log.
 */
export function registerWorkflow(app: FastifyInstance, ctx: AppContext, base: string, t: WorkflowTarget): void {
  for (const action of ACTIONS) {
    const perm = action === 'approve' || action === 'reject' ? 'approve' : t.kind === 'program' ? 'program.write' : 'schedule.write';
    app.post(`${base}/:id/${action}`, {
      config: { perm },
      schema: { tags: [`${t.kind}s`], summary: `${action} (approval workflow)`, params: Params, body: Type.Optional(Type.Object({ comment: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false })) },
    }, async (req) => {
      const { id } = req.params as { id: string };
      const cur = t.load(id);
      authz(ctx, req, perm, cur.zoneId);
      const next = transition(cur.status, action);
      if (action === 'approve') t.beforeApprove?.(id, req);
      const now = ctx.clock.now();
      const saved = ctx.data.tx(() => {
        const out = t.save(id, next, req.user!.id, now);
        audit(ctx, req, { action: `${t.kind}.${action}`, targetType: t.kind, targetId: id, zoneId: cur.zoneId, details: { from: cur.status, to: next, comment: (req.body as { comment?: string } | undefined)?.comment } });
        return out;
      });
      if (cur.status === 'approved' || next === 'approved') ctx.compiler.markDirty(t.affected(id));
      return { [t.kind]: saved };
    });
  }
}
