/** The default branch of an exhaustive switch: a compile error when a variant is left out. */
export function assertNever(value: never): never {
  throw new Error(`unhandled variant: ${JSON.stringify(value)}`);
}
