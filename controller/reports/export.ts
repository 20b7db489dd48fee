import ExcelJS from 'exceljs';
import { stringify } from 'csv-stringify/sync';
import type { KpiReport } from './kpi.js';

/** Column labels of the exports, in the reader's language; the first column keeps stable English keys. */
export interface ExportLabels { indicators: Record<string, string>; lang: 'vi' | 'en' }

const COMMUNE_COLUMNS = ['commune_id', 'commune', 'clusters', 'covered_clusters', 'covered', 'speakers', 'boards', 'legacy_stations', 'converted_stations', 'uptime_pct', 'scheduled', 'completed'] as const;
const DISTRICT_COLUMNS = ['district_id', 'district', 'boards_online', 'connected'] as const;
const ORDER_COLUMNS = ['order_id', 'title', 'issued_at', 'targeted', 'received', 'median_s', 'p95_s', 'finished'] as const;

function tables(r: KpiReport, l: ExportLabels): { name: string; head: readonly string[]; rows: (string | number | null)[][] }[] {
  const yes = (b: boolean): string => (b ? 1 : 0).toString();
  return [
    { name: l.lang === 'vi' ? 'Chỉ tiêu' : 'Indicators', head: ['indicator', 'label', 'numerator', 'denominator', 'percent'],
      rows: r.indicators.map((i) => [i.key, l.indicators[i.key] ?? i.key, i.numerator, i.denominator, i.percent]) },
    { name: l.lang === 'vi' ? 'Xã, phường' : 'Communes', head: COMMUNE_COLUMNS,
      rows: r.communes.map((c) => [c.zoneId, c.name, c.clusters, c.coveredClusters, yes(c.covered), c.speakers, c.boards, c.legacyStations, c.convertedStations, c.uptimePct, c.scheduled, c.completed]) },
    { name: l.lang === 'vi' ? 'Huyện' : 'Districts', head: DISTRICT_COLUMNS, rows: r.districts.map((d) => [d.zoneId, d.name, d.boardsOnline, yes(d.connected)]) },
    { name: l.lang === 'vi' ? 'Khẩn cấp' : 'Emergency', head: ORDER_COLUMNS,
      rows: r.emergency.map((o) => [o.orderId, o.title, o.issuedAt, o.targeted, o.received, o.medianS, o.p95S, o.finished]) },
  ];
}

/** One CSV (UTF-8 with BOM, so spreadsheet programs read Vietnamese): a table per section, separated by an empty line. */
export function kpiCsv(r: KpiReport, l: ExportLabels): string {
  const rows: (string | number | null)[][] = [['zone', r.zoneId, 'from', r.from, 'to', r.to], []];
  for (const t of tables(r, l)) rows.push([...t.head], ...t.rows, []);
  // A text cell that a spreadsheet would run as a formula is prefixed with an apostrophe (CSV injection).
  const cell = (v: string | number | null): string | number => (v === null ? '' : typeof v === 'string' && /^[=+\-@\t\r]/.test(v) ? `'${v}` : v);
  return `\uFEFF${stringify(rows.map((row) => row.map(cell)))}`;
}

/** An XLSX workbook with one sheet per section. */
export async function kpiXlsx(r: KpiReport, l: ExportLabels): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'loaphuong';
  for (const t of tables(r, l)) {
    const ws = wb.addWorksheet(t.name);
    ws.addRow([...t.head]).font = { bold: true };
    for (const row of t.rows) ws.addRow(row);
    ws.columns.forEach((c) => { c.width = 18; });
  }
  return Buffer.from(await wb.xlsx.writeBuffer());
}
