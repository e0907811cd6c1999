import type { Host } from '../../../host.js';
import type { HostSocket } from '../server.js';
import type { ClientState } from '../clients.js';
import { register } from '../dispatch.js';
import { modelHandlers } from './models.js';
import { selectionHandlers } from './selection.js';
import { personalityHandlers } from './personalities.js';
import { tokenHandlers } from './tokens.js';
import { generationHandlers } from './generation.js';
import { installHandlers } from './install.js';

/** Every client event, one group per file. */
export function registerHandlers(host: Host, socket: HostSocket, client: ClientState): void {
  register(host, socket, client, {
    ...modelHandlers,
    ...selectionHandlers,
    ...personalityHandlers,
    ...tokenHandlers,
    ...generationHandlers,
    ...installHandlers,
  });
}
