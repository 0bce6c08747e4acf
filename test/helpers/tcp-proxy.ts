/**
 * A TCP forwarder in front of a real server, so a test can make that server
 * unreachable for one client and bring it back on the same address: `cut()`
 * closes the port (connections refused, open ones reset), `restore()` listens
 * on it again. The server behind it never notices.
 */
import * as net from 'node:net';

export interface TcpProxy {
  /** host:port the client is given. */
  address: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const [targetHost, targetPort] = splitHostPort(target);
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;

  const listen = async () => {
    const s = net.createServer((inbound) => {
      const outbound = net.connect(targetPort, targetHost);
      for (const sock of [inbound, outbound]) {
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
        sock.on('error', () => undefined);
      }
      inbound.pipe(outbound);
      outbound.pipe(inbound);
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as net.AddressInfo).port;
    server = s;
  };
  const cut = async () => {
    const s = server;
    server = undefined;
    // A reset, not a FIN: what a client sees when the server is unreachable.
    for (const sock of sockets) sock.resetAndDestroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  return {
    address: `127.0.0.1:${port}`,
    cut,
    restore: listen,
    close: cut,
  };
}

function splitHostPort(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i) || '127.0.0.1', Number(address.slice(i + 1))];
}
