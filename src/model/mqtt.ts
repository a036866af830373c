// Device.MQTT: capabilities of the MQTT client the agent ships. The state of each client (status,
// statistics) is the transport's, which registers it (src/usp/mqtt).
import type { DataModel } from '../dm/datamodel.js';

const MQ = 'Device.MQTT.';

export function registerMqtt(dm: DataModel): void {
  dm.param(`${MQ}Capabilities.ProtocolVersionsSupported`, { get: () => '3.1.1,5.0' });
  dm.param(`${MQ}Capabilities.TransportProtocolSupported`, { get: () => 'TCP/IP,TLS' });
  dm.param(`${MQ}Capabilities.MaxNumberOfClientSubscriptions`, { get: () => '0' });
  dm.param(`${MQ}Capabilities.MaxNumberOfBrokerBridges`, { get: () => '0' });
  dm.param(`${MQ}Capabilities.MaxNumberOfBrokerBridgeSubscriptions`, { get: () => '0' });
}
