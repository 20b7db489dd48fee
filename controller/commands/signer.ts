import { canonicalize, makeSigner } from '../../shared/crypto.js';
import { LoaError } from '../../shared/errors.js';
import { COMMAND_MAX_BYTES, DeviceCommand } from '../../shared/schemas/command.js';
import { checker } from '../../shared/validate.js';

const commandChecker = checker(DeviceCommand, 'LOA_ERR_COMMAND_INVALID');

/** Signs device commands with the schedule key in force (see README, Device commands: why that key). */
export interface CommandSigner {
  readonly keyid: string;
  /** Schema-checks the command and returns the canonical signed envelope text (≤ COMMAND_MAX_BYTES). */
  sign(c: DeviceCommand): string;
}

export function commandSigner(scheduleKeyPem: string): CommandSigner {
  const s = makeSigner(scheduleKeyPem);
  return {
    keyid: s.keyid,
    sign(c) {
      commandChecker.parse(c, `device command ${c.commandId}`);
      const text = s.signCanonical(canonicalize(c));
      if (Buffer.byteLength(text) > COMMAND_MAX_BYTES) throw new LoaError('LOA_ERR_INPUT_TOO_LARGE', `the signed command is larger than ${COMMAND_MAX_BYTES} bytes`);
      return text;
    },
  };
}
