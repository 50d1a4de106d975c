/**
 * The simulator's command line: `sim --seeds N [--first F]` runs seeds F..F+N-1 and prints every
 * failing seed; `sim --seed S [--trace]` replays one seed exactly. The last line of stdout is always
 * `N seeds, V violations`; the exit code is 1 when V > 0. Time it with `time`: the output has no clock.
 */
import { formatStats, formatViolation, runSeeds } from "./run.js";
import { simulate } from "./simulate.js";

interface CliOptions {
  seeds: number;
  first: number;
  seed: number | null;
  trace: boolean;
}

function parse(argv: readonly string[]): CliOptions {
  const options: CliOptions = { seeds: 1000, first: 1, seed: null, trace: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    const number = (): number => {
      const parsed = Number(value);
      if (!Number.isSafeInteger(parsed) || parsed < 0)
        throw new Error(`${flag} needs a non-negative integer`);
      i++;
      return parsed;
    };
    if (flag === "--seeds") options.seeds = number();
    else if (flag === "--first") options.first = number();
    else if (flag === "--seed") options.seed = number();
    else if (flag === "--trace") options.trace = true;
    else if (flag !== "--") throw new Error(`unknown flag ${flag}`);
  }
  return options;
}

function main(): void {
  const options = parse(process.argv.slice(2));
  const out = (line: string): void => {
    process.stdout.write(line + "\n");
  };
  if (options.seed !== null) {
    const result = simulate(options.seed, options.trace ? { trace: out } : {});
    out(formatViolation(result));
    out(`seed ${result.seed}: steps=${result.steps} committed=${result.committed} ${result.summary}`);
    out(formatStats(result.acknowledged, result.stats));
    out(`1 seeds, ${result.violation === null ? 0 : 1} violations`);
    process.exitCode = result.violation === null ? 0 : 1;
    return;
  }
  const report = runSeeds({ firstSeed: options.first, count: options.seeds, onViolation: out });
  out(formatStats(report.acknowledged, report.stats));
  out(`${report.seeds} seeds, ${report.violations} violations`);
  process.exitCode = report.violations === 0 ? 0 : 1;
}

main();
