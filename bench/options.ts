/** Reads `--name value` options with defaults; benches take a handful each. */
export function option(name: string, def: number): number {
  const raw = textOption(name);
  const value = raw === undefined ? def : Number(raw);
  if (!Number.isFinite(value)) throw new Error(`--${name} wants a number, got ${raw}`);
  return value;
}

/** Reads `--name value` options whose value is text (a path, say); undefined when absent. */
export function textOption(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
