// Errors the RISC-V IOMMU driver raises: probe failures it cannot express as a probe result,
// and hardware that stops answering (a command-queue fence that never completes).

export class RiscvIommuError extends Error {}
