// Construction parameters of the Arm SMMUv3 model. Every optional feature that the ID
// registers advertise (IHI 0070 6.3.1 - 6.3.6) is a named capability, and every choice the
// specification leaves to an implementation (IMPLEMENTATION DEFINED values, CONSTRAINED
// UNPREDICTABLE behaviours, cache geometry) is a named parameter with a documented default.
// The defaults describe a full-featured SMMUv3.2 with one Non-secure programming interface,
// similar to what QEMU and the Arm MMU-600/700 offer.

import { Httu, Idr0Layout, Idr1Layout, Idr3Layout, Idr5Layout, IidrLayout, AidrLayout, MAX_QUEUE_LOG2SIZE, oasEncoding, StallModel, TtEndian } from '../../formats/smmuv3/registers.js';
import { encode } from '../../formats/bitfield.js';

export interface SmmuV3Capabilities {
  /** Stage 1 translation (IDR0.S1P). */
  stage1: boolean;
  /** Stage 2 translation (IDR0.S2P). */
  stage2: boolean;
  /** 2-level Stream tables (IDR0.ST_LEVEL == 0b01). */
  twoLevelStreamTable: boolean;
  /** 2-level CD tables (IDR0.CD2L). */
  twoLevelCdTable: boolean;
  /** StreamID bits (IDR1.SIDSIZE, 0..32). */
  sidBits: number;
  /** SubstreamID bits (IDR1.SSIDSIZE, 0..20); 0 means substreams are not supported. */
  ssidBits: number;
  /** log2 of the largest Command, Event and PRI queue (IDR1.CMDQS, EVENTQS, PRIQS, 0..19). */
  cmdqLog2Max: number;
  eventqLog2Max: number;
  priqLog2Max: number;
  /** PCIe ATS (IDR0.ATS) and PRI (IDR0.PRI, needs ATS). */
  ats: boolean;
  pri: boolean;
  /** Message-signalled interrupts (IDR0.MSI); wired outputs are always present in this model. */
  msi: boolean;
  /** WFE wake-up events (IDR0.SEV) for CMD_SYNC SIG_SEV and a Command queue leaving full. */
  sev: boolean;
  /** Hardware update of the Access flag and dirty state (IDR0.HTTU). */
  httu: 'none' | 'access' | 'access-dirty';
  /** EL2 and EL2-E2H StreamWorlds (IDR0.HYP). */
  hyp: boolean;
  /** 16-bit ASIDs and VMIDs (IDR0.ASID16, VMID16); otherwise 8 bits. */
  asid16: boolean;
  vmid16: boolean;
  /** Translation table endianness (IDR0.TTENDIAN). */
  ttEndian: 'mixed' | 'little' | 'big';
  /** Coherent access to tables, queues and MSIs (IDR0.COHACC). */
  cohacc: boolean;
  /**
   * Termination model (IDR0.TERM_MODEL): 'abort-or-raz-wi' lets CD.A choose between an abort
   * and RAZ/WI completion of a faulting transaction; 'abort-only' makes CD.A == 0 ILLEGAL.
   */
  termModel: 'abort-or-raz-wi' | 'abort-only';
  /** Range invalidation and the TTL hint (IDR3.RIL; mandatory from SMMUv3.2). */
  ril: boolean;
  /** Hierarchical attribute disables CD.HAD0/HAD1 (IDR3.HAD). */
  had: boolean;
  /** Small translation tables, TxSZ up to 48 (IDR3.STT). */
  stt: boolean;
  /** PRI auto-responses keep the PASID without consulting STE.PPAR (IDR3.PPS). */
  pps: boolean;
  /** Output address size in bits (IDR5.OAS): 32, 36, 40, 42, 44, 48 or 52. */
  oasBits: number;
  /** Translation granules (IDR5.GRAN4K, GRAN16K, GRAN64K). */
  gran4K: boolean;
  gran16K: boolean;
  gran64K: boolean;
  /** Virtual address size of CD.TTBx walks (IDR5.VAX): 48, or 52 with the 64 KiB granule. */
  vaBits: 48 | 52;
}

export interface CacheGeometry {
  /** Number of sets (a power of two). */
  sets: number;
  /** Entries per set (1..64). */
  ways: number;
}

export interface SmmuV3Parameters {
  capabilities: SmmuV3Capabilities;
  /** SMMU_IIDR contents (IMPLEMENTATION DEFINED): JEP106 implementer, product, variant, revision. */
  iidr: { implementer: number; productId: number; variant: number; revision: number };
  /** GBPA.ABORT after reset (IMPLEMENTATION DEFINED): true gives a default-deny SMMU. */
  gbpaAbortAtReset: boolean;
  /**
   * Page 0 offsets 0xA8/0xAC/0xC8/0xCC: aliases of the Page 1 EVENTQ/PRIQ PROD and CONS
   * registers (as some implementations and QEMU do), or RAZ/WI (6.2).
   */
  page0QueueAliases: boolean;
  /** Whether a command with a non-zero Reserved field is malformed (CERROR_ILL) or the field ignored (4.1.5). */
  checkReservedCommandFields: boolean;
  /**
   * ATS Translation Requests fill the TLB like ordinary transactions (3.9.1: a TR "might be
   * fulfilled using SMMU TLB entries, or cause SMMU TLB entries to be inserted").
   */
  atsFillsTlb: boolean;
  /** TLB, STE, CD and level-1 descriptor cache geometry. */
  caches: {
    tlb: CacheGeometry;
    ste: CacheGeometry;
    cd: CacheGeometry;
    l1std: CacheGeometry;
    l1cd: CacheGeometry;
  };
}

export type SmmuV3Options = Partial<Omit<SmmuV3Parameters, 'capabilities' | 'caches' | 'iidr'>> & {
  capabilities?: Partial<SmmuV3Capabilities>;
  caches?: Partial<SmmuV3Parameters['caches']>;
  iidr?: Partial<SmmuV3Parameters['iidr']>;
};

export const DEFAULT_CAPABILITIES: SmmuV3Capabilities = {
  stage1: true,
  stage2: true,
  twoLevelStreamTable: true,
  twoLevelCdTable: true,
  // Wider than a PCIe requester id (16 bits), so platform devices get StreamIDs of their own.
  sidBits: 24,
  ssidBits: 20,
  cmdqLog2Max: 19,
  eventqLog2Max: 19,
  priqLog2Max: 19,
  ats: true,
  pri: true,
  msi: true,
  sev: true,
  httu: 'access-dirty',
  hyp: true,
  asid16: true,
  vmid16: true,
  ttEndian: 'mixed',
  cohacc: true,
  termModel: 'abort-or-raz-wi',
  ril: true,
  had: true,
  stt: false,
  pps: false,
  oasBits: 48,
  gran4K: true,
  gran16K: true,
  gran64K: true,
  vaBits: 48,
};

export class ParameterError extends Error {}

/** Fills defaults and checks the combination against the specification's constraints. */
export function resolveParameters(options: SmmuV3Options = {}): SmmuV3Parameters {
  const caps: SmmuV3Capabilities = { ...DEFAULT_CAPABILITIES, ...options.capabilities };
  const fail = (what: string): never => {
    throw new ParameterError(`SMMUv3 parameters: ${what}`);
  };
  const int = (name: string, v: number, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) fail(`${name} must be ${lo}..${hi}, not ${v}`);
  };
  if (!caps.stage1 && !caps.stage2) fail('at least one of stage1 and stage2 must be implemented');
  int('sidBits', caps.sidBits, 0, 32);
  int('ssidBits', caps.ssidBits, 0, 20);
  int('cmdqLog2Max', caps.cmdqLog2Max, 0, MAX_QUEUE_LOG2SIZE);
  int('eventqLog2Max', caps.eventqLog2Max, 0, MAX_QUEUE_LOG2SIZE);
  int('priqLog2Max', caps.priqLog2Max, 0, MAX_QUEUE_LOG2SIZE);
  if (caps.pri && !caps.ats) fail('PRI requires ATS (IDR0.PRI)');
  if (![32, 36, 40, 42, 44, 48, 52].includes(caps.oasBits)) fail(`oasBits must be 32, 36, 40, 42, 44, 48 or 52, not ${caps.oasBits}`);
  if (!caps.gran4K && !caps.gran16K && !caps.gran64K) fail('at least one translation granule must be supported');
  if (caps.vaBits !== 48 && caps.vaBits !== 52) fail('vaBits must be 48 or 52');
  if (caps.vaBits === 52 && !caps.gran64K) fail('52-bit VAs (IDR5.VAX) need the 64 KiB granule');
  if (caps.ssidBits > 0 && !caps.stage1) fail('substreams (ssidBits > 0) need stage 1');
  if (caps.twoLevelCdTable && !caps.stage1) fail('2-level CD tables need stage 1');
  if (caps.hyp && !caps.stage1) fail('HYP (EL2 StreamWorlds) needs stage 1');
  if (!['none', 'access', 'access-dirty'].includes(caps.httu)) fail(`httu must be none, access or access-dirty`);
  if (!['mixed', 'little', 'big'].includes(caps.ttEndian)) fail('ttEndian must be mixed, little or big');
  if (!['abort-or-raz-wi', 'abort-only'].includes(caps.termModel)) fail('termModel must be abort-or-raz-wi or abort-only');

  const iidr = { implementer: 0x43b, productId: 0, variant: 0, revision: 0, ...options.iidr };
  int('iidr.implementer', iidr.implementer, 0, 0xfff);
  int('iidr.productId', iidr.productId, 0, 0xfff);
  int('iidr.variant', iidr.variant, 0, 15);
  int('iidr.revision', iidr.revision, 0, 15);

  const c = options.caches ?? {};
  const p: SmmuV3Parameters = {
    capabilities: caps,
    iidr,
    gbpaAbortAtReset: options.gbpaAbortAtReset ?? false,
    page0QueueAliases: options.page0QueueAliases ?? false,
    checkReservedCommandFields: options.checkReservedCommandFields ?? true,
    atsFillsTlb: options.atsFillsTlb ?? true,
    caches: {
      tlb: c.tlb ?? { sets: 64, ways: 8 },
      ste: c.ste ?? { sets: 16, ways: 4 },
      cd: c.cd ?? { sets: 16, ways: 4 },
      l1std: c.l1std ?? { sets: 8, ways: 4 },
      l1cd: c.l1cd ?? { sets: 8, ways: 4 },
    },
  };
  for (const [name, g] of Object.entries(p.caches)) {
    const pow2 = Number.isInteger(g.sets) && g.sets >= 1 && (g.sets & (g.sets - 1)) === 0;
    if (!pow2 || !Number.isInteger(g.ways) || g.ways < 1 || g.ways > 64) fail(`cache ${name}: sets must be a power of two and ways 1..64`);
  }
  return p;
}

/** The architecture revision the model implements: SMMUv3.2 (AIDR.ArchMinorRev == 2). */
export const ARCH_MINOR_REVISION = 2;

/** The values of the identification registers for a parameter set (6.3.1 - 6.3.8). */
export interface IdRegisters {
  idr0: number;
  idr1: number;
  idr2: number;
  idr3: number;
  idr4: number;
  idr5: number;
  iidr: number;
  aidr: number;
}

export function idRegisters(p: SmmuV3Parameters): IdRegisters {
  const c = p.capabilities;
  const idr0 = encode(Idr0Layout, {
    S2P: c.stage2,
    S1P: c.stage1,
    TTF: 2, // VMSAv8-64 translation tables only
    COHACC: c.cohacc,
    HTTU: c.httu === 'none' ? Httu.None : c.httu === 'access' ? Httu.AccessFlag : Httu.AccessFlagDirty,
    HYP: c.hyp,
    ATS: c.ats,
    NS1ATS: true, // split-stage ATS (STE.EATS == 0b10) is not implemented
    ASID16: c.asid16,
    MSI: c.msi,
    SEV: c.sev,
    PRI: c.pri,
    VMID16: c.vmid16,
    CD2L: c.twoLevelCdTable,
    TTENDIAN: c.ttEndian === 'mixed' ? TtEndian.Mixed : c.ttEndian === 'little' ? TtEndian.Little : TtEndian.Big,
    STALL_MODEL: StallModel.TerminateOnly,
    TERM_MODEL: c.termModel === 'abort-only',
    ST_LEVEL: c.twoLevelStreamTable ? 1 : 0,
  });
  const idr1 = encode(Idr1Layout, {
    SIDSIZE: c.sidBits,
    SSIDSIZE: c.ssidBits,
    PRIQS: c.pri ? c.priqLog2Max : 0,
    EVENTQS: c.eventqLog2Max,
    CMDQS: c.cmdqLog2Max,
    // STE.PRIVCFG and INSTCFG are honoured; the memory-type overrides are not modelled.
    ATTR_PERMS_OVR: true,
  });
  const idr3 = encode(Idr3Layout, { HAD: c.had, STT: c.stt, RIL: c.ril, PPS: c.pps });
  const idr5 = encode(Idr5Layout, {
    OAS: oasEncoding(c.oasBits),
    GRAN4K: c.gran4K,
    GRAN16K: c.gran16K,
    GRAN64K: c.gran64K,
    VAX: c.vaBits === 52 ? 1 : 0,
  });
  const iidr = encode(IidrLayout, { Implementer: p.iidr.implementer, ProductID: p.iidr.productId, Variant: p.iidr.variant, Revision: p.iidr.revision });
  const aidr = encode(AidrLayout, { ArchMinorRev: ARCH_MINOR_REVISION, ArchMajorRev: 0 });
  return { idr0: Number(idr0), idr1: Number(idr1), idr2: 0, idr3: Number(idr3), idr4: 0, idr5: Number(idr5), iidr: Number(iidr), aidr: Number(aidr) };
}
