// `iommu-lab explain` as text: the request, what the caches did, every memory read of the
// translation with its decoded fields, and the result or the fault with its reason.

import type { Explanation } from '../scenario/explain/index.js';
import { hex } from '../sim/u64.js';

function cacheWords(e: Explanation): string {
  const used = e.caches.filter((c) => c.outcome !== 'not used');
  return used.length === 0 ? 'not consulted' : used.map((c) => `${c.name} ${c.outcome === 'hit' ? `hit (no ${c.onMiss})` : `miss (${c.onMiss})`}`).join(', ');
}

export function formatExplanation(e: Explanation): string {
  let out = `${e.access} of IOVA ${hex(e.iova)}${e.pasid === null ? '' : ` with PASID ${e.pasid}`} by ${e.device} (device id ${hex(e.deviceId)}) at the ${e.architecture} ${e.iommu} (mode ${e.iommuMode})\n`;
  if (e.coldCommands.length > 0) out += `cold: the driver first emptied the IOMMU's caches: ${e.coldCommands.join(', ')}\n`;
  out += `caches: ${cacheWords(e)}\n`;
  const reads = e.accesses.filter((a) => !a.write).length;
  if (e.notes !== undefined) {
    out += 'memory reads: none (the IOMMU keeps its translations in the device)\n';
    out += `lookups:\n${e.notes.map((n) => `  - ${n}\n`).join('')}`;
  } else if (e.accesses.length === 0) {
    out += 'memory reads: none, everything came from the caches\n';
  } else {
    out += `memory accesses (${reads} read${reads === 1 ? '' : 's'}${e.accesses.length > reads ? `, ${e.accesses.length - reads} write${e.accesses.length - reads === 1 ? '' : 's'}` : ''}):\n`;
    const width = Math.max(...e.accesses.map((a) => a.what.length));
    e.accesses.forEach((a, i) => {
      const value = hex(a.value, a.size * 2);
      out += `  ${String(i + 1).padStart(2)}. ${a.write ? 'write' : 'read '} ${a.what.padEnd(width)}  ${hex(a.address).padStart(12)} = ${value}\n`;
      const fields = a.fields.map((f) => `${f.name}=${/PPN|ADDR|Ptr|TTB|MAIR|mask|pattern/.test(f.name) ? hex(f.value) : String(f.value)}`).join(' ');
      const line = `${fields}${a.meaning === '' ? '' : `${fields === '' ? '' : ' '}-> ${a.meaning}`}`;
      if (line !== '') out += `      ${line}\n`;
    });
  }
  const r = e.result;
  if (r.ok) {
    out += `result: translated to ${hex(r.physical)} (in a ${formatPage(r.pageSize)} translation), permissions: ${r.permissions}\n`;
  } else {
    out += `result: fault, cause ${r.cause} (${r.causeName})\n`;
    out += `why: ${r.why}\n`;
    if (e.reported !== null) out += `the fault record reached the driver, which reported it to the kernel (${e.reported.device ?? 'unknown device'}, cause ${e.reported.cause})\n`;
  }
  return out;
}

function formatPage(bytes: bigint): string {
  return bytes >= 1n << 30n ? `${bytes >> 30n} GiB` : bytes >= 1n << 20n ? `${bytes >> 20n} MiB` : `${bytes >> 10n} KiB`;
}
