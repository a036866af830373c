// What the CWMP client did lately, kept in memory for Upload's "2 Vendor Log File": sessions done and
// failed, transfers ended. The agent's own log goes to stdout (a journal the agent can not read back);
// this is the part an ACS asks about, bounded so that a long uptime costs no more than a few KiB.
import { dateTime } from '../util/time.js';

export class RecentLog {
  private readonly lines: string[] = [];

  constructor(private readonly max = 200) {}

  add(message: string, fields: Readonly<Record<string, unknown>> = {}): void {
    this.lines.push(`${dateTime()} ${message} ${JSON.stringify(fields)}`);
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
  }

  text(): string {
    return this.lines.map((l) => `${l}\n`).join('');
  }
}
