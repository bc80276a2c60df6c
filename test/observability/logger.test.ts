import { describe, expect, it } from 'vitest';
import { runWithRequestId } from '../../src/observability/log-context.js';
import { isSaneRequestId, requestIdFrom } from '../../src/observability/request-id.js';
import { scrubString } from '../../src/observability/redact.js';
import { captureLogger } from '../helpers/log-capture.js';

const SECRETS = {
  password: 'pw-Secret-0001',
  token: 'tok-Secret-0002',
  raw_token: 'raw-Secret-0003',
  ticket: 'tkt-Secret-0004-abcdefghijklmnop',
  cookie: 'sid=cookie-Secret-0005',
  authorization: 'Bearer auth-Secret-0006',
  vncPassword: 'vnc-Secret-0007',
  apiKey: 'key-Secret-0008',
  accessToken: 'acc-Secret-0009',
};

describe('logger redaction', () => {
  it('redacts secret-named fields at any depth and in any case', () => {
    const logs = captureLogger('trace');
    logs.logger.info({ ...SECRETS }, 'top level');
    logs.logger.info({ a: { b: { c: { d: { ...SECRETS } } } } }, 'deep');
    logs.logger.info({ upstream: { Password: SECRETS.password, 'X-API-Key': SECRETS.apiKey, Raw_Token: SECRETS.raw_token } }, 'odd case');
    logs.logger.info({ list: [{ token: SECRETS.token }, [{ ticket: SECRETS.ticket }]] }, 'arrays');
    logs.logger.info({ req: { headers: { authorization: SECRETS.authorization, cookie: SECRETS.cookie, 'sec-websocket-protocol': `binary, ticket.${SECRETS.ticket}` } } }, 'headers');
    logs.logger.info({ res: { headers: { 'set-cookie': SECRETS.cookie } } }, 'response headers');
    logs.logger.child({ password: SECRETS.password }).info('child bindings');
    const text = logs.text();
    for (const [name, value] of Object.entries(SECRETS)) expect(text, name).not.toContain(value.replace(/^Bearer |^sid=/, ''));
    expect(text).toContain('[redacted]');
    expect(logs.lines).toHaveLength(7);
  });

  it('scrubs credentials inside strings: query parameters, auth schemes, ticket subprotocols', () => {
    const logs = captureLogger('trace');
    logs.logger.info({ url: `/websockify?ticket=${SECRETS.ticket}&x=1`, detail: `sent Basic ${Buffer.from('u:p-long-secret').toString('base64')}` }, 'strings');
    logs.logger.info(`message with ws://gw/websockify?token=${SECRETS.token} and ticket.${SECRETS.ticket}`);
    const text = logs.text();
    expect(text).not.toContain(SECRETS.ticket);
    expect(text).not.toContain(SECRETS.token);
    expect(text).not.toContain(Buffer.from('u:p-long-secret').toString('base64'));
    expect(text).toContain('&x=1');
    expect(scrubString('wss://h/websockify/?uuid=u&token=abc%2Bdef&host=h')).toBe('wss://h/websockify/?uuid=u&token=[redacted]&host=h');
  });

  it('leaves ordinary fields alone (ticketId, tokenFile, counts)', () => {
    const logs = captureLogger('trace');
    logs.logger.info({ ticketId: 'tid-1', tokenFile: '/etc/tokens', sessions: 3 }, 'plain');
    const line = JSON.parse(logs.lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ ticketId: 'tid-1', tokenFile: '/etc/tokens', sessions: 3, msg: 'plain' });
  });

  it('adds the request id to every line written while a request is served', async () => {
    const logs = captureLogger('trace');
    await runWithRequestId('req-42', async () => {
      logs.logger.info('inside');
      await Promise.resolve();
      logs.logger.child({ component: 'x' }).warn('inside, later, from a child');
    });
    logs.logger.info('outside');
    const lines = logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.reqId)).toEqual(['req-42', 'req-42', undefined]);
  });
});

describe('request ids', () => {
  it('keeps a sane incoming x-request-id and replaces anything else', () => {
    expect(requestIdFrom({ 'x-request-id': 'lb-1234.abc:9' })).toBe('lb-1234.abc:9');
    for (const bad of ['', 'a b', 'x\r\nSet-Cookie: a=b', '"quoted"', 'é', 'x'.repeat(129)]) {
      expect(isSaneRequestId(bad), JSON.stringify(bad)).toBe(false);
      expect(requestIdFrom({ 'x-request-id': bad })).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(requestIdFrom({})).toMatch(/^[0-9a-f-]{36}$/);
  });
});
