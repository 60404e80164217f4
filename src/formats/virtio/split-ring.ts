// The split virtqueue in guest memory (VIRTIO 1.3 section 2.7 "Split Virtqueues"): a
// descriptor table (Descriptor Area), an available ring written by the driver (Driver Area)
// and a used ring written by the device (Device Area). All fields are little-endian.

/** Largest queue size (the highest power of two that a 16-bit index can tell full from empty). */
export const MAX_QUEUE_SIZE = 32768;

/** struct virtq_desc (2.7.5 "The Virtqueue Descriptor Table"): 16 bytes. */
export const DESC_SIZE = 16;
export const Desc = {
  /** le64 guest-physical (bus) address. */
  ADDR: 0,
  /** le32 length in bytes. */
  LEN: 8,
  /** le16 flags. */
  FLAGS: 12,
  /** le16 index of the next descriptor when NEXT is set. */
  NEXT: 14,
} as const;

export const DescFlags = {
  /** The chain continues with `next`. */
  NEXT: 1,
  /** Device write-only (otherwise device read-only). */
  WRITE: 2,
  /** The buffer is a table of descriptors (VIRTIO_F_INDIRECT_DESC). */
  INDIRECT: 4,
} as const;

/** struct virtq_avail (2.7.6 "The Virtqueue Available Ring"). */
export const Avail = {
  FLAGS: 0,
  IDX: 2,
  RING: 4,
} as const;

/** Available ring flags: the driver does not want used buffer notifications (without EVENT_IDX). */
export const AVAIL_F_NO_INTERRUPT = 1;

/** struct virtq_used (2.7.8 "The Virtqueue Used Ring"); each element is {le32 id, le32 len}. */
export const Used = {
  FLAGS: 0,
  IDX: 2,
  RING: 4,
} as const;
export const USED_ELEM_SIZE = 8;

/** Used ring flags: the device does not want available buffer notifications (without EVENT_IDX). */
export const USED_F_NO_NOTIFY = 1;

/** Minimum alignment of each part (2.7 table "Virtqueue Part / Alignment / Size"). */
export const RingAlign = { DESC: 16, AVAIL: 2, USED: 4 } as const;

export function descTableSize(queueSize: number): number {
  return DESC_SIZE * queueSize;
}

/** flags, idx, ring[queueSize], used_event. */
export function availRingSize(queueSize: number): number {
  return 6 + 2 * queueSize;
}

/** flags, idx, ring[queueSize], avail_event. */
export function usedRingSize(queueSize: number): number {
  return 6 + USED_ELEM_SIZE * queueSize;
}

/** Offset of avail->ring[slot]. */
export function availRingEntry(slot: number): number {
  return Avail.RING + 2 * slot;
}

/** Offset of used->ring[slot]. */
export function usedRingEntry(slot: number): number {
  return Used.RING + USED_ELEM_SIZE * slot;
}

/** Offset of used_event, after the available ring (VIRTIO_F_EVENT_IDX). */
export function usedEventOffset(queueSize: number): number {
  return Avail.RING + 2 * queueSize;
}

/** Offset of avail_event, after the used ring (VIRTIO_F_EVENT_IDX). */
export function availEventOffset(queueSize: number): number {
  return Used.RING + USED_ELEM_SIZE * queueSize;
}

/** Whether `size` is a valid split-queue size: a power of two from 1 to 32768. */
export function validQueueSize(size: number): boolean {
  return Number.isInteger(size) && size >= 1 && size <= MAX_QUEUE_SIZE && (size & (size - 1)) === 0;
}

/**
 * The event-index rule (2.7.7 "Used Buffer Notification Suppression", 2.7.10 "Available
 * Buffer Notification Suppression"): after moving a ring index from `oldIdx` to `newIdx`
 * (16-bit, free running), a notification is due when one of the entries just published had
 * the index `eventIdx`, i.e. eventIdx is in [oldIdx, newIdx) modulo 2^16.
 */
export function needsEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}
