/**
 * The demo binary run by the root `npm start`: prints the narrated simulator run of src/sim/demo.ts.
 * Only process.stdout is used.
 */
import { runDemo } from "./sim/demo.js";

runDemo((line) => {
  process.stdout.write(line + "\n");
});
