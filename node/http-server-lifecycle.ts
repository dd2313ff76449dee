/**
 * Listen and close for the node's HTTP servers (RPC, /metrics), so both bind and shut down the
 * same way: a bind failure rejects instead of surfacing as an 'error' event, and closing also
 * drops kept-alive client connections, so `stop()` never waits on an idle client.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Starts listening; rejects when the address cannot be bound (for example, in use). */
export function listenHttp(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    // An empty host means every interface, as Go's ":26660" does.
    server.listen(port, host === '' ? undefined : host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** The bound address, or undefined while not listening. */
export function boundAddress(server: Server): AddressInfo | undefined {
  return (server.address() as AddressInfo | null) ?? undefined;
}

/** Stops accepting and closes every open connection; resolves at once if not listening. */
export function closeHttp(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
