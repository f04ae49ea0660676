/**
 * After each end-to-end test: a request loop its failed assertions left running is stopped, so
 * that it neither loads the next tests nor keeps jest from exiting once they are done. The loops
 * are found on globalThis (helpers.ts puts them there): importing helpers here would read the
 * ports before a test file's env module (replicas-env.ts) set its own.
 */
afterEach(async () => {
  const loops = (globalThis as Record<string, unknown>)["__hsRequestLoops"] as
    Set<{ stop: () => Promise<unknown> }> | undefined;
  if (loops === undefined || loops.size === 0) return;
  const left = [...loops];
  await Promise.all(left.map((l) => l.stop()));
  console.warn(`stopped ${left.length} request loop(s) the test left running`);
});
