// The USP agent: endpoint, subscriptions and the MQTT MTP over one data model, plus what a
// controller can ask of the agent as such: OnBoardRequest, Periodic! and Boot! delivery.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { DataModel } from '../dm/datamodel.js';
import { DmError, UspError } from '../dm/errors.js';
import type { Logger } from '../util/logger.js';
import { ensureRoles } from './access.js';
import { USP_VERSIONS } from './codec.js';
import { UspEndpoint } from './endpoint.js';
import { MqttMtp, type TlsFiles } from './mqtt/mtp.js';
import { NotifyOutbox } from './notify-outbox.js';
import { OnBoardingRetry } from './onboarding.js';
import { PeriodicNotifier } from './periodic.js';
import { Subscriptions } from './subscriptions.js';

export class UspAgent {
  readonly endpoint: UspEndpoint;
  readonly subscriptions: Subscriptions;
  readonly mtp: MqttMtp;
  private readonly periodic: PeriodicNotifier;
  private readonly onBoarding: OnBoardingRetry;

  /** Handlers the data model needs before it is opened. */
  static register(dm: DataModel, send: () => UspAgent | undefined): void {
    Subscriptions.register(dm);
    MqttMtp.register(dm);
    dm.command('Device.LocalAgent.Controller.{i}.SendOnBoardRequest()', (req) => {
      const agent = send();
      if (agent?.sendOnBoardRequest(req.node.path) === undefined)
        throw new DmError(
          UspError.CommandFailure,
          `controller ${req.node.stored('EndpointID') ?? ''} can't be reached now`,
        );
      // Onboarding starts again: the controller sets it true when done (TR-181, TP-469 1.101).
      dm.update(req.node.path, { OnBoardingComplete: 'false' }, 'usp');
      return {};
    });
  }

  /** stateDir: where notifications that must outlive a restart wait for their NotifyResp. */
  constructor(
    private readonly dm: DataModel,
    log: Logger,
    tls: TlsFiles = {},
    stateDir?: string,
  ) {
    this.endpoint = new UspEndpoint(dm, log.child({ component: 'usp' }));
    this.mtp = new MqttMtp(dm, this.endpoint, log.child({ component: 'usp-mqtt' }), tls);
    this.subscriptions = new Subscriptions(
      dm,
      this.mtp.send,
      this.endpoint.access,
      log.child({ component: 'usp-subscriptions' }),
      stateDir ? new NotifyOutbox(join(stateDir, 'usp', 'outbox')) : undefined,
    );
    this.onBoarding = new OnBoardingRetry(dm, (row) => this.sendOnBoardRequest(row));
    this.endpoint.onNotifyResp = (_from, msgId) => {
      this.subscriptions.acknowledge(msgId);
      this.onBoarding.acknowledged(msgId);
    };
    this.periodic = new PeriodicNotifier(dm);
  }

  /** First start: the predefined roles; controllers without a role get full access only if the defaults say so. */
  start(fresh: boolean): void {
    if (fresh) {
      const roles = ensureRoles(this.dm);
      if (!this.dm.value('Device.LocalAgent.ControllerTrust.UntrustedRole')) {
        this.dm.update('Device.LocalAgent.ControllerTrust.', { UntrustedRole: roles.readOnly.slice(0, -1) }, 'usp');
      }
    }
    this.subscriptions.start();
    this.onBoarding.start();
    this.mtp.start();
    this.periodic.start();
  }

  /** Resends what an earlier run left undelivered; see Subscriptions.resumeStored. */
  resumeNotifications(): void {
    this.subscriptions.resumeStored();
  }

  async stop(): Promise<void> {
    this.periodic.stop();
    this.onBoarding.stop();
    this.subscriptions.stop();
    await this.mtp.stop();
    this.endpoint.access.close();
  }

  /** An OnBoardRequest to the controller of a LocalAgent.Controller row: its msg_id, undefined if it could not go. */
  sendOnBoardRequest(controllerRow: string): string | undefined {
    const msgId = randomUUID();
    const sent = this.mtp.send(this.dm.value(`${controllerRow}EndpointID`), {
      header: { msg_id: msgId, msg_type: 'NOTIFY' },
      body: {
        request: {
          notify: {
            subscription_id: '',
            send_resp: true,
            on_board_req: {
              oui: this.dm.value('Device.DeviceInfo.ManufacturerOUI'),
              product_class: this.dm.value('Device.DeviceInfo.ProductClass'),
              serial_number: this.dm.value('Device.DeviceInfo.SerialNumber'),
              agent_supported_protocol_versions: USP_VERSIONS.join(','),
            },
          },
        },
      },
    });
    if (!sent) return undefined;
    this.onBoarding.sent(controllerRow, msgId);
    return msgId;
  }
}
