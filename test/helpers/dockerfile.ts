/**
 * A small Dockerfile reader for the deployment tests (no hadolint, no Docker engine here):
 * instructions with their line, `\` continuations joined, comment lines dropped (Dockerfile
 * reference, "Format": a comment line inside a continuation is removed too), grouped into
 * build stages by FROM. Enough to check what the final stage runs as, its HEALTHCHECK and
 * CMD, and where COPY reads from; not a full parser (no heredocs, no variable expansion).
 */

export interface Instruction {
  /** Upper case: FROM, RUN, COPY, USER, HEALTHCHECK, CMD… */
  readonly keyword: string;
  /** The rest of the instruction, continuations joined with a space. */
  readonly args: string;
  /** 1-based line where the instruction starts. */
  readonly line: number;
}

export interface Stage {
  /** The `AS name` of its FROM, or null. */
  readonly name: string | null;
  readonly from: string;
  readonly instructions: readonly Instruction[];
}

export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending: { keyword: string; parts: string[]; line: number } | null = null;
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/\r$/, '');
    const trimmed = line.trim();
    if (trimmed.startsWith('#') || (trimmed === '' && pending === null)) return;
    const continues = /\\\s*$/.test(line);
    const content = continues ? line.replace(/\\\s*$/, '') : line;
    if (pending === null) {
      const match = /^\s*([A-Za-z]+)\s*(.*)$/.exec(content);
      if (match === null) throw new Error(`Dockerfile line ${index + 1}: not an instruction: ${line}`);
      pending = { keyword: (match[1] as string).toUpperCase(), parts: [(match[2] as string).trim()], line: index + 1 };
    } else {
      pending.parts.push(content.trim());
    }
    if (!continues) {
      instructions.push({ keyword: pending.keyword, args: pending.parts.filter((part) => part !== '').join(' '), line: pending.line });
      pending = null;
    }
  });
  if (pending !== null) throw new Error(`Dockerfile ends inside a continued instruction (line ${(pending as { line: number }).line})`);
  return instructions;
}

/** Instructions grouped by FROM; instructions before the first FROM (ARG) are not in any stage. */
export function stagesOf(instructions: readonly Instruction[]): Stage[] {
  const stages: { name: string | null; from: string; instructions: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (match === null) throw new Error(`Dockerfile line ${instruction.line}: FROM ${instruction.args} not understood`);
      stages.push({ from: match[1] as string, name: match[2] ?? null, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

/** The JSON (exec) form of CMD, ENTRYPOINT or HEALTHCHECK CMD as an array; null for the shell form. */
export function execForm(args: string): string[] | null {
  if (!args.startsWith('[')) return null;
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) throw new Error(`not a JSON array of strings: ${args}`);
  return parsed as string[];
}

/** Whether a USER argument (`name`, `uid`, `name:group`, `uid:gid`) is root. */
export function isRootUser(args: string): boolean {
  const user = args.split(':')[0]?.trim() ?? '';
  return user === '' || user === 'root' || user === '0';
}

/**
 * COPY and ADD sources read from the build context (not `--from=` another stage or an
 * image): the words after the flags, all but the last (the destination).
 */
export function contextSources(instruction: Instruction): string[] {
  if (instruction.keyword !== 'COPY' && instruction.keyword !== 'ADD') return [];
  const words = execForm(instruction.args) ?? instruction.args.split(/\s+/);
  if (words.some((word) => word.startsWith('--from='))) return [];
  const paths = words.filter((word) => !word.startsWith('--'));
  return paths.slice(0, -1);
}
