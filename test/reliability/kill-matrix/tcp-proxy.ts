/**
 * A TCP relay between the services and a server, which the test can cut: while
 * cut, every open connection is reset and new ones are refused, exactly what
 * a client sees when the server is unreachable. The server itself keeps
 * running, so what is tested is the clients' handling of the outage.
 */
import * as net from 'node:net';

export interface TcpProxy {
  address: string;
  /** Resets every connection and refuses new ones until restore(). */
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }, port: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const listen = () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const stopListening = () => new Promise<void>((resolve) => server.close(() => resolve()));
  await listen();
  return {
    address: `127.0.0.1:${port}`,
    async cut() {
      const closed = stopListening();
      for (const s of sockets) s.resetAndDestroy();
      await closed;
    },
    restore: listen,
    async close() {
      const closed = server.listening ? stopListening() : Promise.resolve();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
