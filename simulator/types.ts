/** The simulator's vocabulary: what a device is, how it behaves, and what it records. */

/**
 * How a device answers an upgrade command (or, for `request`, asks for one).
 * Steps are progress percentages sent in order; delays are ms before each step.
 */
export type Behaviour =
  /** Progress through `steps` (default 20/50/80/100), then inform the new version. */
  | { kind: 'succeed'; steps?: number[]; stepDelayMs?: number }
  /** Progress through `stepsBefore` (default [20]), then report `code` (-1…-5, or below) as the step. */
  | { kind: 'fail'; code: number; stepsBefore?: number[]; stepDelayMs?: number }
  /** Rejects the upgrade at once: progress -5. */
  | { kind: 'decline' }
  /** Stays away for `forMs` after connect() is asked, then behaves like `then` (default succeed). */
  | { kind: 'offline'; forMs: number; then?: Behaviour }
  /**
   * Reports `stepsBefore` (default [20]), then loses the connection without a DISCONNECT, comes back
   * after `reconnectAfterMs` and informs the old or the new version.
   */
  | { kind: 'drop'; stepsBefore?: number[]; reconnectAfterMs: number; comeBackOn: 'old' | 'new'; stepDelayMs?: number }
  /** Upon-request mode (Java sample): getversion on connect, take the LAST offer, progress 20/80, inform. */
  | { kind: 'request'; stepDelayMs?: number }
  /** Receives the command and never answers (for timeout tests). */
  | { kind: 'silent' }
  /** Like succeed, but the "download" before the first step takes `downloadMs`. */
  | { kind: 'slow'; downloadMs: number; steps?: number[]; stepDelayMs?: number };

/** Java `SignMethod` names; the `hmac*` names are plain digests too (gateway/auth.ts). */
export type SimSignMethod = 'sha256' | 'hmacsha256' | 'sha1' | 'hmacsha1' | 'md5' | 'hmacmd5';

export interface DeviceSpec {
  productKey: string;
  deviceKey: string;
  deviceSecret: string;
  /** The firmware version the device runs at start. */
  version: string;
  behaviour?: Behaviour;
  /** Default sha256 in lower-case hex (Java 2.x); e.g. `hmacsha1` + `upperCaseSign` imitates Java 1.x. */
  signMethod?: SimSignMethod;
  upperCaseSign?: boolean;
  /** Default the deviceKey; Java 2.x sends `dk{ip=…,version=…,compress=DEFAULT}`. */
  signClientId?: string;
  /** A flaky link: the first firmware download is cut after this many bytes, then resumed. */
  cutDownloadAfterBytes?: number;
}

/** One firmware download: each HTTP attempt, and how it ended. */
export interface DownloadRecord {
  url: string;
  attempts: { range: string; status: number }[];
  bytes: number;
  result: 'verified' | 'bad-sign' | 'failed';
}

export interface ReceivedCommand {
  id: string;
  version: string;
  at: number;
  raw: unknown;
}

export interface ReceivedReply {
  topic: string;
  id: string;
  code: number;
  data: unknown;
  at: number;
}

export type ConnectionEvent = 'connected' | 'refused' | 'closed' | 'dropped' | 'error';

export type Outcome = 'none' | 'upgrading' | 'succeeded' | 'failed' | 'declined' | 'dropped' | 'silent' | 'no-offer';

/** Everything one device saw and did; read it from tests and the summary. */
export interface DeviceRecord {
  deviceKey: string;
  productKey: string;
  version: string;
  online: boolean;
  outcome: Outcome;
  commands: ReceivedCommand[];
  replies: ReceivedReply[];
  progress: { step: number; desc: string; at: number }[];
  informs: string[];
  connections: { event: ConnectionEvent; at: number; detail?: string }[];
  /** Requests that got no reply in time. */
  timeouts: number;
  /** Firmware downloads, for commands that carried a signed URL of this service. */
  downloads: DownloadRecord[];
}

export interface FleetSummary {
  devices: number;
  online: number;
  versions: Record<string, number>;
  outcomes: Record<string, number>;
  commandsReceived: number;
  progressSent: number;
  informsSent: number;
  repliesReceived: number;
  requestTimeouts: number;
  refusedLogins: number;
}
