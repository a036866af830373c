// The bytes an answer may still take before it outgrows what its transport carries (an MQTT
// broker's Maximum Packet Size, a configured envelope limit). Whoever builds the answer charges each
// piece as it adds it, so an answer that would be too large stops being built at the limit instead of
// being built whole and refused afterwards. Each protocol turns BudgetExceeded into its own code.

export class BudgetExceeded extends Error {
  constructor(readonly limit: number) {
    super(`the answer would be larger than the ${limit} bytes its transport carries`);
    this.name = 'BudgetExceeded';
  }
}

export class ByteBudget {
  private used = 0;

  /** limit: what the pieces may take; whole: the transport's limit the error names (the pieces' plus their framing). */
  constructor(
    readonly limit: number,
    private readonly whole = limit,
  ) {}

  /** Adds n bytes; throws BudgetExceeded once the total passes the limit. */
  charge(n: number): void {
    this.used += n;
    if (this.used > this.limit) throw new BudgetExceeded(this.whole);
  }
}
