// The fuzz summary: per target, runs and outcomes by class, then each distinct failure
// with its reproducer. As a table for people, or one JSON object (--json).
import type { FuzzReport } from './engine';
import { OUTCOME_CLASSES } from './spec';

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ')).join('\n');
}

export function formatReport(r: FuzzReport): string {
  const head = ['target', 'runs', ...OUTCOME_CLASSES, 'new', 'slowest ms'];
  const rows = [head];
  const total = { runs: 0, byClass: OUTCOME_CLASSES.map(() => 0), newFailures: 0 };
  for (const [target, t] of Object.entries(r.targets)) {
    rows.push([target, String(t.runs), ...OUTCOME_CLASSES.map((c) => String(t.outcomes[c])), String(t.newFailures), String(t.slowest?.ms ?? '-')]);
    total.runs += t.runs;
    OUTCOME_CLASSES.forEach((c, i) => (total.byClass[i] += t.outcomes[c]));
    total.newFailures += t.newFailures;
  }
  const slowest = Math.max(...Object.values(r.targets).map((t) => t.slowest?.ms ?? 0));
  rows.push(['all', String(total.runs), ...total.byClass.map(String), String(total.newFailures), String(slowest)]);
  const lines = [`fuzz: seed ${r.seed}, ${r.seconds.toFixed(1)} s, runner started ${r.runnerStarts} time(s)`, table(rows)];
  if (r.findings.length > 0) {
    lines.push('', 'failures (one line per signature):');
    for (const f of r.findings)
      lines.push(`  ${f.isNew ? 'NEW  ' : 'known'} ${f.target} ${f.class} x${f.count}: ${f.message.slice(0, 200)}`, `        reproducer ${f.reproducer}`, `        mutation  ${f.mutation.slice(0, 200)}`);
  }
  return lines.join('\n');
}

export function reportJson(r: FuzzReport): string {
  return JSON.stringify(r, null, 2);
}
