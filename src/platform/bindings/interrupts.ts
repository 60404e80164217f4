// A node's interrupts (Devicetree Specification 2.4): `interrupts-extended` (each specifier
// with its own controller) or `interrupts` (specifiers for the interrupt parent, found through
// `interrupt-parent` or the tree parent), named by `interrupt-names`.

import type { DtNode } from '../../formats/devicetree/tree.js';
import { hex, readCell, readCells, readStrings, type AnalysisContext } from './cells.js';

export interface InterruptInfo {
  /** The entry of `interrupt-names` at the same index, or null. */
  name: string | null;
  /** Path of the interrupt controller (or nexus) the specifier is for; null if unresolved. */
  controller: string | null;
  /** The specifier cells. */
  cells: number[];
  /** The specifier in words for the controllers this project knows ("SPI 74 (INTID 106), edge rising"). */
  description: string;
}

/** The interrupt parent of `node`: follow `interrupt-parent`, else the tree parent, until a node
 *  with `#interrupt-cells` (as Linux's of_irq_find_parent does). */
export function interruptParent(node: DtNode, ctx: AnalysisContext): DtNode | null {
  let cur = node;
  for (let guard = 0; guard < 256; guard++) {
    const ph = readCell(cur, 'interrupt-parent', ctx.warnings);
    let next: DtNode | null;
    if (ph !== undefined) {
      next = ctx.phandles.get(ph) ?? null;
      if (next === null) {
        ctx.warnings.add('dangling-phandle', cur, 'interrupt-parent', `interrupt-parent refers to phandle ${hex(ph)}, which no node has`);
        return null;
      }
    } else {
      next = cur.parent;
    }
    if (next === null) return null;
    if (next.has('#interrupt-cells')) return next;
    cur = next;
  }
  return null;
}

/** Linux IRQ_TYPE_* trigger flags, which GIC, APLIC and many other bindings use. */
function trigger(flags: number): string {
  switch (flags & 0xf) {
    case 1:
      return 'edge rising';
    case 2:
      return 'edge falling';
    case 3:
      return 'both edges';
    case 4:
      return 'level high';
    case 8:
      return 'level low';
    default:
      return `flags ${hex(flags)}`;
  }
}

function describe(controller: DtNode | null, cells: number[]): string {
  const compat = controller === null ? [] : (readStrings(controller, 'compatible') ?? []);
  const raw = `<${cells.map((c) => hex(c)).join(' ')}>`;
  if (compat.some((c) => /gic/.test(c)) && cells.length >= 3) {
    // GIC binding: type (0 SPI, 1 PPI), number within the type, trigger flags.
    if (cells[0] === 0) return `SPI ${cells[1]} (INTID ${cells[1] + 32}), ${trigger(cells[2])}`;
    if (cells[0] === 1) return `PPI ${cells[1]} (INTID ${cells[1] + 16}), ${trigger(cells[2])}`;
    return raw;
  }
  if (compat.some((c) => c === 'riscv,aplic') && cells.length === 2) return `source ${cells[0]}, ${trigger(cells[1])}`;
  if (compat.some((c) => c === 'riscv,plic0' || c === 'sifive,plic-1.0.0') && cells.length === 1) return `source ${cells[0]}`;
  return raw;
}

/** Splits `cells` into specifiers of `#interrupt-cells` of `controller`, warning on a remainder. */
function specifiers(node: DtNode, property: string, controller: DtNode, cells: number[], ctx: AnalysisContext): number[][] {
  const n = readCell(controller, '#interrupt-cells', ctx.warnings);
  if (n === undefined || n === 0) {
    if (cells.length > 0) {
      ctx.warnings.add('interrupt-cells-mismatch', node, property, `the interrupt parent ${controller.path} has no usable #interrupt-cells`);
    }
    return [];
  }
  if (cells.length % n !== 0) {
    ctx.warnings.add(
      'interrupt-cells-mismatch',
      node,
      property,
      `${property} has ${cells.length} cells, not a multiple of #interrupt-cells (${n}) of ${controller.path}`,
    );
  }
  const out: number[][] = [];
  for (let i = 0; i + n <= cells.length; i += n) out.push(cells.slice(i, i + n));
  return out;
}

/** The interrupts of `node`, named when `interrupt-names` says so. */
export function interruptsOf(node: DtNode, ctx: AnalysisContext): InterruptInfo[] {
  const found: { controller: DtNode | null; cells: number[] }[] = [];
  const extended = readCells(node, 'interrupts-extended', ctx.warnings);
  if (extended !== undefined) {
    // Extended specifiers name their controller, so each can have its own #interrupt-cells.
    for (let i = 0; i < extended.length; ) {
      const controller = ctx.phandles.get(extended[i]);
      if (controller === undefined) {
        ctx.warnings.add('dangling-phandle', node, 'interrupts-extended', `interrupts-extended refers to phandle ${hex(extended[i])}, which no node has`);
        break;
      }
      const n = readCell(controller, '#interrupt-cells', ctx.warnings);
      if (n === undefined || i + 1 + n > extended.length) {
        ctx.warnings.add(
          'interrupt-cells-mismatch',
          node,
          'interrupts-extended',
          n === undefined
            ? `interrupts-extended refers to ${controller.path}, which has no #interrupt-cells`
            : `interrupts-extended ends inside the specifier for ${controller.path} (#interrupt-cells = ${n})`,
        );
        break;
      }
      found.push({ controller, cells: extended.slice(i + 1, i + 1 + n) });
      i += 1 + n;
    }
  } else {
    const cells = readCells(node, 'interrupts', ctx.warnings);
    if (cells === undefined) return [];
    const controller = interruptParent(node, ctx);
    if (controller === null) {
      ctx.warnings.add('interrupt-cells-mismatch', node, 'interrupts', 'interrupts has no interrupt parent (no interrupt-parent here or above)');
      return [];
    }
    for (const s of specifiers(node, 'interrupts', controller, cells, ctx)) found.push({ controller, cells: s });
  }
  const names = readStrings(node, 'interrupt-names');
  if (names !== undefined && names.length !== found.length) {
    ctx.warnings.add(
      'interrupt-names-mismatch',
      node,
      'interrupt-names',
      `interrupt-names has ${names.length} ${names.length === 1 ? 'name' : 'names'} for ${found.length} ${found.length === 1 ? 'interrupt' : 'interrupts'}`,
    );
  }
  return found.map((f, i) => ({
    name: names?.[i] ?? null,
    controller: f.controller?.path ?? null,
    cells: f.cells,
    description: describe(f.controller, f.cells),
  }));
}
