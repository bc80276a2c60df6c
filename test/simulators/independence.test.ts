import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SIMULATORS = join(ROOT, 'src/simulators');
/** DES is checked against published vectors (test/rfb/des.test.ts), so sharing it hides nothing. */
const SHARED_WITH_THE_GATEWAY = new Set(['src/rfb/des.ts']);
/** The embedded default starts the gateway itself, so it alone may import gateway modules. */
const GLUE = 'src/simulators/embedded.ts';

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourcesUnder(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

describe('simulators', () => {
  it('read the wire on their own: no simulator imports a gateway module (DES aside)', () => {
    const reachedOut: string[] = [];
    for (const file of sourcesUnder(SIMULATORS)) {
      if (relative(ROOT, file) === GLUE) continue;
      for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/from\s+'(\.[^']+)'/g)) {
        const target = relative(ROOT, resolve(dirname(file), specifier!)).replace(/\.js$/, '.ts');
        if (!target.startsWith('src/simulators/') && !SHARED_WITH_THE_GATEWAY.has(target)) reachedOut.push(`${relative(ROOT, file)} -> ${target}`);
      }
    }
    expect(reachedOut).toEqual([]);
  });
});
