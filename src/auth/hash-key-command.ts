/**
 * `console-gateway hash-key`: prints the `sha256:<hex>` form of an API key for `auth.apiKeys[].hash`.
 * The key is read from stdin (never from argv, which other users can see in `ps`);
 * `--generate` makes a new random key and prints it with its hash.
 */
import type { Readable, Writable } from 'node:stream';
import { MIN_API_KEY_LENGTH, generateApiKey, hashApiKey } from './api-keys.js';

export const HASH_KEY_USAGE = `usage: console-gateway hash-key [--generate]

  Reads an API key from stdin and prints its hash for auth.apiKeys[].hash:
    printf %s "$KEY" | console-gateway hash-key
  --generate   make a new random key; prints the key (give it to the client) and its hash (put it in the config)`;

export interface HashKeyIo {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable;
  stderr: Writable;
}

/** Run the subcommand; resolves to the process exit code (0 ok, 2 usage or a key too short). */
export async function runHashKeyCommand(args: readonly string[], io: HashKeyIo): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(`${HASH_KEY_USAGE}\n`);
    return 0;
  }
  const unknown = args.filter((a) => a !== '--generate');
  if (unknown.length > 0) {
    io.stderr.write(`hash-key: unknown argument ${unknown[0]}\n${HASH_KEY_USAGE}\n`);
    return 2;
  }
  if (args.includes('--generate')) {
    const key = generateApiKey();
    io.stdout.write(`key:  ${key}\nhash: ${hashApiKey(key)}\n`);
    return 0;
  }
  if (io.stdin.isTTY) io.stderr.write('paste the API key, then press Enter and Ctrl-D\n');
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  // A trailing newline from `echo` or a terminal is not part of the key.
  const key = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (key.length < MIN_API_KEY_LENGTH || /\s/.test(key)) {
    io.stderr.write(`hash-key: a key must be at least ${MIN_API_KEY_LENGTH} characters without whitespace (try --generate)\n`);
    return 2;
  }
  io.stdout.write(`${hashApiKey(key)}\n`);
  return 0;
}
