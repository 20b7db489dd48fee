import { badInput, type LoaClient } from './lib/client.cjs';
import { clientOf, idList, onInput, pick, startupCheck } from './lib/kit.cjs';
import type { Node, NodeAPI, NodeDef, NodeMessage } from './lib/red.cjs';
import { nextLocal } from './lib/time.cjs';

interface Result {
  media: { id: string; durationMs: number };
  program: { id: string; status: string };
  schedule: { id: string; status: string; dtstart: string };
}

async function advance(api: LoaClient, kind: 'programs' | 'schedules', id: string, workflow: string): Promise<void> {
  if (workflow === 'submit' || workflow === 'approve') await api.request('POST', `/api/v1/${kind}/${id}/submit`, {});
  if (workflow === 'approve') await api.request('POST', `/api/v1/${kind}/${id}/approve`, {});
}

/**
 * loa-bulletin: text → the controller's TTS (a media item, loudness-normalised) → a program → a schedule,
 * once (the next HH:MM, or msg.startAt) or repeating (an RRULE). Program and schedule go as far through the
 * approval workflow as the node says: draft, submitted, or approved (the token's user needs approval rights).
 */
export = function register(RED: NodeAPI): void {
  function LoaBulletin(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Node-RED passes the node as `this`; closures need it
    const node = this;
    startupCheck(RED, node, def);
    onInput<Result>(node, async (msg) => {
      const api = clientOf(RED, def);
      const text = typeof msg.payload === 'string' ? msg.payload.trim() : pick(msg, 'text', def);
      const zoneId = pick(msg, 'zoneId', def);
      if (!text) throw badInput('msg.payload must hold the bulletin text', 'msg.payload phải chứa nội dung bản tin');
      if (!zoneId) throw badInput('give the zone (node setting or msg.zoneId)', 'Hãy chọn vùng (cài đặt của nút hoặc msg.zoneId)');
      const title = pick(msg, 'title', def) || 'Bản tin';
      const voice = pick(msg, 'voice', def);
      const workflow = pick(msg, 'workflow', def) || 'submit';
      const startAt = pick(msg, 'startAt', def);
      const dtstart = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(startAt) ? startAt.slice(0, 16) : nextLocal(pick(msg, 'at', def) || '06:00', Date.now());
      const rrule = pick(msg, 'mode', def) === 'repeat' ? pick(msg, 'rrule', def) : '';
      const targets = idList(msg.targets ?? def.targets);
      const volume = Number(pick(msg, 'volume', def) || 80);
      const tts = await api.request<{ media: Result['media'] }>('POST', '/api/v1/media/tts', { zoneId, title, text, ...(voice ? { voice } : {}) });
      const prog = await api.request<{ program: Result['program'] }>('POST', '/api/v1/programs', { zoneId, title, items: [{ kind: 'media', mediaId: tts.media.id }] });
      await advance(api, 'programs', prog.program.id, workflow);
      const sched = await api.request<{ schedule: Result['schedule'] }>('POST', '/api/v1/schedules', {
        zoneId, programId: prog.program.id, title, dtstart, ...(rrule ? { rrule } : {}),
        priority: 'normal', volume: Number.isInteger(volume) ? volume : 80, targets: { zones: targets.length ? targets : [zoneId], devices: [] },
        ...(def.confirmNightHours === true ? { confirmNightHours: true } : {}),
      });
      await advance(api, 'schedules', sched.schedule.id, workflow);
      const program = await api.request<{ program: Result['program'] }>('GET', `/api/v1/programs/${prog.program.id}`);
      const schedule = await api.request<{ schedule: Result['schedule'] }>('GET', `/api/v1/schedules/${sched.schedule.id}`);
      return { media: tts.media, program: program.program, schedule: schedule.schedule };
    }, (r) => `${r.schedule.dtstart.slice(0, 16).replace('T', ' ')} · ${r.schedule.status}`, (msg: NodeMessage, r) => ({ ...msg, payload: r }));
  }
  RED.nodes.registerType('loa-bulletin', LoaBulletin);
};
