// Node's half of the setkey(8) reader: the file from disk (config/setkey.ts parses
// text, in Node and in the page alike).

import { readFile } from 'node:fs/promises';
import { parseSetkey, type Config } from './setkey.js';

/** Read and parse a setkey(8) configuration file. */
export async function loadSetkey(path: string): Promise<Config> {
  return parseSetkey(await readFile(path, 'utf8'), path);
}
