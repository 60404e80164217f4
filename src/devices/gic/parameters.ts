// Construction parameters of the GIC models. Every choice the GIC architecture leaves to the
// implementation (IHI 0048B for GICv2, IHI 0069 for GICv3) that software can observe is a
// named parameter with a documented default.
//
// Both models implement a GIC with a single Security state: GICv2 without the Security
// Extensions, GICv3 with GICD_CTLR.DS fixed at 1 (QEMU's virt machine without secure=on
// looks the same to its guest). GICv3 supports affinity routing only (ARE RAO/WI, no legacy
// GICv2 operation, ICC_SRE_EL1.SRE RAO/WI), and neither LPIs nor an ITS.

export interface GicParameters {
  /**
   * Shared Peripheral Interrupts: INTIDs 32..32+spis-1. GICD_TYPER.ITLinesNumber reports
   * ceil((32 + spis) / 32) - 1; INTIDs above the last SPI read as zero and ignore writes.
   * 0..988 (INTID 1019 is the last SPI). Default 256, as QEMU's virt machine.
   */
  spis: number;
  /** PEs (CPU interfaces) the GIC serves; GICv2 serves at most 8. Default 1. */
  cpus: number;
  /**
   * Affinity of each PE, Aff3 << 24 | Aff2 << 16 | Aff1 << 8 | Aff0 (MPIDR_EL1's fields in
   * the layout of GICR_TYPER.Affinity); GICv3 routes SPIs and SGIs by it. Default: PE n has
   * Aff0 = n. Aff3 must be 0 (GICD_TYPER.A3V = 0).
   */
  affinities: readonly number[];
  /**
   * Priority bits implemented, 4..8 (IHI 0048B 3.3: at least 16 levels; IHI 0069 4.8: at
   * least 32 levels with two Security states). Unimplemented low-order bits of
   * priority fields and of the priority mask read as zero. The group priority has
   * min(priorityBits, 7) bits, which sets the minimum binary point (7 - that) and the
   * number of active-priority registers. Default 5 (32 levels, as GIC-400 and GIC-500).
   */
  priorityBits: number;
  /**
   * Whether software can program the Int_config fields of PPIs (IHI 0048B 4.3.13, IHI 0069
   * GICR_ICFGR1: IMPLEMENTATION DEFINED). When not, every PPI is level-sensitive. Default true.
   */
  ppiTriggerProgrammable: boolean;
  /**
   * GICv2: whether SGIs are permanently enabled, their GICD_ISENABLER0 bits RAO/WI (IHI 0048B
   * 4.3.5: IMPLEMENTATION DEFINED). GICv3 has no such choice: software enables SGIs in
   * GICR_ISENABLER0. Default false.
   */
  sgisAlwaysEnabled: boolean;
  /** JEP106 code of the implementer, GICD_IIDR[11:0] (and GICC_IIDR, GICR_IIDR). Default 0x43b (Arm). */
  implementer: number;
  /** Product id, GICD_IIDR[31:24]. Default 0. */
  productId: number;
  /** Revision, GICD_IIDR[15:12]. Default 0. */
  revision: number;
}

export type GicOptions = Partial<GicParameters>;

export const DEFAULT_GIC_PARAMETERS: Readonly<Omit<GicParameters, 'affinities'>> = {
  spis: 256,
  cpus: 1,
  priorityBits: 5,
  ppiTriggerProgrammable: true,
  sgisAlwaysEnabled: false,
  implementer: 0x43b,
  productId: 0,
  revision: 0,
};

/** Largest INTID of an SPI (1020-1023 are special INTIDs). */
export const LAST_SPI_INTID = 1019;

/** The parameters with defaults filled in; an impossible combination is a RangeError. */
export function resolveGicParameters(options: GicOptions, version: 2 | 3): GicParameters {
  const p = { ...DEFAULT_GIC_PARAMETERS, ...options };
  const affinities = options.affinities ?? Array.from({ length: p.cpus }, (_, n) => n);
  const check = (ok: boolean, what: string): void => {
    if (!ok) throw new RangeError(`GICv${version}: ${what}`);
  };
  check(Number.isInteger(p.spis) && p.spis >= 0 && p.spis <= LAST_SPI_INTID - 31, `spis must be 0..${LAST_SPI_INTID - 31}, not ${p.spis}`);
  check(Number.isInteger(p.cpus) && p.cpus >= 1 && (version === 3 || p.cpus <= 8), `cpus must be 1..${version === 2 ? 8 : 'n'}, not ${p.cpus}`);
  check(affinities.length === p.cpus, `affinities lists ${affinities.length} PEs for ${p.cpus} CPU interfaces`);
  check(new Set(affinities).size === affinities.length, 'two PEs have the same affinity');
  check(
    affinities.every((a) => Number.isInteger(a) && a >= 0 && a <= 0xff_ffff),
    'affinities must be Aff2.Aff1.Aff0 values (Aff3 = 0, GICD_TYPER.A3V = 0)',
  );
  check(Number.isInteger(p.priorityBits) && p.priorityBits >= 4 && p.priorityBits <= 8, `priorityBits must be 4..8, not ${p.priorityBits}`);
  check(Number.isInteger(p.implementer) && p.implementer >= 0 && p.implementer <= 0xfff, 'implementer is a 12-bit JEP106 code');
  check(Number.isInteger(p.productId) && p.productId >= 0 && p.productId <= 0xff, 'productId is 8 bits');
  check(Number.isInteger(p.revision) && p.revision >= 0 && p.revision <= 0xf, 'revision is 4 bits');
  return { ...p, affinities };
}
