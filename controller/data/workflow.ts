import { LoaError } from '../../shared/errors.js';

/** Approval states of programs and schedules: draft → pending → approved | rejected; anything → archived. */
export const STATES = ['draft', 'pending', 'approved', 'rejected', 'archived'] as const;
export type ApprovalState = (typeof STATES)[number];
export type Transition = 'submit' | 'approve' | 'reject' | 'archive' | 'reopen';

const NEXT: Record<Transition, { from: readonly ApprovalState[]; to: ApprovalState }> = {
  submit: { from: ['draft', 'rejected'], to: 'pending' },
  approve: { from: ['pending'], to: 'approved' },
  reject: { from: ['pending'], to: 'rejected' },
  archive: { from: ['draft', 'pending', 'approved', 'rejected'], to: 'archived' },
  reopen: { from: ['approved', 'rejected', 'archived'], to: 'draft' },
};

export function transition(current: ApprovalState, t: Transition): ApprovalState {
  const rule = NEXT[t];
  if (!rule.from.includes(current)) {
    throw new LoaError('LOA_ERR_WORKFLOW_STATE', `cannot ${t} an item that is ${current}; possible from: ${rule.from.join(', ')}`, { details: { state: current, action: t } });
  }
  return rule.to;
}
