/**
 * Text a device sends (an upgrade reply's message, a progress description) goes into a
 * device workflow's history as part of a signal. A device may send up to 512 KB in one
 * message; a few such signals would fill a run's history (Temporal's limit is 50 MB, a
 * payload 2 MB), so the text is cut before it is sent. What is kept is enough to show why.
 */

/** Characters of a device's text kept in a signal. */
export const SIGNAL_TEXT_LIMIT = 1024;
/** Characters of an id the device chose (the reply's command id); ours are far shorter. */
export const SIGNAL_ID_LIMIT = 256;

const MARK = '… (cut)';

/** `text` as it may enter a signal: unchanged when short enough, else its start and a mark that it was cut. */
export function clipForSignal(text: string, limit = SIGNAL_TEXT_LIMIT): string {
  if (text.length <= limit) return text;
  return text.slice(0, limit - MARK.length) + MARK;
}

/** An upgrade reply as the device workflow receives it. */
export function replyForSignal(reply: { commandId: string; code: number; message: string }) {
  return {
    commandId: clipForSignal(reply.commandId, SIGNAL_ID_LIMIT),
    code: reply.code,
    message: clipForSignal(reply.message),
  };
}
