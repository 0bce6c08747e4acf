/**
 * Handles a device's OTA message once the ACL let it through: validate, answer
 * on `topic_reply` (SDKs block on every inform and progress: a progress report at
 * once, an inform once its version is stored), and tell the orchestration in the
 * device's order. getversion needs the offer
 * before it can answer, so the orchestration gets a bounded time for it.
 */
import { notifyOrchestration } from './notify';
import type { Client } from 'aedes';
import { versionFields } from '../db/device-presence';
import type { FirmwareOffer } from '../domain/types';
import type { DeviceEvents, DeviceRef } from '../orchestration/device-events';
import type { Logger } from '../runtime/log';
import type { PayloadCodec } from './codec';
import type { Delivery } from './delivery';
import { bump, type GatewayMetrics } from './metrics';
import { buildReply, CODE, parseCompressedUpstream, parseUpstream, readId } from './ota-messages';
import type { Presence } from './presence';
import type { RegistryAccess } from './registry-access';
import type { KeyedSerialQueue } from './serial';
import { deviceId, otaKindOf, parseSysTopic, replyTopic, type UpstreamOtaKind } from './topics';

export interface OtaHandlerDeps {
  registry: RegistryAccess;
  events: DeviceEvents;
  queue: KeyedSerialQueue;
  /**
   * Version reports, progress, command replies and firmware requests: ordered
   * per device, but not behind the device's registry writes, which the
   * embedded database may take seconds to drain under a reconnect storm.
   */
  reports: KeyedSerialQueue;
  delivery: Delivery;
  presence: Presence;
  metrics: GatewayMetrics;
  log: Logger;
  /** How long a getversion waits for the orchestration's offer before answering []. */
  getversionTimeoutMs: number;
  /** Signs a firmware file URL of ours as the offer leaves (fresh expiry per answer). */
  signFileUrl?: (fileUrl: string) => string;
  /** Orchestration calls waiting per device; beyond it the message is dropped (and a request answered 429). */
  queueDepth: number;
}

export class OtaHandler {
  constructor(private readonly deps: OtaHandlerDeps) {}

  /** `codec`: the session's payload compression; replies are compressed back by Delivery. */
  handle(
    client: Client,
    device: DeviceRef,
    kind: UpstreamOtaKind,
    topic: string,
    payload: Buffer,
    codec: PayloadCodec | undefined,
  ): void {
    const { metrics, log } = this.deps;
    bump(metrics.messages, kind);
    const msg = codec ? parseCompressedUpstream(kind, payload, codec) : parseUpstream(kind, payload);
    if (!msg.ok) {
      metrics.malformedPayloads += 1;
      log.warn('malformed OTA message', {
        ...device,
        topic,
        code: msg.code,
        reason: msg.message,
        bytes: payload.length,
        ...(codec && { compress: codec.name }),
      });
      // A reply to a reply would start a loop; everything else gets an error the SDK can log.
      if (kind !== 'upgrade_reply') {
        const emptyData = kind === 'getversion' || kind === 'request' ? [] : {};
        this.reply(client, topic, buildReply(msg.id, msg.code, emptyData, msg.message));
      }
      return;
    }
    const id = deviceId(device);
    if (this.deps.reports.pending(id) >= this.deps.queueDepth) {
      bump(metrics.dropped, 'queue');
      log.debug('device queue full: message dropped', { ...device, topic });
      if (msg.kind !== 'upgrade_reply') this.replyTooMany(client, topic, msg.id, msg.kind);
      return;
    }
    switch (msg.kind) {
      case 'inform': {
        this.deps.presence.versionStored(device);
        // Answered once the version is stored: a gateway that dies before then has answered nothing, and the
        // device sends its report again (the SDKs wait for the reply). The write is merged with the device's
        // other registry writes and may take seconds under a connect storm; the orchestration takes the
        // version from the event, so it hears of it at once, in order with the device's progress reports.
        void this.deps.registry.update(device, versionFields(msg.version, new Date())).then(
          () => this.reply(client, topic, buildReply(msg.id, CODE.ok, {})),
          (err: unknown) => {
            metrics.databaseErrors += 1;
            log.error('could not store the reported version', { ...device, version: msg.version, err });
            this.reply(
              client,
              topic,
              buildReply(msg.id, CODE.serverError, {}, 'the version was not stored; send it again'),
            );
          },
        );
        void this.deps.reports.run(id, () =>
          this.notify(device, 'versionReported', () => this.deps.events.versionReported(device, msg.version)),
        );
        return;
      }
      case 'progress':
        this.reply(client, topic, buildReply(msg.id, CODE.ok, {}));
        this.deps.presence.seen(device);
        void this.deps.reports.run(id, () =>
          this.notify(device, 'progressReported', () => this.deps.events.progressReported(device, msg.step, msg.desc)),
        );
        return;
      case 'upgrade_reply':
        this.deps.presence.seen(device);
        void this.deps.reports.run(id, () =>
          this.notify(device, 'upgradeReplied', () =>
            this.deps.events.upgradeReplied(device, msg.id, msg.code, msg.message),
          ),
        );
        return;
      case 'getversion':
      case 'request': {
        this.deps.presence.seen(device);
        const answered = this.deps.metrics.offerLatency.startTimer();
        void this.offers(device).then((offers) => {
          this.reply(client, topic, buildReply(msg.id, CODE.ok, offers));
          answered();
        });
        return;
      }
    }
  }

  /**
   * A message over the device's rate, dropped unread but for its id: a request is
   * answered 429 (the SDKs' "too many requests"), a reply to a command gets nothing.
   */
  tooMany(client: Client, device: DeviceRef, topic: string, payload: Buffer): void {
    const kind = otaKindOfTopic(device, topic);
    if (!kind || kind === 'upgrade_reply') return;
    this.replyTooMany(client, topic, peekId(payload), kind);
  }

  private replyTooMany(client: Client, topic: string, id: string, kind: UpstreamOtaKind): void {
    const emptyData = kind === 'getversion' || kind === 'request' ? [] : {};
    this.reply(client, topic, buildReply(id, CODE.tooManyRequests, emptyData, 'too many messages; try again later'));
  }

  /** The orchestration's offer in wire form, or [] when it fails or does not answer in time. */
  private offers(device: DeviceRef): Promise<unknown[]> {
    const { metrics, log, getversionTimeoutMs } = this.deps;
    let answer: FirmwareOffer[] | undefined;
    const asked = this.deps.reports.run(deviceId(device), async () => {
      try {
        answer = await this.deps.events.firmwareRequested(device);
      } catch (err) {
        metrics.orchestrationErrors += 1;
        log.error('orchestration failed on firmwareRequested', { ...device, err });
      }
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), getversionTimeoutMs);
    });
    return Promise.race([asked, timeout]).then((outcome) => {
      clearTimeout(timer);
      if (outcome === 'timeout') {
        metrics.getversionTimeouts += 1;
        log.warn('no firmware offer in time; answering getversion with []', { ...device, getversionTimeoutMs });
        return [];
      }
      const sign = this.deps.signFileUrl ?? ((fileUrl: string) => fileUrl);
      return (answer ?? []).flatMap((offer) =>
        wireOffer({ ...offer, fileUrl: sign(String(offer.fileUrl)) }, device, log),
      );
    });
  }

  private reply(client: Client, topic: string, payload: Buffer): void {
    void this.deps.delivery.send(client, replyTopic(topic), payload, 1).then((sent) => {
      if (sent) this.deps.metrics.repliesSent += 1;
    });
  }

  private notify(device: DeviceRef, what: string, op: () => Promise<void>): Promise<void> {
    return notifyOrchestration(this.deps, device, what, op);
  }
}

/**
 * Java casts every field: strings must be strings and fileSize a 32-bit JSON
 * integer, or the device throws. An offer that cannot be sent that way is dropped.
 */
function wireOffer(offer: FirmwareOffer, device: DeviceRef, log: Logger): FirmwareOffer[] {
  const fileSize = Number(offer.fileSize);
  if (!Number.isInteger(fileSize) || fileSize < 0 || fileSize > 0x7fffffff) {
    log.error('dropping a firmware offer whose fileSize is not a 32-bit integer', {
      ...device,
      version: offer.version,
    });
    return [];
  }
  return [
    {
      version: String(offer.version),
      signMethod: offer.signMethod,
      sign: String(offer.sign).toLowerCase(),
      fileUrl: String(offer.fileUrl),
      fileSize,
    },
  ];
}

function otaKindOfTopic(device: DeviceRef, topic: string): UpstreamOtaKind | undefined {
  const sys = parseSysTopic(topic);
  if (!sys || sys.productKey !== device.productKey || sys.deviceKey !== device.deviceKey) return undefined;
  return otaKindOf(sys.suffix);
}

/** The request id of a small plain-JSON payload, so a 429 still correlates; '' when it cannot be read cheaply. */
function peekId(payload: Buffer): string {
  if (payload.length > 4096) return '';
  try {
    return readId((JSON.parse(payload.toString('utf8')) as { id?: unknown } | null)?.id) ?? '';
  } catch {
    return '';
  }
}
