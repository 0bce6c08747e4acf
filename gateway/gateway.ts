/**
 * The gateway: an Aedes broker inside this process, listening for devices on
 * TCP, plus an HTTP port that reports health. Built as a function so tests run
 * it in-process on ephemeral ports.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { createBroker } from 'aedes';
import type Aedes from 'aedes';
import type { Config } from '../config/config';
import type { Logger } from '../runtime/log';

export interface GatewayDeps {
  config: Pick<Config, 'mqttPort' | 'mqttHost' | 'gatewayHttpPort'>;
  log: Logger;
}

export interface Gateway {
  broker: Aedes;
  mqttPort: number;
  httpUrl: string;
  close(): Promise<void>;
}

export async function startGateway(deps: GatewayDeps): Promise<Gateway> {
  const broker = createBroker();
  const mqttServer = net.createServer(broker.handle);
  await listen(mqttServer, deps.config.mqttPort, deps.config.mqttHost);

  const httpServer = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'up', clients: broker.connectedClients }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'not_found', message: 'not found', details: [] } }));
  });
  await listen(httpServer, deps.config.gatewayHttpPort, '127.0.0.1');

  const mqttPort = (mqttServer.address() as net.AddressInfo).port;
  const httpPort = (httpServer.address() as net.AddressInfo).port;
  return {
    broker,
    mqttPort,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await Promise.all([closeServer(mqttServer), closeServer(httpServer)]);
    },
  };
}

function listen(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
