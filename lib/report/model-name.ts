// The model's short name for titles: a report is read away from the machine that ran
// it, where an absolute path says little (the full path stays in the settings table).
import type { SweepResults } from './types';

/** The base name of a model path: folder name, or file name without .gguf/.bin. */
export function modelBaseName(modelPath: string): string {
  const base = modelPath.replace(/[\\/]+$/, '').split(/[\\/]/).pop() ?? '';
  return base.replace(/\.(gguf|bin)$/i, '') || modelPath;
}

/** settings.model_name when the sweep recorded one, else the base name of `model`. */
export function modelName(r: Pick<SweepResults, 'model' | 'settings'>): string {
  const recorded = r.settings?.model_name;
  return typeof recorded === 'string' && recorded.trim() !== '' ? recorded.trim() : modelBaseName(r.model);
}
