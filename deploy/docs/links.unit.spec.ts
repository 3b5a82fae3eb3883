import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { repositoryRoot } from './configuration';

const ROOT = repositoryRoot();

/** Pages other changes are adding: links to them may land first. */
const IN_FLIGHT = new Set(['docs/relay-failover.md', 'docs/kubernetes.md', 'docs/tracing.md', 'docs/data-lifecycle.md']);

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return name.endsWith('.md') ? [path] : [];
  });
}

/** The text outside fenced code blocks and inline code, where a link is a link. */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** Link targets of [text](target), images included. */
export function linkTargets(text: string): string[] {
  return [...prose(text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!);
}

/** GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
export function headingAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of prose(text).matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const base = heading!
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Every relative link of a page that leads nowhere: a missing file, or a heading its page does not have. */
function brokenLinks(file: string, text = readFileSync(file, 'utf8')): string[] {
  return linkTargets(text).flatMap((target) => {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return [];
    const [path = '', anchor] = target.split('#');
    if (path === '') return anchor === undefined || headingAnchors(text).has(anchor) ? [] : [`${target} (no heading here)`];
    const resolved = resolve(dirname(file), decodeURIComponent(path));
    const repoPath = relative(ROOT, resolved);
    if (!existsSync(resolved)) return IN_FLIGHT.has(repoPath) ? [] : [`${target} (no file ${repoPath})`];
    if (anchor === undefined || !resolved.endsWith('.md')) return [];
    return headingAnchors(readFileSync(resolved, 'utf8')).has(anchor) ? [] : [`${target} (no heading #${anchor} in ${repoPath})`];
  });
}

describe('documentation links', () => {
  const pages = [join(ROOT, 'README.md'), ...markdownFiles(join(ROOT, 'docs'))];

  it.each(pages.map((p) => [relative(ROOT, p), p]))('%s links only to files and headings that exist', (_name, page) => {
    expect(brokenLinks(page)).toEqual([]);
  });

  it('are found in prose, not in code', () => {
    expect(linkTargets('[a](x.md) `[b](y.md)`\n```\n[c](z.md)\n```\n![d](e.svg "title")')).toEqual(['x.md', 'e.svg']);
  });

  it('to a heading use GitHub anchors', () => {
    const anchors = headingAnchors(
      '# PostgreSQL: TLS, roles and migrations\n## Overload from plain clients, through the edge\n## A\n## A',
    );
    expect([...anchors]).toEqual([
      'postgresql-tls-roles-and-migrations',
      'overload-from-plain-clients-through-the-edge',
      'a',
      'a-1',
    ]);
  });

  it('to a missing file or heading are reported, to a page in flight are not', () => {
    const page = join(ROOT, 'docs/example.md');
    const text = '[a](no-such-page.md) [b](api.md#no-such-heading) [c](relay-failover.md) [d](api.md#the-api) [e](#here)\n# Here';
    expect(brokenLinks(page, text)).toEqual([
      'no-such-page.md (no file docs/no-such-page.md)',
      'api.md#no-such-heading (no heading #no-such-heading in docs/api.md)',
    ]);
  });
});
