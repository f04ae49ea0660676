/**
 * After each end-to-end test: a request loop its failed assertions left running is stopped, so
 * that it neither loads the next tests nor keeps jest from exiting once they are done.
 */
import { stopLeftoverLoops } from "./helpers";

afterEach(async () => {
  const n = await stopLeftoverLoops();
  if (n > 0) console.warn(`stopped ${n} request loop(s) the test left running`);
});
