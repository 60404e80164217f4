// Flattened device tree (DTB) reader and writer, Devicetree Specification v0.4 chapter 5.
export * from './constants.js';
export { DtbError } from './errors.js';
export { readDtb, readDtbHeader, type DtbHeader, type ReadDtbOptions } from './reader.js';
export { writeDtb, type WriteDtbOptions } from './writer.js';
export { readDtbFile, writeDtbFile } from './files.js';
