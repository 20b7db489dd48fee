import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { showPairing } from '../../scripts/cli/provision.js';

void describe('the pairing code on the provisioning terminal', () => {
  const ticket = { code: 'AXV8-4Q9G', pairUrl: 'https://loa.example.vn/pair?code=AXV8-4Q9G' };

  void it('shows the code in 5-line block letters and the URL as a QR code in plain blocks for a log', async () => {
    const out: string[] = [];
    await showPairing(ticket, (l) => out.push(l), false);
    const text = out.join('\n');
    assert.ok(out.filter((l) => l.includes('█')).length >= 5 + 10, 'letters and QR rows');
    assert.ok(!text.includes('\u001b'), 'no escape codes in a log');
    assert.match(text, /█▀▀▀▀▀█/, 'a QR finder pattern');
  });

  void it('draws the QR code black on white with ANSI colours on a terminal', async () => {
    const out: string[] = [];
    await showPairing(ticket, (l) => out.push(l), true);
    assert.ok(out.join('\n').includes('\u001b[47m'), 'white background');
  });
});
