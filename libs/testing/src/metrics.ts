/**
 * The value of the first sample of metric `name` in Prometheus text format
 * (`name{labels} value` or `name value`); NaN when there is none.
 */
export function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
}
