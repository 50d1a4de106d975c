// verifyChain over one node's chain database, in its own process, so that the chaos checker replays
// every node's chain at once (one core each) instead of one after the other. Plain JavaScript over the
// built packages. Usage: node verify-chain.mjs '{"dbPath": "...", "genesis": {...}}'; prints the
// ChainVerification as one JSON line.
import { verifyChain } from "@medledger/node";

const { dbPath, genesis } = JSON.parse(process.argv[2] ?? "{}");
process.stdout.write(`${JSON.stringify(verifyChain({ dbPath, genesis }))}\n`);
