// The action keys of the two kinds of scenario, in one module that imports nothing at run time,
// so that each schema can name the other's steps in its messages.

import type { StepKind } from './schema.js';
import type { XenStepKind } from './xen/schema.js';

/** A kernel scenario's steps. */
export const STEP_KINDS: readonly StepKind[] = ['alloc', 'write', 'domain', 'attach', 'detach', 'map', 'unmap', 'dma-map', 'dma-unmap', 'dma', 'advance', 'workload', 'expect'];

/** A hypervisor scenario's steps (`hypervisor: xen`). */
export const XEN_STEP_KINDS: readonly XenStepKind[] = ['guest', 'assign', 'deassign', 'alloc', 'write', 'populate', 'protect', 'release', 'dma', 'workload', 'destroy', 'reboot', 'advance', 'expect'];
