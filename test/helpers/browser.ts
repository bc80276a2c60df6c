/** Chromium for the browser tests: Debian's build, the suite's flags, screenshots under the OS temp dir. */
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** Where the frontend tests leave their screenshots (for a person to look at; nothing asserts on the pictures). */
export const SCREENSHOT_DIR = join(tmpdir(), 'console-gateway-frontend');
