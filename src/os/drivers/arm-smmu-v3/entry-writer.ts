// Updating an STE or a CD that the SMMU may be reading (IHI 0070 3.21.3 "Configuration
// structure update procedure"): the SMMU reads these 64-byte entries with only 64-bit single-
// copy atomicity, so a change spanning several doublewords must never let it see a mix of old
// and new. After Linux's arm_smmu_write_entry, an update is one of:
//  - hitless: at most one doubleword changes a bit the SMMU uses. Bits the current entry
//    ignores are written first, then the one "critical" doubleword, then bits the new entry
//    ignores are cleaned up;
//  - breaking: several used doublewords change. V goes to 0 first, then doublewords 1..7 are
//    written, then doubleword 0 with V = 1;
//  - no change of any used bit: the entry is written as it is.
// Each step that changed memory is followed by `sync` (CMD_CFGI_STE or CMD_CFGI_CD, and a
// CMD_SYNC), so that the SMMU sees the steps in order.

export const ENTRY_DWORDS = 8;

export interface EntryAccess {
  /** The entry's doublewords as they are in memory now. */
  read(): bigint[];
  write(index: number, value: bigint): void;
  /** The bits the SMMU uses in an entry with these contents, per doubleword. */
  used(entry: readonly bigint[]): bigint[];
  /** Invalidates the SMMU's cached copy of the entry and waits for it (CFGI + CMD_SYNC). */
  sync(): void;
}

export type EntryUpdate = 'unchanged' | 'hitless' | 'breaking';

export function writeEntry(access: EntryAccess, target: readonly bigint[]): EntryUpdate {
  const entry = access.read();
  const curUsed = access.used(entry);
  const targetUsed = access.used(target);
  const unusedUpdate: bigint[] = [];
  let diff = 0;
  for (let i = 0; i < ENTRY_DWORDS; i++) {
    // Bits the current entry ignores may take their new values at once.
    unusedUpdate.push((entry[i] & curUsed[i]) | (target[i] & ~curUsed[i]));
    if ((unusedUpdate[i] & targetUsed[i]) !== target[i]) diff |= 1 << i;
  }
  const set = (source: readonly bigint[], start: number, length: number): void => {
    let changed = false;
    for (let i = start; i < start + length; i++) {
      if (entry[i] === source[i]) continue;
      access.write(i, source[i]);
      entry[i] = source[i];
      changed = true;
    }
    if (changed) access.sync();
  };
  const changedDwords = popcount(diff);
  if (changedDwords === 1) {
    const critical = 31 - Math.clz32(diff);
    unusedUpdate[critical] = entry[critical]; // written in the next step anyway
    set(unusedUpdate, 0, ENTRY_DWORDS);
    set(target, critical, 1);
    set(target, 0, ENTRY_DWORDS);
    return 'hitless';
  }
  if (changedDwords > 1) {
    unusedUpdate[0] = 0n; // V = 0: the SMMU stops using the entry
    set(unusedUpdate, 0, 1);
    set(target, 1, ENTRY_DWORDS - 1);
    set(target, 0, 1);
    return 'breaking';
  }
  set(target, 0, ENTRY_DWORDS);
  return 'unchanged';
}

function popcount(x: number): number {
  let n = 0;
  for (let v = x; v !== 0; v &= v - 1) n++;
  return n;
}
