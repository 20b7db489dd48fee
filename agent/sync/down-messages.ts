import { LoaError } from '../../shared/errors.js';
import { Notify } from '../../shared/schemas/telemetry.js';
import { checker, parseJsonText } from '../../shared/validate.js';

const notifyChecker = checker(Notify, 'LOA_ERR_MQTT_PAYLOAD');
/** Down messages are small; anything bigger is refused before parsing. */
export const DOWN_MAX_BYTES = 64 * 1024;

/** Parses a `…/notify` payload. Throws LOA_ERR_MQTT_PAYLOAD, whatever is wrong with it. */
export function parseNotify(payload: Buffer): Notify {
  try {
    return notifyChecker.parse(parseJsonText(payload, DOWN_MAX_BYTES, 'notify', 'LOA_ERR_MQTT_PAYLOAD'), 'notify');
  } catch (e) {
    if (e instanceof LoaError && e.code === 'LOA_ERR_MQTT_PAYLOAD') throw e;
    throw new LoaError('LOA_ERR_MQTT_PAYLOAD', `notify is invalid: ${(e as Error).message}`, { cause: e });
  }
}

/** Parses a `…/cmd` or `…/emergency` payload as JSON (their signed schemas are checked by their handlers). */
export function parseJsonPayload(payload: Buffer, what: string): unknown {
  try {
    return parseJsonText(payload, DOWN_MAX_BYTES, what, 'LOA_ERR_MQTT_PAYLOAD');
  } catch (e) {
    if (e instanceof LoaError && e.code === 'LOA_ERR_MQTT_PAYLOAD') throw e;
    throw new LoaError('LOA_ERR_MQTT_PAYLOAD', `${what} is invalid: ${(e as Error).message}`, { cause: e });
  }
}
