/** The EnOS upgrade command envelope: string id, version "1.0", the five firmware fields. */
import type { FirmwareOffer } from '../domain/types';

export function upgradeCommandPayload(commandId: string, firmware: FirmwareOffer): string {
  return JSON.stringify({
    id: commandId,
    version: '1.0',
    method: 'ota.device.upgrade',
    params: {
      version: firmware.version,
      signMethod: firmware.signMethod,
      sign: firmware.sign,
      fileUrl: firmware.fileUrl,
      fileSize: firmware.fileSize,
    },
  });
}
