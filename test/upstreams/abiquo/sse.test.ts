import { describe, expect, it } from 'vitest';
import { SseParser } from '../../../src/upstreams/abiquo/sse.js';

function feed(...chunks: Array<string | Uint8Array>) {
  const p = new SseParser();
  return chunks.flatMap((c) => p.push(c));
}

describe('SseParser', () => {
  it('dispatches a data line on the blank line that ends it', () => {
    expect(feed('data: {"a":1}\n')).toEqual([]);
    expect(feed('data: {"a":1}\n\n')).toEqual([{ event: 'message', data: '{"a":1}', id: '' }]);
  });

  it('joins multi-line data with LF and drops only one leading space', () => {
    expect(feed('data: one\ndata:  two\ndata:three\n\n').map((m) => m.data)).toEqual(['one\n two\nthree']);
  });

  it('ignores comments and unknown fields', () => {
    expect(feed(': padding\nfoo: bar\ndata: x\n: more\n\n').map((m) => m.data)).toEqual(['x']);
  });

  it('yields a blank message for an empty data line (the Outbound API first message)', () => {
    expect(feed('data: \n\n', 'data:\n\n').map((m) => m.data)).toEqual(['', '']);
  });

  it('dispatches nothing for a block without data', () => {
    expect(feed('event: ping\nid: 3\n\n')).toEqual([]);
  });

  it('accepts CRLF and CR line ends, also when CR and LF arrive in different chunks', () => {
    expect(feed('data: a\r\n\r\ndata: b\r\rdata: c\r', '\n\r', '\n').map((m) => m.data)).toEqual(['a', 'b', 'c']);
  });

  it('keeps event names and the last id across messages', () => {
    const msgs = feed('event: deploy\nid: 7\ndata: x\n\ndata: y\n\n');
    expect(msgs).toEqual([
      { event: 'deploy', data: 'x', id: '7' },
      { event: 'message', data: 'y', id: '7' },
    ]);
  });

  it('decodes UTF-8 split inside a character and drops a leading BOM', () => {
    const bytes = Buffer.from('\uFEFFdata: café ☕\n\n', 'utf8');
    const cut = bytes.indexOf(0xe2) + 1; // inside the 3-byte ☕
    expect(feed(bytes.subarray(0, 5), bytes.subarray(5, cut), bytes.subarray(cut)).map((m) => m.data)).toEqual(['café ☕']);
  });

  it('does not dispatch an unterminated message', () => {
    expect(feed('data: partial')).toEqual([]);
  });

  it('reads retry hints made of digits only', () => {
    const p = new SseParser();
    p.push('retry: 1500\n\nretry: 2x\n\n');
    expect(p.retryMs).toBe(1500);
  });
});
