// The root IPMMU's fault interrupt (Xen ipmmu_irq / ipmmu_domain_irq): the interrupt does not
// say which context faulted, so every context is checked (in use or not: a pending error would
// keep the level-triggered line high); one with an error in IMSTR has its address read (IMELAR,
// IMEUAR) before IMSTR is cleared by writing 0 (which clears the address too), and the fault is
// logged and reported with the context's domain and the devices of that domain behind this
// root: the IPMMU records no requester, so those are the ones the transaction can have come from.

import { ContextReg, describeImstr, Imstr } from '../../../formats/ipmmu-vmsa/index.js';
import type { Xen } from '../xen.js';
import type { IpmmuDevice } from './ipmmu.js';
import type { IpmmuMaster } from './ops.js';

export function handleIpmmuInterrupt(xen: Xen, root: IpmmuDevice): void {
  for (let context = 0; context < root.contexts.length; context++) {
    const status = root.ctxRead(context, ContextReg.IMSTR);
    if ((status & Imstr.ERRORS) === 0) continue;
    const address = (BigInt(root.ctxRead(context, ContextReg.IMEUAR)) << 32n) | BigInt(root.ctxRead(context, ContextReg.IMELAR));
    root.ctxWrite(context, ContextReg.IMSTR, 0);
    const domain = root.contexts[context]?.domain ?? null;
    const devices =
      domain === null
        ? []
        : [...domain.devices].filter((dev) => (dev.iommuPriv as IpmmuMaster | null)?.mmu.root === root).map((dev) => dev.path);
    const kinds = describeImstr(status);
    const who = domain === null ? `context ${context} (no domain)` : `${domain.label}`;
    const culprits = devices.length === 0 ? 'no device' : devices.length === 1 ? `device ${devices[0]}` : `one of ${devices.join(', ')}`;
    xen.log.error('ipmmu', `${root.path}: ${who}: ${kinds.join(', ')} @0x${address.toString(16)} (IMSTR 0x${status.toString(16).padStart(8, '0')}, context ${context}, ${culprits})`);
    xen.iommu.reportFault({ time: xen.clock.now, iommu: root.path, context, domain, devices, address, status, kinds });
  }
}
