/**
 * `npm run rotate-token-key` (repository root): adds a new dual-token server key in
 * DATA_DIR. Existing sessions keep working; restart the server to issue new sessions
 * under the new key.
 */
import { loadConfig } from '../config.js';
import { TokenKeyRing } from '../services/token-keys.js';

const config = loadConfig(process.env);
const ring = await TokenKeyRing.open(config.dataDir, Date.now());
const kid = await ring.rotate(Date.now());
process.stdout.write(`new token key ${kid} in ${config.dataDir}; restart the server to use it\n`);
