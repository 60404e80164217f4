// Construction parameters of the RISC-V IOMMU model. Every optional capability of the
// specification can be turned on or off, and every choice the specification leaves to the
// implementation (UNSPECIFIED behaviour, WARL widths, cache sizes, timeouts) is a named
// parameter with a documented default.

import type { IgsName } from '../../formats/riscv-iommu/registers.js';

export interface RiscvIommuCapabilities {
  Sv32: boolean;
  Sv39: boolean;
  Sv48: boolean;
  Sv57: boolean;
  Sv32x4: boolean;
  Sv39x4: boolean;
  Sv48x4: boolean;
  Sv57x4: boolean;
  Svpbmt: boolean;
  Svrsw60t59b: boolean;
  AMO_HWAD: boolean;
  AMO_MRIF: boolean;
  MSI_FLAT: boolean;
  MSI_MRIF: boolean;
  ATS: boolean;
  T2GPA: boolean;
  /** Both endiannesses supported (fctl.BE writable). */
  END: boolean;
  /** Interrupt generation: MSI only, WSI only, or both (selected by fctl.WSI). */
  IGS: IgsName;
  HPM: boolean;
  DBG: boolean;
  /** Physical address size in bits. */
  PAS: number;
  PD8: boolean;
  PD17: boolean;
  PD20: boolean;
  QOSID: boolean;
  /** Non-leaf PTE invalidation extension. */
  NL: boolean;
  /** Address-range invalidation extension. */
  S: boolean;
}

export interface CacheGeometry {
  /** Number of sets (a power of two). */
  sets: number;
  /** Entries per set. */
  ways: number;
}

export interface RiscvIommuParameters {
  capabilities: RiscvIommuCapabilities;
  /** ddtp.iommu_mode after reset: the specification allows Off or Bare and recommends Off. */
  resetMode: 'Off' | 'Bare';
  /** Deepest device-directory mode implemented; shallower ones are implemented too. */
  maxDirectoryLevels: 1 | 2 | 3;
  /** Width of device_id the implementation supports (IODIR commands with wider DID are illegal). */
  deviceIdBits: number;
  /** Reset value of fctl.BE; with END=0 it is the only endianness the IOMMU supports (fixed). */
  bigEndianAtReset: boolean;
  /** Whether fctl.GXL is writable; defaults to true when Sv32x4 and a 64-bit x4 mode are both offered. */
  gxlWritable: boolean;
  /** Reset value of fctl.GXL. */
  gxlAtReset: boolean;
  /** Writable bits in each icvec field: the IOMMU has 2^bits interrupt vectors (0..4). */
  interruptVectorBits: number;
  /** Programmable HPM counters implemented (iohpmctr1..N), 1..31 when HPM is on. */
  hpmCounters: number;
  /** Width of iohpmctrN (1..64); iohpmcycles is at most 63 bits wide. */
  hpmCounterBits: number;
  /** Largest eventID an event selector accepts (WARL); larger writes keep the old value. */
  hpmMaxEventId: number;
  /** Implemented bits of RCID and MCID (QoS ID extension). */
  rcidBits: number;
  mcidBits: number;
  /** Translation range reported when the first stage is Bare (ATS completions, tr_response). */
  bareFirstStageBytes: bigint;
  /** Same for Sv32-sized (SXL=1) contexts. */
  bareFirstStageBytesSv32: bigint;
  /** Translation range reported when the second stage is Bare. */
  bareSecondStageBytes: bigint;
  bareSecondStageBytesSv32x4: bigint;
  /** Whether ATS translation requests fill the IOTLB: 'never', only T2GPA contexts (GPA->SPA), or 'always'. */
  atsFillsIotlb: 'never' | 't2gpa' | 'always';
  /** ITAGs available to track outstanding ATS invalidation requests (1..32). */
  invalidationTags: number;
  /** Cycles after which an ATS invalidation request without completion times out. */
  atsInvalidationTimeoutCycles: number;
  /** Whether MRIF-mode MSIs may also be big-endian (IMSICs implement seteipnum_be). */
  mrifBigEndianMsis: boolean;
  /** Cycles a control write (ddtp, cqcsr, fqcsr, pqcsr) keeps `busy` set; 0 completes at once. */
  controlBusyCycles: number;
  /** Value a read returns when the access is invalid (misaligned, wrong size, spans registers). */
  abortReadValue: bigint;
  /** IOATC geometry. */
  caches: {
    deviceContexts: CacheGeometry;
    processContexts: CacheGeometry;
    iotlb: CacheGeometry;
  };
}

export type RiscvIommuOptions = Partial<Omit<RiscvIommuParameters, 'capabilities' | 'caches'>> & {
  capabilities?: Partial<RiscvIommuCapabilities>;
  caches?: Partial<RiscvIommuParameters['caches']>;
};

export const DEFAULT_CAPABILITIES: RiscvIommuCapabilities = {
  Sv32: true,
  Sv39: true,
  Sv48: true,
  Sv57: true,
  Sv32x4: true,
  Sv39x4: true,
  Sv48x4: true,
  Sv57x4: true,
  Svpbmt: true,
  Svrsw60t59b: true,
  AMO_HWAD: true,
  AMO_MRIF: true,
  MSI_FLAT: true,
  MSI_MRIF: true,
  ATS: true,
  T2GPA: true,
  END: true,
  IGS: 'BOTH',
  HPM: true,
  DBG: true,
  PAS: 56,
  PD8: true,
  PD17: true,
  PD20: true,
  QOSID: true,
  NL: true,
  S: true,
};

export class ParameterError extends Error {}

/** Fills defaults and checks the combination against the specification's constraints. */
export function resolveParameters(options: RiscvIommuOptions = {}): RiscvIommuParameters {
  const caps: RiscvIommuCapabilities = { ...DEFAULT_CAPABILITIES, ...options.capabilities };
  const fail = (what: string): never => {
    throw new ParameterError(`RISC-V IOMMU parameters: ${what}`);
  };
  if (!Number.isInteger(caps.PAS) || caps.PAS < 32 || caps.PAS > 56) fail(`PAS must be 32..56 bits, not ${caps.PAS}`);
  if (caps.Sv48 && !caps.Sv39) fail('Sv48 requires Sv39 (capabilities register rules)');
  if (caps.Sv57 && !caps.Sv48) fail('Sv57 requires Sv48 (capabilities register rules)');
  if (caps.IGS !== 'MSI' && caps.IGS !== 'WSI' && caps.IGS !== 'BOTH') fail(`IGS must be MSI, WSI or BOTH, not ${String(caps.IGS)}`);
  if (caps.MSI_MRIF && !caps.MSI_FLAT) fail('MSI_MRIF requires MSI_FLAT (MSI page tables)');
  if (caps.T2GPA && !caps.ATS) fail('T2GPA requires ATS');
  if (caps.AMO_MRIF && !caps.MSI_MRIF) fail('AMO_MRIF requires MSI_MRIF');

  const x4_64 = caps.Sv39x4 || caps.Sv48x4 || caps.Sv57x4;
  const gxlWritable = options.gxlWritable ?? (caps.Sv32x4 && x4_64);
  const gxlAtReset = options.gxlAtReset ?? (caps.Sv32x4 && !x4_64);
  if (gxlAtReset && !caps.Sv32x4 && !gxlWritable) fail('GXL=1 at reset needs Sv32x4');

  const p: RiscvIommuParameters = {
    capabilities: caps,
    resetMode: options.resetMode ?? 'Off',
    maxDirectoryLevels: options.maxDirectoryLevels ?? 3,
    deviceIdBits: options.deviceIdBits ?? 24,
    bigEndianAtReset: options.bigEndianAtReset ?? false,
    gxlWritable,
    gxlAtReset,
    interruptVectorBits: options.interruptVectorBits ?? 4,
    hpmCounters: options.hpmCounters ?? (caps.HPM ? 31 : 0),
    hpmCounterBits: options.hpmCounterBits ?? 64,
    hpmMaxEventId: options.hpmMaxEventId ?? 8,
    rcidBits: options.rcidBits ?? 12,
    mcidBits: options.mcidBits ?? 12,
    bareFirstStageBytes: options.bareFirstStageBytes ?? 1n << 30n,
    bareFirstStageBytesSv32: options.bareFirstStageBytesSv32 ?? 1n << 22n,
    bareSecondStageBytes: options.bareSecondStageBytes ?? 1n << 30n,
    bareSecondStageBytesSv32x4: options.bareSecondStageBytesSv32x4 ?? 1n << 22n,
    atsFillsIotlb: options.atsFillsIotlb ?? 'always',
    invalidationTags: options.invalidationTags ?? 32,
    atsInvalidationTimeoutCycles: options.atsInvalidationTimeoutCycles ?? 1_000_000,
    mrifBigEndianMsis: options.mrifBigEndianMsis ?? false,
    controlBusyCycles: options.controlBusyCycles ?? 0,
    abortReadValue: options.abortReadValue ?? 0xffff_ffff_ffff_ffffn,
    caches: {
      deviceContexts: options.caches?.deviceContexts ?? { sets: 16, ways: 4 },
      processContexts: options.caches?.processContexts ?? { sets: 16, ways: 4 },
      iotlb: options.caches?.iotlb ?? { sets: 64, ways: 8 },
    },
  };

  if (![1, 2, 3].includes(p.maxDirectoryLevels)) fail(`maxDirectoryLevels must be 1, 2 or 3`);
  if (!Number.isInteger(p.deviceIdBits) || p.deviceIdBits < 1 || p.deviceIdBits > 24) fail('deviceIdBits must be 1..24');
  if (!Number.isInteger(p.interruptVectorBits) || p.interruptVectorBits < 0 || p.interruptVectorBits > 4) {
    fail('interruptVectorBits must be 0..4');
  }
  if (caps.HPM) {
    if (!Number.isInteger(p.hpmCounters) || p.hpmCounters < 1 || p.hpmCounters > 31) fail('hpmCounters must be 1..31 when HPM is on');
    if (!Number.isInteger(p.hpmCounterBits) || p.hpmCounterBits < 32 || p.hpmCounterBits > 64) {
      fail('hpmCounterBits must be 32..64 (the specification requires at least 32 bits)');
    }
  } else if (p.hpmCounters !== 0) {
    fail('hpmCounters must be 0 when HPM is off');
  }
  if (p.hpmMaxEventId < 0 || p.hpmMaxEventId > 0x7fff) fail('hpmMaxEventId must fit 15 bits');
  if (p.rcidBits < 0 || p.rcidBits > 12 || p.mcidBits < 0 || p.mcidBits > 12) fail('rcidBits and mcidBits must be 0..12');
  for (const [name, bytes] of [
    ['bareFirstStageBytes', p.bareFirstStageBytes],
    ['bareFirstStageBytesSv32', p.bareFirstStageBytesSv32],
    ['bareSecondStageBytes', p.bareSecondStageBytes],
    ['bareSecondStageBytesSv32x4', p.bareSecondStageBytesSv32x4],
  ] as const) {
    if (bytes < 4096n || (bytes & (bytes - 1n)) !== 0n || bytes > 1n << 52n) fail(`${name} must be a power of two from 4 KiB to 2^52`);
  }
  if (!Number.isInteger(p.invalidationTags) || p.invalidationTags < 1 || p.invalidationTags > 32) fail('invalidationTags must be 1..32');
  if (!(p.atsInvalidationTimeoutCycles > 0)) fail('atsInvalidationTimeoutCycles must be positive');
  if (!(p.controlBusyCycles >= 0)) fail('controlBusyCycles must not be negative');
  for (const [name, g] of Object.entries(p.caches)) {
    const isPow2 = (n: number) => Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
    if (!isPow2(g.sets) || !Number.isInteger(g.ways) || g.ways < 1 || g.ways > 64) {
      fail(`cache ${name}: sets must be a power of two and ways 1..64`);
    }
  }
  return p;
}
