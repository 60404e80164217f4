// One context bank: the registers of one translation context, and, in the root IPMMU, what they
// configure. The walk configuration is decoded once per register change (cold), never per
// transaction.
//
// Two table formats, chosen by the root's IMSAUXCTLR.S2PTE:
//  - S2PTE = 1 (Xen): VMSAv8-64 stage-2 tables, 4 KiB granule. IMTTBCR.TSZ0 is T0SZ (64 - IPA
//    bits, IPA at most `ipaBits`) and IMTTBCR.SL0 encodes the start level as VTCR_EL2.SL0 does
//    (1: level 1), with up to 16 concatenated tables at the start level (Arm ARM D8.2.2).
//  - S2PTE = 0 (Linux on Gen3): long-descriptor stage-1 tables over a 32-bit input space, as
//    Linux's ARM_32_LPAE_S1 builds them: input 32 - TSZ0 bits, start level 3 - SL0, which must
//    be the level the input size gives (level 1 for 31-32 bits, 2 below).
// IMTTBCR.EAE = 0 selects the short-descriptor format, which is not modelled: such a context
// faults every translation (IMSTR.TF, level 0), as does any combination the tables cannot be
// walked with.

import { addressSizeField } from '../../formats/arm-lpae/index.js';
import { IMTTLBR0_MASK, IMTTUBR0_MASK, Imttbcr } from '../../formats/ipmmu-vmsa/index.js';
import { stage1WalkConfig, stage2WalkConfig, type VmsaImplementation } from '../arm-lpae/walk-config.js';
import type { VmsaWalkConfig } from '../arm-lpae/walker.js';

export interface IpmmuFaultCounters {
  /** IMSTR.TF: invalid descriptors, input or output beyond the configured sizes, a configuration that cannot be walked. */
  translation: number;
  /** IMSTR.PF: the leaf does not grant the access. */
  permission: number;
  /** IMSTR.ABORT: a descriptor read failed. */
  walkAbort: number;
  /** IMSTR.MHIT: a TLB lookup matched more than one entry. */
  multipleHits: number;
  /** Faults that arrived while IMSTR still held an earlier one: their kind is ORed in, their address is lost. */
  whilePending: number;
}

export interface IpmmuContextCounters {
  /** Transactions that entered through this IPMMU and used this context. */
  translations: number;
  /** Lookups of this IPMMU's TLB for the context. */
  tlbHits: number;
  tlbMisses: number;
  /** Table walks (root only) and the descriptors they read. */
  walks: number;
  descriptorReads: number;
  /** IMCTR.FLUSH writes, and the TLB entries they dropped. */
  flushes: number;
  entriesFlushed: number;
  /** Faults recorded in this context's IMSTR (root only), by kind. */
  faults: IpmmuFaultCounters;
}

export function newFaultCounters(): IpmmuFaultCounters {
  return { translation: 0, permission: 0, walkAbort: 0, multipleHits: 0, whilePending: 0 };
}

function newContextCounters(): IpmmuContextCounters {
  return { translations: 0, tlbHits: 0, tlbMisses: 0, walks: 0, descriptorReads: 0, flushes: 0, entriesFlushed: 0, faults: newFaultCounters() };
}

export class ContextBank {
  imctr = 0;
  imcaar = 0;
  imttbcr = 0;
  imbuscr = 0;
  imttlbr0 = 0;
  imttubr0 = 0;
  imttlbr1 = 0;
  imttubr1 = 0;
  imstr = 0;
  immair0 = 0;
  immair1 = 0;
  imelar = 0;
  imeuar = 0;
  readonly counters: IpmmuContextCounters = newContextCounters();
  /** The decoded configuration (or why it cannot be walked); null when registers changed since. */
  private decoded: VmsaWalkConfig | string | null = null;

  constructor(readonly index: number) {}

  reset(): void {
    this.imctr = this.imcaar = this.imttbcr = this.imbuscr = 0;
    this.imttlbr0 = this.imttubr0 = this.imttlbr1 = this.imttubr1 = 0;
    this.imstr = this.immair0 = this.immair1 = this.imelar = this.imeuar = 0;
    this.decoded = null;
  }

  /** Registers that configure the walk changed. */
  invalidateConfig(): void {
    this.decoded = null;
  }

  /** Table base address halves (IMTTUBR0 bits [39:32], IMTTLBR0 bits [31:12]). */
  get tableHi(): number {
    return this.imttubr0 & IMTTUBR0_MASK;
  }

  get tableLo(): number {
    return (this.imttlbr0 & IMTTLBR0_MASK) >>> 0;
  }

  /** The walk configuration, or why the context's tables cannot be walked. */
  walkConfig(stage2Format: boolean, paBits: number, ipaBits: number): VmsaWalkConfig | string {
    if (this.decoded === null) this.decoded = decodeContext(this.imttbcr, stage2Format, paBits, ipaBits);
    return this.decoded;
  }
}

function decodeContext(imttbcr: number, stage2Format: boolean, paBits: number, ipaBits: number): VmsaWalkConfig | string {
  if ((imttbcr & Imttbcr.EAE) === 0) return 'IMTTBCR.EAE is 0: the short-descriptor format is not modelled';
  const tsz0 = (imttbcr & Imttbcr.TSZ0_MASK) >>> Imttbcr.TSZ0_SHIFT;
  const sl0 = (imttbcr & Imttbcr.SL0_MASK) >>> Imttbcr.SL0_SHIFT;
  const ps = addressSizeField(paBits) as number;
  const impl: VmsaImplementation = { paBits, granules: [12], maxIpaBits: ipaBits, txszOutOfRange: 'invalid' };
  if (stage2Format) {
    return stage2WalkConfig({ t0sz: tsz0, sl0, tg: 0, ps, bigEndian: false, hardwareAccessFlag: false, hardwareDirty: false }, impl);
  }
  const inputBits = 32 - tsz0;
  if (inputBits < 25) return `IMTTBCR.TSZ0 ${tsz0} leaves ${inputBits} input bits; the stage-1 format needs 25 to 32`;
  const config = stage1WalkConfig(
    { txsz: 64 - inputBits, tg: 0, tgField: 0, ips: ps, bigEndian: false, hardwareAccessFlag: false, hardwareDirty: false, hierarchicalPermissionsDisabled: false },
    impl,
  );
  if (typeof config === 'string') return config;
  if (config.startLevel !== 3 - sl0) return `IMTTBCR.SL0 ${sl0} (level ${3 - sl0}) does not match a ${inputBits}-bit input, which starts at level ${config.startLevel}`;
  return config;
}
