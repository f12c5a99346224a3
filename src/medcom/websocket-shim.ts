/**
 * Makes `@medplum/core` loadable on plain Node 20.
 *
 * `@medplum/core` 5 reads `WebSocket.CLOSING` / `WebSocket.CLOSED` while its
 * module is evaluated (for its subscription client). Node 22+ has a global
 * `WebSocket`; Node 20 only behind `--experimental-websocket`, so loading it
 * fails with "ReferenceError: WebSocket is not defined".
 *
 * The gateway uses only Medplum's validator and never opens a WebSocket, so
 * when (and only when) the global is absent we define a stand-in carrying the
 * four readyState constants, whose constructor throws.
 *
 * Order matters, and a static `import './websocket-shim.js'` placed before
 * `import … from '@medplum/core'` is NOT enough once bundled: esbuild
 * (`npm run build`, `--packages=external`) inlines this module into the
 * bundle's body but keeps `@medplum/core` as an `import` statement, and ESM
 * evaluates all imports before the body. src/medcom/validator.ts therefore
 * calls installWebSocketShim() and only then loads `@medplum/core` at run
 * time (createRequire), which holds bundled or not.
 */

export const WEBSOCKET_UNAVAILABLE = "WebSocket is not available: the gateway does not use Medplum's subscriptions";

/** The stand-in: readyState constants for Medplum's module code, and a constructor that refuses. */
export class UnavailableWebSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  constructor() {
    throw new Error(WEBSOCKET_UNAVAILABLE);
  }
}

/**
 * Defines `globalThis.WebSocket` as UnavailableWebSocket if there is no
 * WebSocket; a real one (Node 22+, or Node 20 with --experimental-websocket)
 * is left alone. Idempotent. Returns true when the stand-in is in place.
 */
export function installWebSocketShim(): boolean {
  const g = globalThis as { WebSocket?: unknown };
  if (g.WebSocket === undefined) {
    Object.defineProperty(globalThis, 'WebSocket', { value: UnavailableWebSocket, writable: true, configurable: true, enumerable: false });
  }
  return g.WebSocket === UnavailableWebSocket;
}
