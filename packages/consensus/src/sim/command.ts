/**
 * The simulator's command, as a pure function of its arguments: `--seeds N [--first F]` runs seeds
 * F..F+N-1 and prints every failing seed; `--seed S [--trace]` replays one seed exactly. The last
 * line is always `N seeds, V violations`; the exit code is 1 when V > 0 (2 on a usage error).
 */
import { formatStats, formatViolation, runSeeds } from "./run.js";
import { simulate } from "./simulate.js";

interface CommandOptions {
  seeds: number;
  first: number;
  seed: number | null;
  trace: boolean;
}

/** The usage line printed on a bad flag. */
export const usage = "usage: sim [--seeds N] [--first F] | sim --seed S [--trace]";

function parse(argv: readonly string[]): CommandOptions {
  const options: CommandOptions = { seeds: 1000, first: 1, seed: null, trace: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const number = (): number => {
      const parsed = Number(argv[i + 1]);
      if (!Number.isSafeInteger(parsed) || parsed < 0)
        throw new TypeError(`${flag} needs a non-negative integer`);
      i++;
      return parsed;
    };
    if (flag === "--seeds") options.seeds = number();
    else if (flag === "--first") options.first = number();
    else if (flag === "--seed") options.seed = number();
    else if (flag === "--trace") options.trace = true;
    else if (flag !== "--") throw new TypeError(`unknown flag ${flag}`);
  }
  return options;
}

/** Runs the command, writing lines to `out`; returns the exit code. */
export function runCommand(argv: readonly string[], out: (line: string) => void): number {
  let options: CommandOptions;
  try {
    options = parse(argv);
  } catch (error) {
    out(`${(error as Error).message}\n${usage}`);
    return 2;
  }
  if (options.seed !== null) {
    const result = simulate(options.seed, options.trace ? { trace: out } : {});
    out(formatViolation(result));
    out(`seed ${result.seed}: steps=${result.steps} committed=${result.committed} ${result.summary}`);
    out(formatStats(result.acknowledged, result.stats));
    const violations = result.violation === null ? 0 : 1;
    out(`1 seeds, ${violations} violations`);
    return violations === 0 ? 0 : 1;
  }
  const report = runSeeds({ firstSeed: options.first, count: options.seeds, onViolation: out });
  out(formatStats(report.acknowledged, report.stats));
  out(`${report.seeds} seeds, ${report.violations} violations`);
  return report.violations === 0 ? 0 : 1;
}
