/**
 * The README's "For frontend teams" snippets are the files under examples/ that the frontend tests
 * run: every `<!-- snippet: path -->` block must equal its file, and every example must appear.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url);
const readme = readFileSync(new URL('README.md', ROOT), 'utf8');
const blocks = [...readme.matchAll(/<!-- snippet: (\S+) -->\n```\w*\n([\s\S]*?)```\n/g)].map((m) => ({ path: m[1]!, text: m[2]! }));

describe('README snippets', () => {
  it('are the example files, verbatim', () => {
    expect(blocks.length).toBeGreaterThan(0);
    for (const b of blocks) expect(b.text, b.path).toBe(readFileSync(new URL(b.path, ROOT), 'utf8'));
  });

  it('include every file under examples/', () => {
    const files = readdirSync(new URL('examples/', ROOT)).map((f) => `examples/${f}`);
    expect(blocks.map((b) => b.path).sort()).toEqual(files.sort());
  });
});
