import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatTable, readFigureRows, utcStamp, writeReport, type FigureRow, type ReliabilityReport } from '../../scripts/lib/reliability-report.js';

const rows: FigureRow[] = [
  { suite: 'soak', what: '2000 simulated receivers, 30 min', figures: { devices: 2000, rssGrowthPct: 1.234, passed: true }, reproduce: 'npm run soak -- --only soak', mode: 'long', at: '2025-06-01T08:00:00.000Z' },
  { suite: 'chaos', what: 'kill -9 of the agent at random points', figures: { iterations: 200, lostAcks: 0 }, reproduce: 'npm run soak -- --only chaos' },
];

describe('npm run soak: the report writer', () => {
  it('reads the JSON-lines figures file, keeping lines that are not rows apart instead of dropping them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'loa-rel-'));
    try {
      const file = join(dir, 'figures.jsonl');
      writeFileSync(file, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n{"suite":"x"}\n{"suite":"half-writ\n\n`);
      const got = readFigureRows(file);
      assert.deepEqual(got.rows, rows);
      assert.deepEqual(got.badLines, ['{"suite":"x"}', '{"suite":"half-writ']);
      assert.deepEqual(readFigureRows(join(dir, 'missing.jsonl')), { rows: [], badLines: [] }, 'no file: no rows (nothing recorded)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes bench/results-style reliability-<UTC stamp>.json with the rows and the run metadata', () => {
    const dir = mkdtempSync(join(tmpdir(), 'loa-rel-'));
    try {
      const report: ReliabilityReport = {
        kind: 'loaphuong-reliability', version: 1, rows, badLines: [],
        meta: {
          startedAt: '2025-06-01T08:30:05.123Z', finishedAt: '2025-06-01T09:05:00.000Z', durationS: 2095, mode: 'long', only: 'soak', files: ['test/reliability/soak/soak.test.ts'],
          exitCode: 0, passed: true, machine: { cpus: 2, cpuModel: 'x', memGb: 24, node: 'v20.20.2', platform: 'linux' }, git: { commit: 'a'.repeat(40), dirty: false }, overrides: {},
        },
      };
      const file = writeReport(join(dir, 'results'), report);
      assert.equal(file, join(dir, 'results', 'reliability-20250601T083005Z.json'));
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), report);
      assert.equal(utcStamp(new Date('2030-12-31T23:59:59.999Z')), '20301231T235959Z');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints one table block per row: suite | what | figures | reproduce, long cells wrapped, decimals rounded', () => {
    const table = formatTable(rows, { suite: 6, what: 20, figures: 32, reproduce: 28 }).split('\n');
    assert.equal(table[0], 'suite  | what                 | figures                          | reproduce');
    assert.equal(table[1], '-------+----------------------+----------------------------------+-----------------------------');
    assert.equal(table[2], 'soak   | 2000 simulated       | devices=2000, rssGrowthPct=1.23, | npm run soak -- --only soak');
    assert.equal(table[3], '       | receivers, 30 min    | passed=true                      |');
    assert.equal(table[5], 'chaos  | kill -9 of the agent | iterations=200, lostAcks=0       | npm run soak -- --only chaos');
    assert.equal(table[6], '       | at random points     |                                  |');
    assert.equal(table.length, 8);
    assert.equal(formatTable([]), '(no figures were recorded)');
  });
});
