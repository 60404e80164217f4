// Interrupt handling: interrupt controllers register domains that turn device-tree interrupt
// specifiers into handlers; the kernel dispatches at safe points (never inside a device
// access), the way a CPU takes interrupts between instructions.

import { phandleSpecifiers, type PhandleSpecifier } from '../../formats/devicetree/specifiers.js';
import type { DeviceTree, DtNode } from '../../formats/devicetree/tree.js';
import type { Hart } from '../../sim/hart.js';
import type { KernelLog } from './log.js';

export type IrqHandler = () => void;

/** An interrupt controller driver's view of its inputs. */
export interface IrqDomain {
  readonly name: string;
  readonly node: DtNode;
  /** Connects the input described by `specifier` (its #interrupt-cells cells) to `handler`. */
  request(specifier: number[], handler: IrqHandler): void;
  /** Handles everything pending on this controller (claim, run handlers, complete). */
  dispatch(): void;
}

export class IrqError extends Error {}

export interface MsiVector {
  /** Where the device writes: the interrupt file's doorbell. */
  address: bigint;
  /** What it writes: the interrupt identity. */
  data: number;
}

export class InterruptSubsystem {
  private readonly domains = new Map<DtNode, IrqDomain>();
  private external: IrqDomain | null = null;
  private readonly msiHandlers = new Map<number, IrqHandler>();
  private msiDoorbell: bigint | null = null;
  private nextMsi = 1;
  private maxMsi = 0;
  private dispatching = false;
  /** Interrupts taken, by source. */
  readonly counts = new Map<string, number>();

  constructor(
    private readonly dt: DeviceTree,
    private readonly hart: Hart,
    private readonly log: KernelLog,
  ) {}

  /** An interrupt-controller driver registers the domain of its node. */
  registerDomain(domain: IrqDomain, drivesExternalInterrupt: boolean): void {
    this.domains.set(domain.node, domain);
    if (drivesExternalInterrupt) this.external = domain;
  }

  /** The interrupt-file driver tells where MSIs go and how many identities exist. */
  registerMsiTarget(doorbell: bigint, identities: number): void {
    this.msiDoorbell = doorbell;
    this.maxMsi = identities;
  }

  /**
   * Connects interrupt `index` of `node` (from `interrupts-extended`, or `interrupts` with
   * the nearest `interrupt-parent`) to `handler`. Returns false if the controller has not
   * probed yet (the caller should defer).
   */
  request(node: DtNode, index: number, handler: IrqHandler, name = node.path): boolean {
    const spec = this.specifier(node, index);
    const domain = this.domains.get(spec.controller);
    if (domain === undefined) return false;
    domain.request(spec.cells, this.counted(name, handler));
    return true;
  }

  /** How many interrupts `node` has (entries of interrupts-extended, or of interrupts). */
  count(node: DtNode): number {
    const extended = this.extended(node);
    if (extended !== undefined) return extended.length;
    const cells = node.u32s('interrupts');
    if (cells === undefined) return 0;
    return Math.floor(cells.length / this.interruptCells(this.interruptParent(node)));
  }

  /** Allocates an MSI identity for `handler`; null when the platform has no interrupt file. */
  allocMsi(handler: IrqHandler, name: string): MsiVector | null {
    if (this.msiDoorbell === null) return null;
    if (this.nextMsi > this.maxMsi) throw new IrqError(`out of MSI identities (${this.maxMsi})`);
    const data = this.nextMsi++;
    this.msiHandlers.set(data, this.counted(name, handler));
    return { address: this.msiDoorbell, data };
  }

  get hasMsi(): boolean {
    return this.msiDoorbell !== null;
  }

  /**
   * Takes pending interrupts: the external pin (wired, through the controller's claim) and
   * the interrupt file (MSIs). Runs until nothing is pending; returns how many were handled.
   */
  poll(): number {
    if (this.dispatching) return 0;
    this.dispatching = true;
    let handled = 0;
    try {
      for (let round = 0; round < 10_000; round++) {
        let progress = false;
        const file = this.hart.interruptFile;
        if (file !== null && file.line.asserted) {
          const id = file.claimTop();
          if (id !== 0) {
            progress = true;
            handled++;
            const h = this.msiHandlers.get(id);
            if (h !== undefined) h();
            else this.log.warn('irq', `spurious MSI identity ${id}`);
          }
        }
        if (this.hart.externalInterrupt.asserted && this.external !== null) {
          this.external.dispatch();
          progress = true;
          handled++;
        }
        if (!progress) return handled;
      }
      this.log.error('irq', 'interrupt storm: an interrupt stays pending after 10000 dispatches');
      return handled;
    } finally {
      this.dispatching = false;
    }
  }

  private counted(name: string, handler: IrqHandler): IrqHandler {
    return () => {
      this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
      handler();
    };
  }

  /** Resolves interrupt `index` of `node` to (controller node, specifier cells). */
  private specifier(node: DtNode, index: number): { controller: DtNode; cells: number[] } {
    const extended = this.extended(node);
    if (extended !== undefined) {
      const spec = extended[index];
      if (spec === undefined) throw new IrqError(`${node.path}: no interrupt ${index} in interrupts-extended`);
      return { controller: spec.target, cells: spec.args };
    }
    const cells = node.u32s('interrupts');
    if (cells === undefined) throw new IrqError(`${node.path}: has no interrupts`);
    const ctrl = this.interruptParent(node);
    const count = this.interruptCells(ctrl);
    if ((index + 1) * count > cells.length) throw new IrqError(`${node.path}: no interrupt ${index} in interrupts`);
    return { controller: ctrl, cells: cells.slice(index * count, (index + 1) * count) };
  }

  private extended(node: DtNode): PhandleSpecifier[] | undefined {
    return phandleSpecifiers(this.dt, node, 'interrupts-extended', '#interrupt-cells', (m) => new IrqError(m));
  }

  private interruptParent(node: DtNode): DtNode {
    for (let n: DtNode | null = node; n !== null; n = n.parent) {
      const ph = n.u32('interrupt-parent');
      if (ph !== undefined) {
        const ctrl = this.dt.byPhandle(ph);
        if (ctrl === undefined) throw new IrqError(`${n.path}: interrupt-parent names unknown phandle ${ph}`);
        return ctrl;
      }
    }
    throw new IrqError(`${node.path}: no interrupt-parent`);
  }

  private interruptCells(ctrl: DtNode): number {
    const n = ctrl.u32('#interrupt-cells');
    if (n === undefined) throw new IrqError(`${ctrl.path}: missing #interrupt-cells`);
    return n;
  }
}
