import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Id } from '../../shared/schemas/common.js';
import { checker, parseJsonText } from '../../shared/validate.js';

/** `<dataDir>/controller.json`, written by enrollment: where this device syncs from. Sync starts when it exists. */
export const ControllerConfig = Type.Object(
  {
    controllerUrl: Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048, title: 'controller URL', description: 'Base URL of the controller HTTP API, e.g. https://loa.example.vn' }),
    mqttUrl: Type.String({ pattern: '^(mqtts?|tcp|ssl|wss?)://[^\\s]+$', maxLength: 2048, title: 'MQTT URL', description: 'Broker URL, e.g. mqtts://loa.example.vn:8883' }),
    zoneId: Id,
  },
  { additionalProperties: false, title: 'controller config', description: 'Where this device syncs from (written by `loa agent enroll`)' },
);
export type ControllerConfig = Static<typeof ControllerConfig>;

export const controllerConfigChecker = checker(ControllerConfig, 'LOA_ERR_CONFIG_INVALID');

export const controllerConfigPath = (dataDir: string): string => join(dataDir, 'controller.json');

/** The schema-checked controller config, or null when the device is not enrolled with a controller. */
export function loadControllerConfig(dataDir: string): ControllerConfig | null {
  const p = controllerConfigPath(dataDir);
  if (!existsSync(p)) return null;
  return controllerConfigChecker.parse(parseJsonText(readFileSync(p), 64 * 1024, p, 'LOA_ERR_CONFIG_INVALID'), p);
}

/** Writes the config atomically (temp file, then rename). */
export function writeControllerConfig(dataDir: string, config: ControllerConfig): ControllerConfig {
  const checked = controllerConfigChecker.parse(config, 'controller config');
  const p = controllerConfigPath(dataDir);
  writeFileSync(`${p}.tmp`, JSON.stringify(checked, null, 2) + '\n', { mode: 0o644 });
  renameSync(`${p}.tmp`, p);
  return checked;
}
