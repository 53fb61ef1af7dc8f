/**
 * `npm run bench:chart`: reads the bench results (`bench/results/*.json`) and writes
 * `bench/results/throughput.svg`, a horizontal bar chart of throughput per scenario. Hand-written
 * SVG, no dependencies.
 *
 * Bars are grouped by bench, and each group has its own linear scale (its fastest scenario spans
 * the full width): the groups differ by three orders of magnitude (a SHA-1 in-process vs a refresh
 * over HTTP), so on one shared scale the HTTP bars would be invisible. Every bar is labelled with
 * its throughput and its ratio to the group's baseline (grey bar), measured in the same run.
 *
 * Known result files: `protocol.json` (bench/protocol.bench.ts), `refresh.json`
 * (bench/refresh.bench.ts) and `http.json` (bench/http.bench.ts); others are skipped with a note.
 */

import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RESULTS_DIR = fileURLToPath(new URL('../bench/results/', import.meta.url));
const OUTPUT = join(RESULTS_DIR, 'throughput.svg');

interface Bar {
  readonly label: string;
  /** Operations (or requests) per second. */
  readonly value: number;
  readonly baseline: boolean;
}

interface Group {
  readonly title: string;
  /** What a bar counts, e.g. `ops/s` or `req/s`. */
  readonly unit: string;
  readonly bars: readonly Bar[];
  /** Footnote under the group (how the figures were taken). */
  readonly note: string;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objects(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : Number.NaN;
}

function str(value: unknown, fallback = ''): string {
  return typeof value === 'string' ? value : fallback;
}

/** bench/protocol.bench.ts (BenchGroupResult): the first baseline is the bare SHA-1. */
function protocolGroups(data: Json): Group[] {
  const baselines = Array.isArray(data.baselines) ? data.baselines.map((b) => str(b)) : [];
  const tasks = objects(data.tasks);
  const env = isObject(data.environment) ? data.environment : {};
  return [
    {
      title: 'protocol: parse and verify a Caa header, in-process',
      unit: 'ops/s',
      bars: tasks.map((task) => ({
        label: str(task.name),
        value: num(task.opsPerSec),
        baseline: str(task.name) === baselines[0],
      })),
      note: `medians of ${num(data.rounds)} interleaved rounds · ${str(env.node)} · ${str(env.date).slice(0, 10)}`,
    },
  ];
}

/** bench/refresh.bench.ts: refreshToken in a loop, MemoryStore the baseline. */
function refreshGroups(data: Json): Group[] {
  const results = objects(data.results);
  return [
    {
      title: 'refreshToken: one rotation per call, in-process',
      unit: 'ops/s',
      bars: results.map((result) => ({
        label: str(result.task),
        value: num(result.opsPerSecondMedian),
        baseline: str(result.task) === 'MemoryStore',
      })),
      note: `tinybench medians · redis-server ${str(data.redisServer)} on loopback · ${str(data.node)} · ${str(data.date).slice(0, 10)}`,
    },
  ];
}

/** bench/http.bench.ts: autocannon against the Fastify example. */
function httpGroups(data: Json): Group[] {
  const auth = isObject(data.authentication) ? data.authentication : {};
  const refresh = isObject(data.refresh) ? data.refresh : {};
  const settings = isObject(data.settings) ? data.settings : {};
  const bar = (scenario: unknown, baseline: boolean): Bar => {
    const d = isObject(scenario) ? scenario : {};
    return { label: str(d.name), value: num(d.reqPerSecMedian), baseline };
  };
  const how = `autocannon, ${num(settings.connections)} connections · ${str(data.node)} · ${str(data.date).slice(0, 10)}`;
  return [
    {
      title: 'HTTP: the cost of Caa authentication (Fastify example, MemoryStore)',
      unit: 'req/s',
      bars: [bar(auth.unauthenticated, true), bar(auth.authenticated, false)],
      note: `medians of ${num(settings.rounds)} rounds × ${num(settings.roundSeconds)} s · ${how}`,
    },
    {
      title: 'HTTP: POST /api/my/refresh-token, a session per connection',
      unit: 'req/s',
      bars: [bar(refresh.memory, true), bar(refresh.redis, false)],
      note: `medians of ${num(settings.refreshRounds)} rounds × ${num(settings.roundSeconds)} s · ${how}`,
    },
  ];
}

function groupsOf(file: string, data: Json): Group[] | undefined {
  if (data.group === 'protocol') return protocolGroups(data);
  if (data.bench === 'refreshToken') return refreshGroups(data);
  if (data.bench === 'http') return httpGroups(data);
  console.warn(`skipped ${file}: not a known bench result`);
  return undefined;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** Layout, px. */
const WIDTH = 1000;
const MARGIN = 20;
const LABEL_WIDTH = 360;
const BAR_AREA = 360;
const BAR_HEIGHT = 18;
const BAR_GAP = 8;
const GROUP_TITLE = 26;
const GROUP_NOTE = 22;
const GROUP_GAP = 18;
const HEADER = 64;

function render(groups: readonly Group[], sources: readonly string[]): string {
  const out: string[] = [];
  let y = HEADER;
  for (const group of groups) {
    const bars = group.bars.filter((b) => Number.isFinite(b.value) && b.value > 0);
    const max = Math.max(...bars.map((b) => b.value));
    const baseline = bars.find((b) => b.baseline);
    out.push(`<text x="${MARGIN}" y="${y + 16}" class="group">${escapeXml(group.title)}</text>`);
    y += GROUP_TITLE;
    for (const bar of bars) {
      const length = Math.max(2, (bar.value / max) * BAR_AREA);
      const ratio =
        baseline === undefined || bar === baseline ? 'baseline' : `${(bar.value / baseline.value).toFixed(2)}× baseline`;
      out.push(
        `<text x="${MARGIN + LABEL_WIDTH - 8}" y="${y + BAR_HEIGHT - 5}" class="label" text-anchor="end">${escapeXml(bar.label)}</text>`,
        `<rect x="${MARGIN + LABEL_WIDTH}" y="${y}" width="${length.toFixed(1)}" height="${BAR_HEIGHT}" class="${bar.baseline ? 'base' : 'bar'}"><title>${escapeXml(`${bar.label}: ${integer.format(bar.value)} ${group.unit}`)}</title></rect>`,
        `<text x="${(MARGIN + LABEL_WIDTH + length + 6).toFixed(1)}" y="${y + BAR_HEIGHT - 5}" class="value">${integer.format(bar.value)} ${group.unit} · ${ratio}</text>`,
      );
      y += BAR_HEIGHT + BAR_GAP;
    }
    out.push(`<text x="${MARGIN + LABEL_WIDTH}" y="${y + 10}" class="note">${escapeXml(group.note)}</text>`);
    y += GROUP_NOTE + GROUP_GAP;
  }
  const height = y + MARGIN;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-labelledby="title">`,
    '<style>',
    '  text { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; fill: #1f2328; }',
    '  .title { font-size: 18px; font-weight: 600; }',
    '  .subtitle { font-size: 12px; fill: #57606a; }',
    '  .group { font-size: 14px; font-weight: 600; }',
    '  .label, .value { font-size: 12px; }',
    '  .note { font-size: 11px; fill: #57606a; }',
    '  .bar { fill: #2f81f7; }',
    '  .base { fill: #8c959f; }',
    '</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text id="title" x="${MARGIN}" y="28" class="title">caa-auth throughput (higher is better)</text>`,
    `<text x="${MARGIN}" y="48" class="subtitle">${escapeXml(`one linear scale per group · label: median throughput · its ratio to the group's baseline (grey bar) · from ${sources.join(', ')}`)}</text>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}

function main(): void {
  const files = readdirSync(RESULTS_DIR)
    .filter((file) => file.endsWith('.json') && !file.endsWith('.tmp.json'))
    .sort((a, b) => ['protocol.json', 'refresh.json', 'http.json'].indexOf(a) - ['protocol.json', 'refresh.json', 'http.json'].indexOf(b));
  const groups: Group[] = [];
  const sources: string[] = [];
  for (const file of files) {
    const data: unknown = JSON.parse(readFileSync(join(RESULTS_DIR, file), 'utf8'));
    if (!isObject(data)) continue;
    const found = groupsOf(file, data);
    if (found === undefined) continue;
    groups.push(...found);
    sources.push(basename(file));
  }
  if (groups.length === 0) throw new Error(`no bench results in ${RESULTS_DIR}: run npm run bench and npm run bench:http first`);
  writeFileSync(OUTPUT, render(groups, sources));
  console.log(`wrote ${OUTPUT} (${groups.length} groups from ${sources.join(', ')})`);
}

main();
