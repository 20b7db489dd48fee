import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkAlsaDevice, parseAlsaPcmName, parseAplayL, parseAsoundCards } from '../../../agent/player/alsa-devices.js';
import { tempDir } from './audio-tools.js';

const APLAY_L = `null
    Discard all samples (playback) or generate zero samples (capture)
default
    Default Audio Device
sysdefault:CARD=Device
    USB Audio Device, USB Audio
    Default Audio Device
plughw:CARD=Device,DEV=0
    USB Audio Device, USB Audio
    Hardware device with all software conversions
`;

const CARDS = ` 0 [PCH            ]: HDA-Intel - HDA Intel PCH
                      HDA Intel PCH at 0xf7f10000 irq 32
 1 [Device         ]: USB-Audio - USB Audio Device
                      C-Media Electronics Inc. USB Audio Device at usb-0000:00:14.0-2, full speed
`;

const notFound = (device: string) => (err: unknown): boolean => {
  assert.equal((err as { code?: string }).code, 'LOA_ERR_AUDIO_DEVICE_NOT_FOUND');
  assert.ok((err as Error).message.includes(`"${device}"`), `the message names the device: ${(err as Error).message}`);
  return true;
};

void describe('checkAlsaDevice', () => {
  let proc: { path: string; remove: () => Promise<void> };
  before(async () => {
    // A fake /proc/asound with two cards; card 1 has playback device 0 only.
    proc = await tempDir('asound');
    await writeFile(join(proc.path, 'cards'), CARDS);
    await mkdir(join(proc.path, 'card0', 'pcm0p'), { recursive: true });
    await mkdir(join(proc.path, 'card0', 'pcm0c'), { recursive: true });
    await mkdir(join(proc.path, 'card1', 'pcm0p'), { recursive: true });
  });
  after(async () => {
    await proc.remove();
  });

  void it('rejects the nonexistent hw:9,0 with LOA_ERR_AUDIO_DEVICE_NOT_FOUND on this machine', async () => {
    await assert.rejects(checkAlsaDevice('hw:9,0'), notFound('hw:9,0'));
  });

  void it('accepts null and default on this machine', async () => {
    await checkAlsaDevice('null');
    await checkAlsaDevice('default');
  });

  void it('accepts hw and plughw names whose card and playback device exist, by number or by id', async () => {
    const deps = { procRoot: proc.path, listPcms: () => Promise.resolve([] as string[]) };
    for (const name of ['hw:0,0', 'plughw:1,0', 'hw:1', 'hw:CARD=Device,DEV=0', 'plughw:CARD=PCH', 'front:CARD=PCH,DEV=0', 'hw:Device,0']) {
      await checkAlsaDevice(name, deps);
    }
  });

  void it('rejects a missing card, a missing playback device and an unknown name, listing what exists', async () => {
    const deps = { procRoot: proc.path, listPcms: () => Promise.resolve(['null', 'default']) };
    await assert.rejects(checkAlsaDevice('hw:2,0', deps), (err: unknown) => {
      notFound('hw:2,0')(err);
      const msg = (err as Error).message;
      assert.match(msg, /no sound card 2/);
      assert.match(msg, /0 \[PCH\] HDA-Intel - HDA Intel PCH/);
      assert.match(msg, /1 \[Device\]/);
      assert.match(msg, /PCMs: null, default/);
      return true;
    });
    await assert.rejects(checkAlsaDevice('hw:CARD=Nope,DEV=0', deps), notFound('hw:CARD=Nope,DEV=0'));
    await assert.rejects(checkAlsaDevice('plughw:1,3', deps), (err: unknown) => {
      notFound('plughw:1,3')(err);
      assert.match((err as Error).message, /no playback device 3/);
      return true;
    });
    await assert.rejects(checkAlsaDevice('speaker', deps), notFound('speaker'));
  });

  void it('accepts any name aplay -L lists and says so when aplay is missing', async () => {
    const procRoot = join(proc.path, 'absent');
    await checkAlsaDevice('sysdefault:CARD=Device', { procRoot, listPcms: () => Promise.resolve(parseAplayL(APLAY_L)) });
    await assert.rejects(checkAlsaDevice('hw:0,0', { procRoot, listPcms: () => Promise.resolve(null) }), (err: unknown) => {
      notFound('hw:0,0')(err);
      assert.match((err as Error).message, /aplay -L unavailable/);
      return true;
    });
  });

  void it('parses aplay -L, /proc/asound/cards and PCM names', () => {
    assert.deepEqual(parseAplayL(APLAY_L), ['null', 'default', 'sysdefault:CARD=Device', 'plughw:CARD=Device,DEV=0']);
    assert.deepEqual(parseAsoundCards(CARDS), [
      { index: 0, id: 'PCH', name: 'HDA-Intel - HDA Intel PCH' },
      { index: 1, id: 'Device', name: 'USB-Audio - USB Audio Device' },
    ]);
    assert.deepEqual(parseAlsaPcmName('hw:1,0'), { plugin: 'hw', card: '1', dev: '0' });
    assert.deepEqual(parseAlsaPcmName('plughw:CARD="Device",DEV=2'), { plugin: 'plughw', card: 'Device', dev: '2' });
    assert.deepEqual(parseAlsaPcmName('pulse'), { plugin: 'pulse' });
  });
});
