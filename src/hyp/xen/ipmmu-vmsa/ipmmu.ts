// The IPMMU driver's record of one IPMMU (struct ipmmu_vmsa_device): its registers, its root,
// and, in a root, which contexts are in use and by whom; in every IPMMU, how many masters use
// each micro-TLB (several masters may share one). Registers are reached only through the
// mapped register window.

import type { DtNode } from '../../../formats/devicetree/tree.js';
import { contextRegisterOffset, controlRegisterOffset, imuasidOffset, imuctrOffset, ttselMask, Imuctr, type IpmmuRegisterLayout } from '../../../formats/ipmmu-vmsa/index.js';
import type { IoMem } from '../../../os/kernel/iomem.js';
import type { XenDomain } from '../domain/domain.js';

/** A context of a root in use: by a domain, or reserved (context 0). */
export interface ContextOwner {
  domain: XenDomain | null;
}

export class IpmmuDevice {
  readonly root: IpmmuDevice;
  /** Root only: the owner of each context in use. */
  readonly contexts: (ContextOwner | null)[];
  /** Masters using each micro-TLB. */
  readonly utlbUsers: Uint16Array;

  constructor(
    readonly node: DtNode,
    private readonly io: IoMem,
    readonly layout: IpmmuRegisterLayout,
    root: IpmmuDevice | null,
  ) {
    this.root = root ?? this;
    this.contexts = new Array<ContextOwner | null>(layout.contexts).fill(null);
    this.utlbUsers = new Uint16Array(layout.utlbs);
  }

  get isRoot(): boolean {
    return this.root === this;
  }

  get path(): string {
    return this.node.path;
  }

  read(offset: number): number {
    return this.io.read32(offset) >>> 0;
  }

  write(offset: number, value: number): void {
    this.io.write32(offset, value >>> 0);
  }

  ctxRead(context: number, reg: number): number {
    return this.read(contextRegisterOffset(this.layout, context, reg));
  }

  ctxWrite(context: number, reg: number, value: number): void {
    this.write(contextRegisterOffset(this.layout, context, reg), value);
  }

  controlRead(reg: number): number {
    return this.read(controlRegisterOffset(this.layout, reg));
  }

  controlWrite(reg: number, value: number): void {
    this.write(controlRegisterOffset(this.layout, reg), value);
  }

  imuctr(utlb: number): number {
    return this.read(imuctrOffset(this.layout, utlb));
  }

  setImuctr(utlb: number, value: number): void {
    this.write(imuctrOffset(this.layout, utlb), value);
  }

  setImuasid(utlb: number, value: number): void {
    this.write(imuasidOffset(this.layout, utlb), value);
  }

  /** The context an IMUCTR value selects. */
  ttsel(imuctr: number): number {
    return (imuctr & ttselMask(this.layout)) >>> Imuctr.TTSEL_SHIFT;
  }

  /** Root: the lowest free context, now owned by `owner`; -1 when every context is taken (-EBUSY). */
  allocContext(owner: ContextOwner): number {
    const i = this.contexts.indexOf(null);
    if (i >= 0) this.contexts[i] = owner;
    return i;
  }

  freeContext(context: number): void {
    this.contexts[context] = null;
  }
}
