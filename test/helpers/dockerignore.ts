/**
 * Which paths of the build context a .dockerignore lets through, with Docker's rules
 * (Dockerfile reference, ".dockerignore file"; moby/patternmatcher): patterns are
 * cleaned paths relative to the context, `*` and `?` stay within one path segment, `**`
 * matches any number of segments, `!` re-includes, and the last pattern that matches a
 * path or one of its parent directories decides. Comment and blank lines are ignored.
 */

interface Pattern {
  readonly exclusion: boolean;
  readonly regex: RegExp;
}

function clean(path: string): string {
  return path.replace(/^\/+/, '').replace(/\/+$/, '').replace(/\/+/g, '/').replace(/^\.\//, '');
}

function toRegex(pattern: string): RegExp {
  let source = '';
  for (let index = 0; index < pattern.length; index += 1) {
    const char = pattern[index] as string;
    if (char === '*' && pattern[index + 1] === '*') {
      // `**/` also matches no directory at all.
      if (pattern[index + 2] === '/') {
        source += '(?:.*/)?';
        index += 2;
      } else {
        source += '.*';
        index += 1;
      }
    } else if (char === '*') {
      source += '[^/]*';
    } else if (char === '?') {
      source += '[^/]';
    } else {
      source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}

export function parseDockerignore(text: string): Pattern[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const exclusion = !line.startsWith('!');
      return { exclusion, regex: toRegex(clean(exclusion ? line : line.slice(1).trim())) };
    });
}

/** Whether `path` (relative to the context) is sent to the builder. */
export function isIncluded(patterns: readonly Pattern[], path: string): boolean {
  const cleaned = clean(path);
  const segments = cleaned.split('/');
  const candidates = segments.map((_, index) => segments.slice(0, index + 1).join('/'));
  let excluded = false;
  for (const pattern of patterns) {
    if (candidates.some((candidate) => pattern.regex.test(candidate))) excluded = pattern.exclusion;
  }
  return !excluded;
}
