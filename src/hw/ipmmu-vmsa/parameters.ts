// Construction parameters of the IPMMU-VMSA model. Renesas documents the IPMMU only through
// its drivers, so every behaviour the drivers do not pin down is a named parameter here, with
// the default chosen from what is known of R-Car hardware and said why.

import { layoutError, RCAR_GEN3_LAYOUT, RCAR_GEN4_LAYOUT, type IpmmuRegisterLayout } from '../../formats/ipmmu-vmsa/index.js';

export class IpmmuParameterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IpmmuParameterError';
  }
}

/** What the IPMMU does with a transaction it is not asked to translate. */
export type UntranslatedPolicy = 'bypass' | 'abort';

export interface IpmmuVmsaParameters {
  /** Register layout, context and micro-TLB counts (default R-Car Gen3: 8 contexts, 48 micro-TLBs). */
  layout: IpmmuRegisterLayout;
  /**
   * A transaction through a micro-TLB whose IMUCTR.MMUEN is 0. Default 'bypass': its address is
   * used as the physical address, as R-Car masters work with the IPMMU left unprogrammed (and
   * why a hypervisor must never leave a guest's device with its micro-TLB disabled). 'abort'
   * ends it with an error; no context records it (there is none).
   */
  utlbDisabled: UntranslatedPolicy;
  /**
   * A transaction whose micro-TLB selects a context with IMCTR.MMUEN 0 (in the root, or in the
   * cache IPMMU it came through). Default 'bypass', as a VMSA stage with its MMU off maps flat;
   * 'abort' ends it with an error and no record.
   */
  contextDisabled: UntranslatedPolicy;
  /** Physical address size (R-Car: 40 bits): output addresses and table bases beyond it are faults. */
  paBits: number;
  /** Largest stage-2 input (IPA) size (IPMMU_MAX_P2M_IPA_BITS: 40). */
  ipaBits: number;
  /** This IPMMU's TLB geometry. */
  tlbSets: number;
  tlbWays: number;
}

export interface IpmmuVmsaOptions extends Partial<Omit<IpmmuVmsaParameters, 'layout'>> {
  /** The SoC generation's register layout (default 'gen3'). */
  generation?: 'gen3' | 'gen4';
  /** Context banks, replacing the generation's count. */
  contexts?: number;
  /** Micro-TLBs, replacing the generation's count. */
  utlbs?: number;
}

export const DEFAULT_IPMMU_PARAMETERS: IpmmuVmsaParameters = {
  layout: RCAR_GEN3_LAYOUT,
  utlbDisabled: 'bypass',
  contextDisabled: 'bypass',
  paBits: 40,
  ipaBits: 40,
  tlbSets: 16,
  tlbWays: 4,
};

/** Parameters from options, checked; a bad combination is an IpmmuParameterError. */
export function resolveIpmmuParameters(options: IpmmuVmsaOptions = {}): IpmmuVmsaParameters {
  const base = options.generation === 'gen4' ? RCAR_GEN4_LAYOUT : RCAR_GEN3_LAYOUT;
  const layout: IpmmuRegisterLayout = { ...base, contexts: options.contexts ?? base.contexts, utlbs: options.utlbs ?? base.utlbs };
  const bad = layoutError(layout);
  if (bad !== null) throw new IpmmuParameterError(`IPMMU layout ${layout.generation}: ${bad}`);
  const p: IpmmuVmsaParameters = {
    layout,
    utlbDisabled: options.utlbDisabled ?? DEFAULT_IPMMU_PARAMETERS.utlbDisabled,
    contextDisabled: options.contextDisabled ?? DEFAULT_IPMMU_PARAMETERS.contextDisabled,
    paBits: options.paBits ?? DEFAULT_IPMMU_PARAMETERS.paBits,
    ipaBits: options.ipaBits ?? DEFAULT_IPMMU_PARAMETERS.ipaBits,
    tlbSets: options.tlbSets ?? DEFAULT_IPMMU_PARAMETERS.tlbSets,
    tlbWays: options.tlbWays ?? DEFAULT_IPMMU_PARAMETERS.tlbWays,
  };
  for (const [name, value] of [['utlbDisabled', p.utlbDisabled], ['contextDisabled', p.contextDisabled]] as const) {
    if (value !== 'bypass' && value !== 'abort') throw new IpmmuParameterError(`${name} must be 'bypass' or 'abort', not ${String(value)}`);
  }
  if (![32, 36, 40, 42, 44, 48].includes(p.paBits)) throw new IpmmuParameterError(`paBits ${p.paBits} is not a VMSA physical address size (32, 36, 40, 42, 44 or 48)`);
  if (!Number.isInteger(p.ipaBits) || p.ipaBits < 25 || p.ipaBits > 48) throw new IpmmuParameterError(`ipaBits ${p.ipaBits} is outside 25..48`);
  if (!Number.isInteger(p.tlbSets) || p.tlbSets < 1 || (p.tlbSets & (p.tlbSets - 1)) !== 0) throw new IpmmuParameterError(`tlbSets ${p.tlbSets} is not a power of two`);
  if (!Number.isInteger(p.tlbWays) || p.tlbWays < 1 || p.tlbWays > 64) throw new IpmmuParameterError(`tlbWays ${p.tlbWays} is outside 1..64`);
  return p;
}
