// Device.MQTT: capabilities of the MQTT client the agent ships, and the runtime state of each
// client (status, statistics), which the transport updates and which is never persisted.
import type { DataModel } from '../dm/datamodel.js';

const MQ = 'Device.MQTT.';

export function registerMqtt(dm: DataModel): void {
  dm.param(`${MQ}Capabilities.ProtocolVersionsSupported`, { get: () => '3.1.1,5.0' });
  dm.param(`${MQ}Capabilities.TransportProtocolSupported`, { get: () => 'TCP/IP,TLS' });
  dm.param(`${MQ}Capabilities.MaxNumberOfClientSubscriptions`, { get: () => '0' });
  dm.param(`${MQ}Capabilities.MaxNumberOfBrokerBridges`, { get: () => '0' });
  dm.param(`${MQ}Capabilities.MaxNumberOfBrokerBridgeSubscriptions`, { get: () => '0' });
  dm.param(`${MQ}Client.{i}.Status`, { volatile: true });
  dm.object(`${MQ}Client.{i}.Stats.`, { volatile: true });
}
