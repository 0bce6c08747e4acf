/**
 * MQTT over TLS from certificate files, and what a device's client certificate
 * says about who it is. A verified certificate names its device as
 * `{productKey}/{deviceKey}` in its subject CN or in a SAN (DNS or URI entry);
 * a device presenting one may log in only as that device.
 */
import * as fs from 'node:fs';
import * as tls from 'node:tls';
import type { MqttTlsConfig } from '../config/config';
import type { DeviceRef } from '../orchestration/device-events';

export interface ClientCertificate {
  /** The port demands a certificate from devices (OTA_MQTT_TLS_CLIENT_CERT=required). */
  required: boolean;
  /** The names of a certificate that chains to the configured CA; undefined when none was presented. */
  names: string[] | undefined;
  /** A certificate was presented that the CA does not vouch for (expired, self-signed, another CA). */
  untrusted?: boolean;
}

export const NO_CERTIFICATE: ClientCertificate = { required: false, names: undefined };

/** What the handshake established about the client's certificate. */
export function clientCertificateOf(socket: tls.TLSSocket, required: boolean): ClientCertificate {
  const cert = socket.getPeerCertificate();
  const presented = Boolean(cert) && Object.keys(cert).length > 0;
  if (!presented) return { required, names: undefined };
  if (!socket.authorized) return { required, names: undefined, untrusted: true };
  return { required, names: peerCertificateNames(socket) };
}

export function tlsServerOptions(config: MqttTlsConfig): tls.TlsOptions {
  const askForCertificates = config.clientCertificates !== 'off' && config.clientCaFile !== undefined;
  return {
    cert: fs.readFileSync(config.certFile),
    key: fs.readFileSync(config.keyFile),
    minVersion: 'TLSv1.2',
    ...(askForCertificates && {
      ca: fs.readFileSync(config.clientCaFile as string),
      requestCert: true,
      // The handshake completes without a certificate; the login decides, so the device hears why (CONNACK 5).
      rejectUnauthorized: false,
    }),
  };
}

/** The names in the subject CN and the DNS and URI SANs of a verified peer certificate. */
function peerCertificateNames(socket: tls.TLSSocket): string[] {
  const cert = socket.getPeerCertificate();
  const names: string[] = [];
  const cn = cert.subject?.CN;
  if (typeof cn === 'string') names.push(cn);
  else if (Array.isArray(cn)) names.push(...(cn as string[]));
  for (const entry of (cert.subjectaltname ?? '').split(',')) {
    const m = /^\s*(DNS|URI):(.*)$/.exec(entry);
    if (m) names.push(m[2].trim());
  }
  return names;
}

export function certificateNamesDevice(
  certificate: ClientCertificate,
  device: DeviceRef,
): { ok: true } | { ok: false; reason: string } {
  if (certificate.untrusted) return { ok: false, reason: 'client certificate not trusted' };
  if (certificate.names === undefined) {
    return certificate.required ? { ok: false, reason: 'no valid client certificate' } : { ok: true };
  }
  const name = `${device.productKey}/${device.deviceKey}`;
  return certificate.names.includes(name)
    ? { ok: true }
    : { ok: false, reason: 'client certificate names another device' };
}
