// The entry of `pnpm test:chaos` (through test/chaos/cli.mjs): parses the flags, runs the chaos suite,
// prints a summary and, last, `chaos: N acked, L lost, D divergent`. Returns the exit code.
import { lastLine, runChaos } from "./run.js";

const usage =
  "usage: pnpm test:chaos --duration 10m --seed S [--nodes 3] [--rate 40] [--nemeses leader-kill,...] [--process] [--disk-mb M]";

/** "90", "90s", "10m", "1h" in seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text.trim());
  if (match === null) throw new Error(`bad duration ${text}: ${usage}`);
  const unit = match[2] === "h" ? 3600 : match[2] === "m" ? 60 : 1;
  return Math.round(Number(match[1]) * unit);
}

export async function main(argv: readonly string[]): Promise<number> {
  const flags = new Map<string, string>();
  for (let at = 0; at < argv.length; at++) {
    const flag = argv[at] as string;
    if (flag === "--") continue;
    if (flag === "--process") flags.set("process", "true");
    else if (flag.startsWith("--") && at + 1 < argv.length) flags.set(flag.slice(2), argv[++at] as string);
    else throw new Error(`unknown argument ${flag}: ${usage}`);
  }
  const report = await runChaos({
    durationS: parseDuration(flags.get("duration") ?? "2m"),
    seed: Number(flags.get("seed") ?? Date.now() % 1_000_000),
    ...(flags.has("nodes") ? { nodes: Number(flags.get("nodes")) } : {}),
    ...(flags.has("rate") ? { rate: Number(flags.get("rate")) } : {}),
    ...(flags.has("nemeses") ? { nemeses: (flags.get("nemeses") as string).split(",") } : {}),
    ...(flags.has("process") ? { forceProcess: true } : {}),
    ...(flags.has("disk-mb") ? { diskMb: Number(flags.get("disk-mb")) } : {}),
    log: (line) => console.log(line),
  });
  console.log(
    `chaos: mode ${report.mode}, seed ${report.seed}, ${report.duration_s} s, report ${report.report_path}`,
  );
  for (const nemesis of report.nemeses) {
    console.log(`chaos: ${nemesis.name}: availability ${nemesis.availability}, ${nemesis.acked} acked`);
  }
  for (const problem of report.problems) console.log(`chaos: problem: ${problem}`);
  const failed =
    report.lost_acked +
      report.duplicated +
      report.divergent_heights +
      report.app_hash_mismatches +
      report.replay_failures +
      report.revoke_violations +
      report.decision_mismatches +
      report.acked_height_mismatches >
      0 || !report.converged;
  console.log(lastLine(report));
  return failed ? 1 : 0;
}
