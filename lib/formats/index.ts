// Public API of the model formats.
export { detectFormat, loadModel } from './load';
export type { LoadOptions } from './load';
export { writeHF } from './write-hf';
export type { WriteHFOptions, WriteOptions } from './write-hf';
export { writeGGUF } from './write-gguf';
export { checkOutput, OutputError, writeAtomically } from './atomic';
export type { OutputOptions } from './atomic';
export { runConvert, targetFormat, writeModelAs } from './convert';
export type { ConvertDeps, ConvertOptions, ConvertResult, WriteModelOptions, WriteModelResult } from './convert';
export { summarizeModel } from './summary';
export type { ModelSummary } from './summary';
export { parseGGUF } from './gguf';
export type { GGUFFile, GGUFTensorInfo } from './gguf';
