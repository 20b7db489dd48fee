/**
 * MQTT topic names (DESIGN §3), versioned under `loa/v1`. Devices read `dev/{id}/…` and their zones' topics;
 * they write only under `dev/{id}/up/…`. Both ends build topics here, never by hand.
 */
export const TOPIC_ROOT = 'loa/v1';

export const DOWN_KINDS = ['notify', 'cmd', 'emergency'] as const;
export type DownKind = (typeof DOWN_KINDS)[number];
export const UP_KINDS = ['status', 'telemetry', 'events'] as const;
export type UpKind = (typeof UP_KINDS)[number];

export const topics = {
  /** controller → device */
  down: (deviceId: string, kind: DownKind): string => `${TOPIC_ROOT}/dev/${deviceId}/${kind}`,
  /** controller → every device of a zone (emergency orders, zone-wide notifies) */
  zone: (zoneId: string, kind: DownKind): string => `${TOPIC_ROOT}/zone/${zoneId}/${kind}`,
  /** device → controller */
  up: (deviceId: string, kind: UpKind): string => `${TOPIC_ROOT}/dev/${deviceId}/up/${kind}`,
  /**
   * controller → device: the end-to-end acknowledgement of its events (EventsAck), published after the
   * controller's ingest COMMITTED them. Not a DOWN_KIND: only the real agent subscribes to it.
   */
  ack: (deviceId: string): string => `${TOPIC_ROOT}/dev/${deviceId}/ack`,
  /** what a device subscribes to for itself */
  deviceFilter: (deviceId: string): string => `${TOPIC_ROOT}/dev/${deviceId}/#`,
  /** what the controller subscribes to for all devices */
  allUp: `${TOPIC_ROOT}/dev/+/up/#`,
} as const;

export interface ParsedUpTopic {
  deviceId: string;
  kind: UpKind;
}

const UP = /^loa\/v1\/dev\/([A-Za-z0-9][A-Za-z0-9._:-]{0,127})\/up\/(status|telemetry|events)$/;

/** Parses `loa/v1/dev/{id}/up/{kind}`; null for anything else. */
export function parseUpTopic(topic: string): ParsedUpTopic | null {
  const m = UP.exec(topic);
  return m ? { deviceId: m[1]!, kind: m[2] as UpKind } : null;
}
