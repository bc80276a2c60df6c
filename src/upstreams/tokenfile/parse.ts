/**
 * The websockify TokenFile format (websockify/token_plugins.py, ReadOnlyTokenFile):
 *
 *     # comment
 *     token: host:port
 *
 * websockify strips each line, skips blank lines and lines starting with `#`, splits once on a
 * colon followed by whitespace, and splits the target on its *last* colon, which is why an
 * unbracketed IPv6 target (`tok: ::1:5900`) works. We accept `[::1]:5900` too, and reject what
 * websockify would only fail on later (a port that is not 1-65535, an empty host).
 */

export interface HostPort {
  host: string;
  port: number;
}

export interface TokenFileProblem {
  file: string;
  /** 1-based line number. */
  line: number;
  /** What is wrong, never the line's text (it holds the token). */
  problem: string;
}

export interface ParsedTokenFile {
  entries: Map<string, HostPort>;
  problems: TokenFileProblem[];
}

/** The first `:` followed by whitespace separates the token from the target, as websockify's `re.split(r':\s', line)`. */
const SEPARATOR = /:\s+/;

/** Parse one file's text into `into` (later lines and files win, as in websockify's dict). */
export function parseTokenFile(text: string, file: string, into: ParsedTokenFile = { entries: new Map(), problems: [] }): ParsedTokenFile {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const parsed = parseLine(line);
    if (typeof parsed === 'string') {
      into.problems.push({ file, line: i + 1, problem: parsed });
      continue;
    }
    if (into.entries.has(parsed.token)) into.problems.push({ file, line: i + 1, problem: 'duplicate token (this line wins)' });
    into.entries.set(parsed.token, parsed.target);
  }
  return into;
}

function parseLine(line: string): { token: string; target: HostPort } | string {
  const sep = SEPARATOR.exec(line);
  if (!sep) return 'no "token: host:port" separator';
  const token = line.slice(0, sep.index).trim();
  const targetText = line.slice(sep.index + sep[0].length).trim();
  if (token === '') return 'empty token';
  if (/\s/.test(targetText)) return 'target has whitespace in it';
  const target = parseHostPort(targetText);
  return typeof target === 'string' ? target : { token, target };
}

export function parseHostPort(text: string): HostPort | string {
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2] ?? '';
  } else {
    const colon = text.lastIndexOf(':');
    if (colon === -1) return 'target has no port';
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  if (host === '' || host.startsWith('[') || host.endsWith(']')) return 'bad host';
  if (!/^\d{1,5}$/.test(portText)) return 'bad port';
  const port = Number(portText);
  if (port < 1 || port > 65535) return 'port out of range';
  return { host, port };
}
