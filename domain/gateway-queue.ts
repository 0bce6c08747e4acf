/**
 * Each gateway process polls a Temporal task queue of its own for the upgrade
 * commands of the devices whose sessions it holds; the registry's presence
 * (`devices.gatewayId`) names the gateway, this names its queue.
 */
export function gatewayTaskQueue(gatewayId: string): string {
  return `ota-gateway-${gatewayId}`;
}
