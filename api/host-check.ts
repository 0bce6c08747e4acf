/**
 * DNS-rebinding guard for an API without a token. A web page can make a
 * browser send requests to 127.0.0.1 under the attacker's own host name;
 * such requests carry that name in Host (and Origin), so only the configured
 * names with the API's own port are answered. With a token set, a browser
 * page cannot forge the Authorization header, and the check is not needed.
 */
import type { Request, RequestHandler } from 'express';
import { errorBody } from './errors';

/** "name:port" split, with "[::1]:8080" kept bracketed; the port is undefined when absent. */
export function splitHost(value: string): { name: string; port: number | undefined } | null {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(value.trim());
  if (!m) return null;
  return { name: m[1].toLowerCase(), port: m[2] === undefined ? undefined : Number(m[2]) };
}

function hostProblem(req: Request, names: ReadonlySet<string>, tls: boolean): string | null {
  const ownPort = req.socket.localPort;
  const defaultPort = tls ? 443 : 80;
  const matches = (value: string): boolean => {
    const host = splitHost(value);
    return host !== null && names.has(host.name) && (host.port ?? defaultPort) === ownPort;
  };
  const host = req.get('host');
  if (host === undefined || !matches(host)) return `Host "${host ?? ''}" is not a name this API answers to`;
  const origin = req.get('origin');
  if (origin !== undefined) {
    let originHost: string | null = null;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = null;
    }
    if (originHost === null || originHost === '' || !matches(originHost)) {
      return `Origin "${origin}" is not a name this API answers to`;
    }
  }
  return null;
}

export function hostCheck(allowedHosts: readonly string[], tls: boolean): RequestHandler {
  const names = new Set(allowedHosts.map((h) => h.toLowerCase()));
  return (req, res, next) => {
    const problem = hostProblem(req, names, tls);
    if (problem === null) {
      next();
      return;
    }
    res
      .status(403)
      .json(
        errorBody(
          'forbidden',
          `${problem} (OTA_API_ALLOWED_HOSTS: ${[...names].join(', ')}, with the API's port); set OTA_API_TOKEN to serve other names`,
        ),
      );
  };
}
