// Counters a report can use: what the driver asked of the SMMU (commands by name,
// invalidations by scope, CMD_SYNCs) and what the SMMU told it (events, page requests, global
// errors, interrupts).

export interface SmmuV3Stats {
  /** Commands written to the Command queue, by name ("CMD_TLBI_NH_VA", "CMD_SYNC", ...). */
  commands: Record<string, number>;
  /** Invalidation commands, by scope. */
  invalidations: {
    /** CMD_TLBI_NH_VA for one leaf (TG == 0: no range). */
    nhVaPages: number;
    /** CMD_TLBI_NH_VA with a range (TG != 0, IDR3.RIL). */
    nhVaRanges: number;
    /** CMD_TLBI_NH_ASID: every translation of an ASID. */
    nhAsid: number;
    /** CMD_TLBI_S2_IPA for one leaf, and with a range. */
    s2IpaPages: number;
    s2IpaRanges: number;
    /** CMD_TLBI_S12_VMALL: every translation of a VMID. */
    s12Vmall: number;
    /** CMD_TLBI_NSNH_ALL and CMD_TLBI_EL2_ALL: everything. */
    all: number;
    /** CMD_CFGI_STE, CMD_CFGI_CD, CMD_CFGI_ALL (and other CMD_CFGI_*). */
    cfgiSte: number;
    cfgiCd: number;
    cfgiAll: number;
    /** CMD_ATC_INV (each one an ATS Invalidation Request to a function). */
    atcInv: number;
  };
  /** CMD_SYNCs waited for, and those that did not complete within the polling budget. */
  syncs: number;
  syncTimeouts: number;
  /** Interrupts taken, by source ("eventq", "priq", "gerror", "combined"). */
  interrupts: Record<string, number>;
  events: {
    /** Event records read from the Event queue. */
    handled: number;
    /** Records whose StreamID matched no device the driver knows. */
    unknownDevice: number;
    /** Records of reserved or IMPLEMENTATION DEFINED types. */
    unknownType: number;
    /** Records by event name ("F_TRANSLATION", ...). */
    byType: Record<string, number>;
    /** Overflows seen (EVENTQ_PROD.OVFLG toggled: records were lost). */
    overflows: number;
  };
  pageRequests: {
    received: number;
    /** CMD_PRI_RESP sent (ResponseFailure, as Linux answers requests it did not expect). */
    responded: number;
    overflows: number;
  };
  /** Global errors handled, by GERROR bit name; command errors by CMDQ_CONS.ERR name. */
  globalErrors: Record<string, number>;
  commandErrors: Record<string, number>;
  ats: {
    /** ATS Control.Enable set, and cleared, in a function's ATS capability. */
    enabled: number;
    disabled: number;
  };
}

export function newStats(): SmmuV3Stats {
  return {
    commands: {},
    invalidations: { nhVaPages: 0, nhVaRanges: 0, nhAsid: 0, s2IpaPages: 0, s2IpaRanges: 0, s12Vmall: 0, all: 0, cfgiSte: 0, cfgiCd: 0, cfgiAll: 0, atcInv: 0 },
    syncs: 0,
    syncTimeouts: 0,
    interrupts: {},
    events: { handled: 0, unknownDevice: 0, unknownType: 0, byType: {}, overflows: 0 },
    pageRequests: { received: 0, responded: 0, overflows: 0 },
    globalErrors: {},
    commandErrors: {},
    ats: { enabled: 0, disabled: 0 },
  };
}

/** Adds one to `record[key]`. */
export function bump(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}
