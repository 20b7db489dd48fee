// rrule ships CommonJS whose named exports Node's ESM loader cannot see: import it once here.
import rrulePkg from 'rrule';

export const { RRule, rrulestr } = rrulePkg;
export type RRule = InstanceType<typeof rrulePkg.RRule>;
