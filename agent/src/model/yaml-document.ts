import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { formatPath, type ConfigIssue } from './site-schema.ts';

export type YamlParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

/**
 * YAML text → a value checked by a zod schema, with every problem reported by path (or by
 * line and column for syntax errors). Shared by the site config and the scenario files,
 * so both answer a bad file the same way. Never throws.
 */
export function parseYamlDocument<T>(text: string, schema: z.ZodType<T>): YamlParseResult<T> {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    return {
      ok: false,
      issues: document.errors.map((error) => ({
        path: error.linePos?.[0] ? `line ${error.linePos[0].line}, column ${error.linePos[0].col}` : '(yaml)',
        message: (error.message.split('\n')[0] ?? error.code).replace(/ at line \d+, column \d+:?$/, ''),
      })),
    };
  }
  const parsed = schema.safeParse(document.toJS());
  if (!parsed.success) {
    return { ok: false, issues: parsed.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })) };
  }
  return { ok: true, value: parsed.data };
}
