import type { Socket } from 'socket.io';
import type { ClientState } from '../clients.js';
import type { SocketDeps } from '../deps.js';
import { register } from '../dispatch.js';
import { modelHandlers } from './models.js';
import { selectionHandlers } from './selection.js';
import { personalityHandlers } from './personalities.js';
import { tokenHandlers } from './tokens.js';
import { generationHandlers } from './generation.js';
import { installHandlers } from './install.js';
import { bindingSettingsHandlers } from './binding-settings.js';

/** Every client event, one group per file. */
export function registerHandlers(deps: SocketDeps, socket: Socket, client: ClientState): void {
  register(deps, socket, client, {
    ...modelHandlers,
    ...selectionHandlers,
    ...personalityHandlers,
    ...tokenHandlers,
    ...generationHandlers,
    ...installHandlers,
    ...bindingSettingsHandlers,
  });
}
