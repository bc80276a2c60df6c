/** Keeps the websockify token file (token-file.ts) in step with the cached VMs; a failed write is logged and shown in readiness. */
import type { Logger } from '../../logger.js';
import type { AbiquoVm } from './model.js';
import { TokenFileWriter, renderTokenFile, type TokenFileState } from './token-file.js';

export class TokenFileSync {
  readonly #writer: TokenFileWriter;
  readonly #logger: Logger;

  constructor(path: string, logger: Logger) {
    this.#writer = new TokenFileWriter({ path });
    this.#logger = logger;
  }

  state(): TokenFileState {
    return this.#writer.state();
  }

  /** Write the token file for these VMs (nothing when unchanged). Never throws. */
  async sync(vms: AbiquoVm[]): Promise<void> {
    await this.#writer.write(renderTokenFile(vms));
    const state = this.#writer.state();
    if (!state.ok) this.#logger.error({ path: state.path, code: state.lastError }, 'abiquo token file could not be written');
  }
}
