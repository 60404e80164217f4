// The scenario's deterministic pseudo-random numbers (workloads, `{ random: SEED }` data):
// mulberry32 seeded through splitmix32, so nearby seeds give unrelated streams. Same seed,
// same numbers, on every machine.

export class Prng {
  private state: number;

  constructor(seed: bigint | number) {
    const s = BigInt.asUintN(64, BigInt(seed));
    // Fold 64 bits to 32, then scramble (splitmix32 finaliser).
    let z = (Number(s & 0xffff_ffffn) ^ Number(s >> 32n)) >>> 0;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    this.state = (z ^ (z >>> 16)) >>> 0;
  }

  /** The next 32-bit unsigned value. */
  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A value in [0, n) for n up to 2^32. */
  below(n: number): number {
    return Math.floor((this.nextU32() / 4294967296) * n);
  }

  /** A 64-bit value. */
  nextU64(): bigint {
    const lo = this.nextU32();
    return (BigInt(this.nextU32()) << 32n) | BigInt(lo);
  }
}
