// The checks' harness, shared by tests/ui/check-*.mjs: `check(name, fn)` runs one check and
// names it when it throws; `done()` prints "ok: N checks", which the Rust test expects.

let checks = 0;

/** Runs `fn`; on a failure, says which check failed and rethrows. */
export function check(name, fn) {
  try {
    fn();
    checks += 1;
  } catch (e) {
    console.error(`FAILED: ${name}`);
    throw e;
  }
}

/** Prints the count of passed checks. */
export function done() {
  console.log(`ok: ${checks} checks`);
}
