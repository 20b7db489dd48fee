import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadProfile } from '../../agent/config/profile.js';
import { AGENT_NODE_FLAGS } from '../../agent/node-flags.js';
import { execStart, quoteArg, renderUnit, serviceCommands, unitDevices, unitGroups } from '../../agent/provision/systemd.js';

const profile = (id: string): ReturnType<typeof loadProfile> => loadProfile(join(process.cwd(), 'hardware-profiles', `${id}.json`));
const base = { nodePath: process.execPath, installDir: process.cwd(), dataDir: '/var/lib/loa', profilePath: '/etc/loa/hardware-profile.json' };

/** The directives of a unit as [key, value] pairs, comments and sections left out. */
function directives(unit: string): [string, string][] {
  return unit.split('\n').filter((l) => /^[A-Za-z]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
}
const values = (unit: string, key: string): string[] => directives(unit).filter(([k]) => k === key).map(([, v]) => v);

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const tmp = mkdtempSync(join(tmpdir(), 'loa-unit-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

void describe('the systemd unit', () => {
  void it('runs `loa agent run` under node with the agent flags, the data dir and the installed profile', () => {
    const unit = renderUnit({ ...base, profile: profile('rpi4-lcus2-usb-audio'), notifyAccess: 'main' });
    assert.deepEqual(values(unit, 'ExecStart'), [`${process.execPath} ${AGENT_NODE_FLAGS.join(' ')} ${process.cwd()}/bin/loa.js agent run --data-dir /var/lib/loa --profile /etc/loa/hardware-profile.json`]);
  });

  void it('is hardened: own user, notify + 30 s watchdog, read-only system but the data dir, no capabilities, closed device policy', () => {
    const unit = renderUnit({ ...base, profile: profile('rpi4-lcus2-usb-audio'), notifyAccess: 'main' });
    const want: Record<string, string> = {
      Type: 'notify', NotifyAccess: 'main', WatchdogSec: '30', Restart: 'always', RestartSec: '5', User: 'loa', Group: 'loa',
      ProtectSystem: 'strict', ReadWritePaths: '/var/lib/loa', ProtectHome: 'yes', PrivateTmp: 'yes', NoNewPrivileges: 'yes',
      CapabilityBoundingSet: '', AmbientCapabilities: '', DevicePolicy: 'closed', SupplementaryGroups: 'audio dialout',
      RestrictSUIDSGID: 'yes', SystemCallFilter: '@system-service', StartLimitIntervalSec: '0',
    };
    for (const [k, v] of Object.entries(want)) assert.deepEqual(values(unit, k), [v], k);
    assert.deepEqual(values(unit, 'DeviceAllow'), ['/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0 rw', 'char-ttyUSB rw', 'char-ttyACM rw', 'char-alsa rw']);
    assert.equal(values(unit, 'MemoryDenyWriteExecute').length, 0, 'V8 needs W+X memory');
  });

  void it('asks only for what each profile needs: groups and devices', () => {
    assert.deepEqual(unitGroups(profile('rpi-gpio-4zone')), ['audio', 'gpio']);
    assert.deepEqual(unitDevices(profile('rpi-gpio-4zone')), ['/dev/gpiochip0 rw', 'char-gpiochip rw', 'char-alsa rw']);
    assert.deepEqual(unitDevices(profile('x86-minipc-lcus1')), ['/dev/ttyUSB0 rw', 'char-ttyUSB rw', 'char-alsa rw']);
    assert.deepEqual(unitGroups(profile('sim-file-sink')), []);
    const sim = renderUnit({ ...base, profile: profile('sim-file-sink'), notifyAccess: 'all' });
    assert.deepEqual(values(sim, 'DeviceAllow'), []);
    assert.deepEqual(values(sim, 'SupplementaryGroups'), []);
    assert.deepEqual(values(sim, 'NotifyAccess'), ['all'], 'systemd-notify is a child process');
  });

  void it('quotes paths with spaces and doubles % for systemd', () => {
    assert.equal(quoteArg('/opt/loa phuong/bin'), '"/opt/loa phuong/bin"');
    assert.equal(quoteArg('50%'), '50%%');
    assert.match(execStart({ ...base, dataDir: '/srv/loa data' }), /--data-dir "\/srv\/loa data" /);
  });

  void it('makes the user only when missing, hands it the data dir, then enables and starts the unit', () => {
    const cmds = serviceCommands({ dataDir: '/var/lib/loa', start: true }).map((c) => c.argv.join(' '));
    assert.deepEqual(cmds, [
      'useradd --system --user-group --home-dir /var/lib/loa --no-create-home --shell /usr/sbin/nologin --comment loaphuong agent loa',
      'chown -R loa:loa /var/lib/loa', 'chmod 0750 /var/lib/loa', 'systemctl daemon-reload', 'systemctl enable --now loa-agent.service',
    ]);
  });

  for (const id of ['rpi4-lcus2-usb-audio', 'armbian-modbus8', 'x86-minipc-lcus1', 'rpi-gpio-4zone', 'sim-file-sink']) {
    void it(`passes systemd-analyze verify for ${id}`, (t) => {
      if (!hasAnalyze) {
        t.skip('systemd-analyze is not installed here: the unit was checked by the assertions above only');
        return;
      }
      const path = join(tmp, 'loa-agent.service');
      writeFileSync(path, renderUnit({ ...base, profile: profile(id), notifyAccess: 'main' }));
      const r = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      // Unknown or misspelt directives are only warnings for systemd: none may appear.
      assert.doesNotMatch(r.stderr, /loa-agent\.service/, r.stderr);
    });
  }
});
