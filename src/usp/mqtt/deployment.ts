// The parameters of the simplest USP-over-MQTT deployment: one broker, one agent topic, one
// controller with full access. A defaults file in code, for tests, benchmarks and embedders.
export interface MqttDeployment {
  readonly brokerPort: number;
  readonly brokerAddress?: string;
  readonly version: '3.1.1' | '5.0';
  readonly agentTopic: string;
  readonly controllerId: string;
  readonly controllerTopic: string;
  readonly device?: { oui: string; productClass: string; serialNumber: string };
}

export function mqttDeploymentDefaults(d: MqttDeployment): Record<string, string> {
  const dev = d.device ?? { oui: '00D0F1', productClass: 'Agent', serialNumber: '1' };
  return {
    'Device.DeviceInfo.ManufacturerOUI': dev.oui,
    'Device.DeviceInfo.ProductClass': dev.productClass,
    'Device.DeviceInfo.SerialNumber': dev.serialNumber,
    'Device.MQTT.Client.1.Enable': 'true',
    'Device.MQTT.Client.1.BrokerAddress': d.brokerAddress ?? '127.0.0.1',
    'Device.MQTT.Client.1.BrokerPort': String(d.brokerPort),
    'Device.MQTT.Client.1.ProtocolVersion': d.version,
    'Device.LocalAgent.MTP.1.Enable': 'true',
    'Device.LocalAgent.MTP.1.Protocol': 'MQTT',
    'Device.LocalAgent.MTP.1.MQTT.Reference': 'Device.MQTT.Client.1',
    'Device.LocalAgent.MTP.1.MQTT.ResponseTopicConfigured': d.agentTopic,
    'Device.LocalAgent.Controller.1.EndpointID': d.controllerId,
    'Device.LocalAgent.Controller.1.Enable': 'true',
    'Device.LocalAgent.Controller.1.AssignedRole': 'Device.LocalAgent.ControllerTrust.Role.1',
    'Device.LocalAgent.Controller.1.MTP.1.Enable': 'true',
    'Device.LocalAgent.Controller.1.MTP.1.Protocol': 'MQTT',
    'Device.LocalAgent.Controller.1.MTP.1.MQTT.Topic': d.controllerTopic,
  };
}
