// Public API of the model formats.
export { detectFormat, loadModel, LoadOptions } from './load';
export { writeHF, WriteHFOptions, WriteOptions } from './write-hf';
export { writeGGUF } from './write-gguf';
export { checkOutput, writeAtomically, OutputError, OutputOptions } from './atomic';
export { runConvert, writeModelAs, ConvertDeps, ConvertOptions, ConvertResult, WriteModelOptions, WriteModelResult, targetFormat } from './convert';
export { summarizeModel, ModelSummary } from './summary';
export { parseGGUF, GGUFFile, GGUFTensorInfo } from './gguf';
