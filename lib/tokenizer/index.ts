// Tokenizers: llama2.c tok*.bin, GGUF SentencePiece vocabularies, HF tokenizer.json.
export type { Tokenizer, TokenizerKind, EncodeOptions, HFTokenizerLibrary } from './types';
export { loadTokenizer, NoTokenizerError, type LoadTokenizerOptions } from './load';
export { tokenizerArtifacts, type TokenizerArtifactsOptions } from './artifacts';
export { runTokenize, defaultBos, type RunTokenizeOptions } from './cli';
export { SpmTokenizer } from './spm-tokenizer';
export { HFTokenizerAdapter } from './hf';
export { checkTokenizerIds } from './hf-ids';
export { TokenizerFileError, readLlama2cTokenizer, parseLlama2cTokenizer } from './llama2c-file';
