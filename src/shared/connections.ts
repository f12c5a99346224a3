/**
 * Connection bounds for a TLS listener (issue 15, "handshakes and failed
 * logins"): at most `maxConnections` sockets at once (node's own
 * `server.maxConnections`: beyond it a new socket is closed at once), and at
 * most `maxHandshakesPerAddress` sockets per source address whose TLS
 * handshake has not completed. A socket over that bound is destroyed before
 * its handshake can complete, so one address that opens handshakes and
 * never finishes them cannot take the listener's slots or CPU. Refusals are
 * logged at most once a minute per listener, with how many there were.
 */
import type { Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';

export interface ConnectionBounds {
  maxConnections: number;
  maxHandshakesPerAddress: number;
}

const LOG_EVERY_MS = 60_000;

export function boundConnections(server: TlsServer, bounds: ConnectionBounds, log: Logger, listener: string): void {
  server.maxConnections = bounds.maxConnections;
  // Sockets whose handshake is in progress, per address; keyed by address and port to find them again.
  const pending = new Map<string, Map<number, Socket>>();
  let refusedHandshakes = 0;
  let dropped = 0;
  let lastLog = 0;
  const report = (): void => {
    const now = Date.now();
    if (now - lastLog < LOG_EVERY_MS) return;
    lastLog = now;
    log.warn(
      { listener, refusedHandshakes, droppedOverMaxConnections: dropped, ...bounds },
      'connections refused: too many at once, or too many unfinished TLS handshakes from one address',
    );
    refusedHandshakes = 0;
    dropped = 0;
  };
  const forget = (address: string, port: number): void => {
    const byPort = pending.get(address);
    if (!byPort) return;
    byPort.delete(port);
    if (byPort.size === 0) pending.delete(address);
  };

  // Runs before the TLS layer wraps the socket: an over-bound socket never starts its handshake.
  server.prependListener('connection', (socket: Socket) => {
    const address = socket.remoteAddress;
    const port = socket.remotePort;
    if (address === undefined || port === undefined) return;
    let byPort = pending.get(address);
    if (!byPort) pending.set(address, (byPort = new Map()));
    if (byPort.size >= bounds.maxHandshakesPerAddress) {
      refusedHandshakes++;
      report();
      socket.destroy();
      return;
    }
    byPort.set(port, socket);
    socket.once('close', () => {
      if (pending.get(address)?.get(port) === socket) forget(address, port);
    });
  });
  server.on('secureConnection', (tlsSocket: TLSSocket) => {
    if (tlsSocket.remoteAddress !== undefined && tlsSocket.remotePort !== undefined) forget(tlsSocket.remoteAddress, tlsSocket.remotePort);
  });
  server.on('drop', () => {
    dropped++;
    report();
  });
}
