import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../../src/app.js';
import { validateConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { captureLogger } from '../helpers/log-capture.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

const tower = { name: 'tower', kind: 'cloudtower', url: 'http://127.0.0.1:9', username: 'u', password: 'p' };

describe('a gateway with a redis section', () => {
  let redis: RedisServer;
  let gw: RunningGateway | null = null;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await gw?.close();
    await redis.stop();
  });

  it('connects to the fleet store, uses its key prefix, and logs the connection', async () => {
    const log = captureLogger('info');
    const config = validateConfig({ server: { port: 0 }, providers: [tower], redis: { url: redis.url, keyPrefix: 'test1:' } });
    gw = await startGateway(config, { logger: log.logger });
    expect(gw.fleet?.connected()).toBe(true);
    await gw.fleet!.redis.set('probe', 'x');
    const unprefixed = gw.fleet!.redis.duplicate({ keyPrefix: '', enableOfflineQueue: true, lazyConnect: false });
    expect(await unprefixed.get('test1:probe')).toBe('x');
    unprefixed.disconnect();
    expect(log.text()).toContain('redis connected');
  });

  it('refuses a redis URL that is not redis:// or rediss://, naming the key', () => {
    expect(() => validateConfig({ providers: [tower], redis: { url: 'http://127.0.0.1:6379' } })).toThrow(ConfigError);
    try {
      validateConfig({ providers: [tower], redis: { url: 'http://127.0.0.1:6379' } });
    } catch (err) {
      expect((err as ConfigError).issues.join('\n')).toContain('redis.url');
    }
  });
});
