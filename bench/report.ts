/**
 * Shared machinery for bench groups: runs tinybench tasks in several interleaved rounds (so that
 * a change of machine load hits every task alike), reads median ops/s, relates each task to one or
 * more baselines, prints a table and writes JSON under `bench/results/`.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { Bench, type Fn } from 'tinybench';

/** A task of a group: `fn` runs `operationsPerCall` operations per call. */
export interface BenchTask {
  readonly name: string;
  readonly fn: Fn;
  /** `fn` returns a promise that each timed call awaits (default false: a synchronous task). */
  readonly async?: boolean;
}

export interface RoundsOptions {
  /** Rounds over all tasks, in rotated order (default {@link DEFAULT_ROUNDS}). */
  readonly rounds?: number;
  /** Time budget per task and round, ms (default 300). */
  readonly timeMs?: number;
  /** Warmup per task before the first round, ms (default 250). */
  readonly warmupMs?: number;
  /** Operations per call of a task function (default 1). */
  readonly operationsPerCall?: number;
}

/** A target of the form "`task` costs at most `maxRatio` × `baseline`". */
export interface Target {
  readonly description: string;
  readonly task: string;
  readonly baseline: string;
  readonly maxRatio: number;
}

export interface TargetResult extends Target {
  readonly ratio: number;
  readonly met: boolean;
}

/** One task, as reported. */
export interface TaskSummary {
  readonly name: string;
  /** Median over rounds of tinybench's throughput median, × operations per call. */
  readonly opsPerSec: number;
  /** Median over rounds of tinybench's latency median, ÷ operations per call, in ns. */
  readonly medianNsPerOp: number;
  /** Timed calls over all rounds. */
  readonly samples: number;
  /**
   * Per baseline: baseline ops/s ÷ this task's ops/s, computed within each round and then the
   * median over rounds, with the lowest and highest round.
   */
  readonly costRatios: Readonly<Record<string, { readonly median: number; readonly min: number; readonly max: number }>>;
}

/** The results of one bench group. */
export interface BenchGroupResult {
  readonly group: string;
  readonly baselines: readonly string[];
  readonly rounds: number;
  readonly operationsPerCall: number;
  readonly tasks: readonly TaskSummary[];
  readonly targets: readonly TargetResult[];
  readonly environment: {
    readonly node: string;
    readonly platform: string;
    readonly arch: string;
    readonly cpu: string;
    readonly cpus: number;
    readonly date: string;
  };
}

/** Enough rounds for the median to shrug off a burst of load on a shared machine. */
export const DEFAULT_ROUNDS = 7;

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const upper = sorted[middle] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? Number.NaN) + upper) / 2;
};

interface RoundMeasure {
  readonly opsPerSec: number;
  readonly nsPerOp: number;
  readonly samples: number;
}

/** Runs `tasks` in `rounds` rounds of one tinybench `Bench` each and returns the measures per task. */
async function measure(tasks: readonly BenchTask[], options: RoundsOptions): Promise<Map<string, RoundMeasure[]>> {
  const rounds = options.rounds ?? DEFAULT_ROUNDS;
  const operationsPerCall = options.operationsPerCall ?? 1;
  const measures = new Map<string, RoundMeasure[]>(tasks.map((task) => [task.name, []]));
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({
      time: options.timeMs ?? 300,
      warmup: round === 0,
      warmupTime: options.warmupMs ?? 250,
      throws: true,
    });
    // Rotate the order so that no task always runs first or last.
    for (let i = 0; i < tasks.length; i++) {
      const task = tasks[(i + round) % tasks.length];
      if (task !== undefined) bench.add(task.name, task.fn, { async: task.async ?? false });
    }
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result;
      if (result.state !== 'completed') {
        const detail = result.state === 'errored' ? `: ${result.error.message}` : '';
        throw new Error(`bench task "${task.name}" did not complete (${result.state})${detail}`);
      }
      measures.get(task.name)?.push({
        opsPerSec: result.throughput.p50 * operationsPerCall,
        nsPerOp: (result.latency.p50 * 1e6) / operationsPerCall,
        samples: result.latency.samplesCount,
      });
    }
  }
  return measures;
}

/** Runs a group and relates every task to each of `baselines` (task names of the group). */
export async function runGroup(
  group: string,
  tasks: readonly BenchTask[],
  options: RoundsOptions & { readonly baselines: readonly string[]; readonly targets?: readonly Target[] },
): Promise<BenchGroupResult> {
  const measures = await measure(tasks, options);
  const roundsOf = (name: string): RoundMeasure[] => {
    const found = measures.get(name);
    if (found === undefined) throw new Error(`no task "${name}" in group ${group}`);
    return found;
  };
  const summaries: TaskSummary[] = tasks.map((task) => {
    const own = roundsOf(task.name);
    const costRatios = Object.fromEntries(
      options.baselines.map((baseline) => {
        const base = roundsOf(baseline);
        const ratios = own.map((m, round) => (base[round]?.opsPerSec ?? Number.NaN) / m.opsPerSec);
        return [baseline, { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) }];
      }),
    );
    return {
      name: task.name,
      opsPerSec: median(own.map((m) => m.opsPerSec)),
      medianNsPerOp: median(own.map((m) => m.nsPerOp)),
      samples: own.reduce((sum, m) => sum + m.samples, 0),
      costRatios,
    };
  });
  const targets = (options.targets ?? []).map((target) => {
    const ratio = summaries.find((s) => s.name === target.task)?.costRatios[target.baseline]?.median;
    if (ratio === undefined) throw new Error(`target "${target.description}" names an unknown task or baseline`);
    return { ...target, ratio, met: ratio <= target.maxRatio };
  });
  return {
    group,
    baselines: options.baselines,
    rounds: options.rounds ?? DEFAULT_ROUNDS,
    operationsPerCall: options.operationsPerCall ?? 1,
    tasks: summaries,
    targets,
    environment: {
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      cpu: cpus()[0]?.model ?? 'unknown',
      cpus: cpus().length,
      date: new Date().toISOString(),
    },
  };
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** Prints the group as a table (one cost-ratio column per baseline), then each target's verdict. */
export function printGroup(result: BenchGroupResult): void {
  const env = result.environment;
  console.log(`\n${result.group}: ${env.node} ${env.platform}/${env.arch}, ${env.cpus} × ${env.cpu}`);
  console.log(
    `medians of ${result.rounds} interleaved rounds, ${result.operationsPerCall} operations per timed call; ` +
      'cost ratio = baseline ops/s ÷ task ops/s (lowest–highest round in brackets)',
  );
  for (const [i, baseline] of result.baselines.entries()) console.log(`  baseline ${String.fromCharCode(65 + i)} = ${baseline}`);
  console.table(
    result.tasks.map((task) => {
      const row: Record<string, string | number> = {
        task: task.name,
        'ops/s': integer.format(task.opsPerSec),
        'ns/op': task.medianNsPerOp.toFixed(0),
      };
      for (const [i, baseline] of result.baselines.entries()) {
        const ratio = task.costRatios[baseline];
        if (ratio !== undefined) {
          row[`cost ÷ ${String.fromCharCode(65 + i)}`] = `${ratio.median.toFixed(2)}× [${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}]`;
        }
      }
      row.samples = task.samples;
      return row;
    }),
  );
  for (const target of result.targets) {
    const verdict = target.met ? 'MET' : `MISSED by ${((target.ratio / target.maxRatio - 1) * 100).toFixed(0)} %`;
    const rounds = result.tasks.find((task) => task.name === target.task)?.costRatios[target.baseline];
    const range = rounds === undefined ? '' : ` [rounds ${rounds.min.toFixed(2)}–${rounds.max.toFixed(2)}×]`;
    console.log(`target ${target.description}: ${target.ratio.toFixed(2)}×${range} (limit ${target.maxRatio}×): ${verdict}`);
  }
}

/** Runs a bench's `main`, whose result is the exit code; a thrown error exits 1. */
export function runMain(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}

/** Writes `data` as pretty JSON, creating the directory. */
export function writeJson(file: string, data: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
}
