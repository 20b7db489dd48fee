import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { detectHardware, describeHardware } from '../../agent/provision/detect.js';
import { listProfiles, rankProfiles, requireFit, scoreProfile, suggestProfile } from '../../agent/provision/profile-match.js';
import { LoaError } from '../../shared/errors.js';
import { buildFakeRoot, FIXTURES } from './fake-root.js';

const PROFILES = join(process.cwd(), 'hardware-profiles');
const tmp = mkdtempSync(join(tmpdir(), 'loa-detect-'));
const roots = new Map<string, string>();
const rootFor = (id: string): string => roots.get(id) ?? roots.set(id, buildFakeRoot(join(tmp, id), FIXTURES[id]!)).get(id)!;
after(() => rmSync(tmp, { recursive: true, force: true }));
const detect = (root: string): ReturnType<typeof detectHardware> => detectHardware({ root, serialLister: null });

void describe('hardware detection on fake sysfs trees', () => {
  void it('finds a USB serial adapter with its VID:PID, names and by-id link, and an on-board UART without one', async () => {
    const hw = await detect(rootFor('rpi4-lcus2-usb-audio'));
    assert.equal(hw.platform, 'devicetree');
    assert.equal(hw.model, 'Raspberry Pi 4 Model B Rev 1.4');
    assert.deepEqual(hw.serialPorts.map((p) => [p.path, p.usb ?? null]), [['/dev/ttyAMA0', null], ['/dev/ttyUSB0', '1a86:7523']]);
    const usb = hw.serialPorts.find((p) => p.name === 'ttyUSB0')!;
    assert.deepEqual(usb.byId, ['/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0']);
    assert.equal(usb.manufacturer, 'QinHeng Electronics');
    assert.equal(usb.product, 'USB Serial');
  });

  void it('reads ALSA cards from /proc/asound/cards and USB ids from cardN/usbid', async () => {
    const hw = await detect(rootFor('rpi4-lcus2-usb-audio'));
    assert.deepEqual(hw.soundCards.map((c) => [c.index, c.id, c.usb ?? null]), [[0, 'Headphones', null], [1, 'Device', '0d8c:0014']]);
    assert.equal(hw.soundCards[1]?.name, 'USB Audio Device');
  });

  void it('lists GPIO chips with their label and line count from the legacy class links', async () => {
    const hw = await detect(rootFor('rpi4-lcus2-usb-audio'));
    assert.deepEqual(hw.gpioChips, [
      { path: '/dev/gpiochip0', name: 'gpiochip0', label: 'pinctrl-bcm2711', ngpio: 58 },
      { path: '/dev/gpiochip1', name: 'gpiochip1', label: 'raspberrypi-exp-gpio', ngpio: 8 },
    ]);
  });

  void it('ignores the 8250 placeholders (ttyS0..3) and virtual consoles, and reads the DMI model of a PC', async () => {
    const hw = await detect(rootFor('x86-minipc-lcus1'));
    assert.equal(hw.platform, 'dmi');
    assert.equal(hw.model, 'Intel Corporation NUC7CJYH');
    assert.deepEqual(hw.serialPorts.map((p) => p.name), ['ttyUSB0']);
    assert.deepEqual(hw.gpioChips, []);
    assert.ok(describeHardware(hw).includes('GPIO chips: none'));
  });

  void it('reports nothing, without failing, on an empty root', async () => {
    const hw = await detect(rootFor('sim-file-sink'));
    assert.deepEqual([hw.platform, hw.serialPorts, hw.soundCards, hw.gpioChips], ['unknown', [], [], []]);
  });
});

void describe('matching hardware profiles against detected hardware', () => {
  const { profiles, broken } = listProfiles(PROFILES);

  void it('reads every shipped profile', () => {
    assert.deepEqual(broken, []);
    assert.ok(profiles.length >= 5);
  });

  for (const id of ['rpi4-lcus2-usb-audio', 'armbian-modbus8', 'x86-minipc-lcus1', 'rpi-gpio-4zone']) {
    void it(`suggests ${id} for its own hardware, with no tie`, async () => {
      const ranked = rankProfiles(profiles, await detect(rootFor(id)));
      const { best, tied } = suggestProfile(ranked);
      assert.equal(best?.profile.id, id, ranked.map((m) => `${m.profile.id} ${m.fits} ${m.score} ${m.problems.join('|')}`).join('\n'));
      assert.deepEqual(tied, []);
      assert.ok(best.found.length > 0);
    });
  }

  void it('suggests nothing for a machine without relay board or sound card (the simulation profile is never guessed)', async () => {
    const ranked = rankProfiles(profiles, await detect(rootFor('sim-file-sink')));
    assert.equal(suggestProfile(ranked).best, undefined);
    assert.equal(ranked.find((m) => m.profile.id === 'sim-file-sink')?.fits, true, 'but it fits when asked for');
  });

  void it('explains why the USB relay profile does not fit a GPIO Pi: no adapter 1a86:7523, no USB sound card', async () => {
    const hw = await detect(rootFor('rpi-gpio-4zone'));
    const m = scoreProfile(profiles.find((p) => p.profile.id === 'rpi4-lcus2-usb-audio')!, hw);
    assert.equal(m.fits, false);
    assert.match(m.problems.join('\n'), /no USB serial adapter 1a86:7523 \(the LCUS relay board\) is connected; serial ports found: \/dev\/ttyS0/);
    assert.match(m.problems.join('\n'), /no USB sound card 0d8c:0014 is connected; sound cards found: 0 Headphones/);
    assert.throws(() => requireFit(m, false), (e: unknown) => e instanceof LoaError && e.code === 'LOA_ERR_PROVISION_PROFILE_MISMATCH' && /--force/.test(e.message));
    assert.doesNotThrow(() => requireFit(m, true));
  });

  void it('refuses a GPIO profile on a PC without GPIO chips, and one whose lines exceed the chip', async () => {
    const gpio = profiles.find((p) => p.profile.id === 'rpi-gpio-4zone')!;
    const pc = scoreProfile(gpio, await detect(rootFor('x86-minipc-lcus1')));
    assert.match(pc.problems.join('\n'), /no GPIO chip \/dev\/gpiochip0; GPIO chips found: none/);
    const small = buildFakeRoot(join(tmp, 'small-gpio'), { model: 'Raspberry Pi 3', gpio: [{ name: 'gpiochip0', label: 'x', ngpio: 8, base: 0 }], cards: [{ index: 0, id: 'Headphones', driver: 'b', name: 'b' }] });
    const m = scoreProfile(gpio, await detect(small));
    assert.match(m.problems.join('\n'), /GPIO line 19 does not exist on \/dev\/gpiochip0, which has 8 lines/);
  });

  void it('says where the board really is when the profile names another port', async () => {
    const root = buildFakeRoot(join(tmp, 'moved'), { dmi: { vendor: 'x', product: 'y' }, serial: [{ name: 'ttyUSB1', usb: '1a86:7523', byId: 'usb-1a86_USB_Serial-if00-port0' }], cards: [{ index: 0, id: 'PCH', driver: 'HDA', name: 'PCH' }] });
    const m = scoreProfile(profiles.find((p) => p.profile.id === 'x86-minipc-lcus1')!, await detect(root));
    assert.equal(m.fits, false);
    assert.match(m.problems[0] ?? '', /port \/dev\/ttyUSB0 does not exist; the LCUS relay board is at \/dev\/serial\/by-id\/usb-1a86_USB_Serial-if00-port0/);
  });
});
