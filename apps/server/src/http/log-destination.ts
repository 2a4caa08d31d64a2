/**
 * Where the server's log lines go when no stream is given: standard output, written
 * synchronously, each line one write(2) on the event loop's thread.
 *
 * pino's default destination writes asynchronously, through libuv's thread pool: a hand-over
 * to another thread and a completion callback for every write, which cost more CPU than the
 * write itself. Measured with pino writing access lines to a file on one core (as the bench
 * pins the server): 9-12 µs of CPU per line, against 6-7 µs written synchronously. And a
 * line is written when the call that logged it returns, even if the process dies right after.
 * (A buffered destination, which writes many lines at once, was measured slower still.)
 */
import { pino } from 'pino';

export function logDestination(fd = 1) {
  return pino.destination({ dest: fd, sync: true });
}
