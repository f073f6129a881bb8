// Preloaded into `node --test` and, through its execArgv, into every test file's child process.
//
// With --test-force-exit (which our stages need: a test's leftover handle must not hang CI),
// a test file's process exits as soon as its last test ends, while the report of its last
// tests may still sit in the pipe to the parent runner; the parent then counts fewer tests
// than ran, and the name and error of a failing test can be lost, leaving only the file's
// "test failed" (nodejs/node#64833, open; CI once counted 521 of 527 unit tests). Blocking
// writes on stdout and stderr put every report into the pipe before that exit.
'use strict';

for (const stream of [process.stdout, process.stderr]) {
  stream._handle?.setBlocking?.(true);
}
