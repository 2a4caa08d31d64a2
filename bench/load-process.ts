/**
 * The load generator's process: bench/run.ts starts it pinned to the core the server
 * does not use and drives it over IPC (bench/lib/messages.ts). Between runs it also
 * grows the ledger for the ledger-size curve, while the server is idle.
 */
import { growLedger } from './lib/ledger-history.js';
import { LoadGenerator } from './lib/load-generator.js';
import type { LoadCommand, LoadMessage } from './lib/messages.js';

const send = (message: LoadMessage) => process.send!(message);
const generator = new LoadGenerator(send);
let queue = Promise.resolve();
process.on('message', (command: LoadCommand) => {
  queue = queue.then(async () => {
    try {
      if (command.type === 'setup') await generator.setup(command);
      else if (command.type === 'run') await generator.run(command);
      else if (command.type === 'history') send({ type: 'history-done', ...(await growLedger(command.databaseUrl, command.targetEntries)) });
      else {
        generator.close();
        process.exit(0);
      }
    } catch (error) {
      send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  });
});
